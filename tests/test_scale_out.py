"""Aqueduct scales out: two web processes, a Celery worker and beat over one PostgreSQL, Redis, S3 and SMTP.

Everything runs as it would in production, as subprocesses on loopback: gunicorn twice (two
processes each), `celery worker`, `celery beat`, moto's S3 server, the fake Stripe API and an
SMTP server that takes 150 ms over each message. A creator and a learner go through the
product with every request going to the other node than the last one, so nothing a request
needs may live in one process. Then the worker is killed (kill -9, its whole process group)
while a 300-person list is being invited, and another one started: everyone still gets
exactly one invitation.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from courseplatform.extensions import db
from courseplatform.models import Enrollment, EnrollmentStatus, Job, JobStatus, Offering, Order, OrderStatus, User

from .fakes.stripe_api import FakeStripe
from .helpers import committed_application, csrf_token_from
from .servers import Fleet, SlowSmtp, free_port

pytestmark = pytest.mark.scale_out

REDIS_URL = os.environ.get("TEST_SCALE_REDIS_URL", "redis://127.0.0.1:6379/12")
BUCKET = "aqueduct-scale-out"
WEBHOOK_SECRET = "whsec_scale_out"
LOGIN_LIMIT = 6
PASSWORD = "calm river stones"
DEMO_VIDEO = Path(__file__).resolve().parents[1] / "courseplatform" / "demo" / "welcome.mp4"
FINISH_LINK = re.compile(r"http://aqueduct\.test(/signup/finish/\S+)")
LIST_SIZE = 300


@dataclass
class Deployment:
    """The running deployment: its two web nodes, its processes, and the services behind them."""

    nodes: list[str]
    fleet: Fleet
    smtp: SlowSmtp
    stripe: FakeStripe
    s3_url: str
    app: object  # a Flask app on the same database, for reading what the processes wrote

    def count(self, statement) -> int:
        with self.app.app_context():
            try:
                return db.session.scalar(statement)
            finally:
                db.session.remove()

    def job(self, job_id: int, *, settled: bool = False) -> Job:
        """The job's row; `settled` waits for any transaction holding it (a killed worker's commit in flight) to end."""
        with self.app.app_context():
            try:
                job = db.session.get(Job, job_id, with_for_update=settled)
                db.session.expunge(job)
                return job
            finally:
                db.session.remove()


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the scale-out test needs Redis at {REDIS_URL}", pytrace=False)
        pytest.skip(f"the scale-out test needs Redis at {REDIS_URL}")
    run = secrets.token_hex(4)
    queue = f"aqueduct-scale-{run}"
    root = Path(tmp_path_factory.mktemp("scale_out"))
    with ExitStack() as stack:
        app = stack.enter_context(committed_application(tmp_path_factory, "scale"))
        s3_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        s3_url = f"http://127.0.0.1:{s3_port}"
        requests.put(f"{s3_url}/{BUCKET}", timeout=10).raise_for_status()
        stripe = stack.enter_context(FakeStripe())
        smtp = stack.enter_context(SlowSmtp(delay=0.15))
        stack.callback(_forget_redis_keys, queue)

        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AQUEDUCT_", "FLASK_", "STRIPE_", "SMTP_", "S3_", "AWS_", "REDIS", "DATABASE"))
        }
        env.update(
            {
                "AQUEDUCT_ENV": "development",
                "FLASK_APP": "wsgi",
                "SECRET_KEY": secrets.token_hex(32),
                "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "REDIS_URL": REDIS_URL,
                "JOB_RUNNER": "celery",
                "CELERY_QUEUE": queue,
                "RATELIMIT_KEY_PREFIX": queue,
                "LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per minute",
                "JOB_LEASE_SECONDS": "5",
                "SWEEP_SECONDS": "3",
                "STORAGE_BACKEND": "s3",
                "S3_BUCKET": BUCKET,
                "S3_ENDPOINT_URL": s3_url,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "STRIPE_SECRET_KEY": "sk_test_scale_out",
                "STRIPE_API_BASE": stripe.url,
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "BASE_URL": "http://aqueduct.test",
                "MAIL_FROM": "Aqueduct <hello@aqueduct.test>",
                "MAIL_DIR": str(root / "mail"),
                "MEDIA_ROOT": str(root / "media"),
                **smtp.settings,
            }
        )
        fleet = Fleet(stack, env, root / "logs")
        fleet.worker("worker-1", concurrency=1)
        fleet.beat("beat", root / "celerybeat-schedule")
        nodes = [fleet.web("web-a"), fleet.web("web-b")]
        try:
            yield Deployment(nodes=nodes, fleet=fleet, smtp=smtp, stripe=stripe, s3_url=s3_url, app=app)
        except BaseException:
            for name in ("web-a", "web-b", "worker-1", "worker-2", "beat"):
                print(f"----- {name} -----\n{fleet.log(name)[-4000:]}")
            raise


def _forget_redis_keys(prefix: str) -> None:
    """Delete this run's queue and rate-limit keys, and nothing else in the shared Redis database."""
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in (f"{prefix}:*", f"*{prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


class Visitor:
    """One browser whose every request goes to the next web node in turn."""

    def __init__(self, nodes: list[str]) -> None:
        self.session = requests.Session()
        self.nodes = nodes
        self._nodes = itertools.cycle(nodes)
        self.last_node = ""

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        self.last_node = next(self._nodes)
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.last_node + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow redirects within the site, each hop on the next node."""
        while response.is_redirect:
            parts = urlsplit(response.headers["Location"])
            if parts.netloc and f"{parts.scheme}://{parts.netloc}" not in self.nodes:
                return response  # off the site (Stripe, S3)
            response = self.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        return response

    def submit(self, path: str, data: dict, *, form_url: str | None = None, follow: bool = True, **kwargs):
        """Read the form on one node and post it to the next: the CSRF token and session are shared."""
        page = self.get(form_url or path)
        assert page.status_code == 200, f"GET {form_url or path} answered {page.status_code}"
        response = self.request("POST", path, data={"csrf_token": csrf_token_from(page.text), **data}, **kwargs)
        return self.follow(response) if follow else response

    def token(self) -> str:
        return csrf_token_from(self.get("/account").text)


def sign_up(deployment: Deployment, visitor: Visitor, name: str, email: str) -> None:
    response = visitor.submit("/signup", {"name": name, "email": email, "time_zone": "America/Chicago"})
    assert response.url.endswith("/signup/sent")
    [message] = wait_until(
        lambda: [m for m in deployment.smtp.to(email) if m.subject == "Finish creating your Aqueduct account"],
        30,
        "the sign-up link is e-mailed by the worker",
    )
    link = FINISH_LINK.search(message.body).group(1)
    response = visitor.submit(link, {"password": PASSWORD, "confirm": PASSWORD})
    assert f"Welcome to Aqueduct, {name}." in response.text


def wait_until(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


@pytest.fixture(scope="module")
def offering(deployment) -> dict:
    """A creator signs up, connects Stripe, uploads a video to S3 and publishes a paid course, across both nodes."""
    creator = Visitor(deployment.nodes)
    sign_up(deployment, creator, "Maya Ortiz", "maya@scale.example.org")
    profile = {
        "display_name": "Maya Ortiz, LCSW",
        "credentials": "LCSW",
        "bio": "Grounding skills for clinicians.",
        "slug": "maya-ortiz",
        "currency": "USD",
        "time_zone": "America/Chicago",
        "default_session_fee_cents": "150",
        "default_session_minutes": "50",
    }
    assert "Your studio is ready" in creator.submit("/become-a-creator", profile).text

    connect = creator.submit("/studio/payouts/connect", {}, form_url="/studio/payouts", follow=False)
    onboarding = connect.headers["Location"]
    assert onboarding.startswith(deployment.stripe.url + "/onboard/")
    deployment.stripe.update_account(onboarding.rsplit("/", 1)[1])
    assert "Stripe is connected" in creator.follow(creator.get("/studio/payouts/return")).text

    video = DEMO_VIDEO.read_bytes()
    headers = {"X-CSRFToken": creator.token()}
    body = {"filename": "welcome.mp4", "content_type": "video/mp4", "size": len(video), "purpose": "video"}
    grant = creator.request("POST", "/studio/uploads", json=body, headers=headers)
    assert grant.status_code == 201, grant.text
    grant = grant.json()
    assert grant["url"].startswith(deployment.s3_url), "the browser uploads straight to S3"
    files = {"file": ("welcome.mp4", video, "video/mp4")}
    assert requests.post(grant["url"], data=grant["fields"], files=files, timeout=30).status_code in (200, 201, 204)
    confirmed = creator.request("POST", f"/studio/uploads/{grant['asset_id']}/confirm", json={}, headers=headers)
    assert confirmed.json()["status"] == "ready", confirmed.text

    details = {
        "kind": "course",
        "title": "Grounding Skills at Scale",
        "subtitle": "",
        "slug": "",
        "description": "Twelve techniques.",
        "price_kind": "fixed",
        "price_cents": "49",
        "sliding_scale_min_cents": "",
        "topics": "Anxiety",
        "ce_minutes": "",
        "ce_approval_statement": "",
        "authoring_minutes": "",
    }
    created = creator.submit("/studio/courses/new", details, form_url="/studio/courses/new?kind=course")
    offering_id = int(re.search(r"/studio/courses/(\d+)$", created.url).group(1))
    curriculum = f"/studio/courses/{offering_id}/curriculum"
    page = creator.submit(f"/studio/courses/{offering_id}/sections", {"title": "Start here"}, form_url=curriculum)
    new_lesson = re.search(r"/studio/courses/\d+/sections/\d+/lessons/new", page.text).group(0)
    lesson = {
        "title": "Welcome video",
        "kind": "video",
        "body": "",
        "available_after_days": "0",
        "duration_minutes": "",
        "live_session": "",
        "media_asset_id": str(grant["asset_id"]),
    }
    creator.submit(new_lesson, lesson)
    page = creator.get(curriculum).text
    lesson_id = int(re.search(rf"/studio/courses/{offering_id}/lessons/(\d+)/edit", page).group(1))
    published = creator.submit(f"/studio/courses/{offering_id}/publish", {}, form_url=f"/studio/courses/{offering_id}")
    assert "Published: your offering is in the catalog." in published.text
    slug = deployment.count(sa.select(Offering.slug).where(Offering.id == offering_id))
    return {"creator": creator, "id": offering_id, "slug": slug, "lesson_id": lesson_id, "video": video}


def test_a_whole_journey_alternating_between_two_web_nodes(deployment, offering):
    learner = Visitor(deployment.nodes)
    sign_up(deployment, learner, "Ana Ruiz", "ana@scale.example.org")
    slug = offering["slug"]

    checkout = learner.submit(f"/courses/{slug}/checkout", {}, form_url=f"/courses/{slug}", follow=False)
    assert checkout.status_code == 303 and checkout.headers["Location"].startswith(deployment.stripe.url + "/pay/")
    session = deployment.stripe.complete_session(checkout.headers["Location"].rsplit("/", 1)[1])
    body, headers = deployment.stripe.signed(
        deployment.stripe.event("checkout.session.completed", session), WEBHOOK_SECRET
    )
    other = next(node for node in deployment.nodes if node != learner.last_node)
    webhook = requests.post(other + "/webhooks/stripe", data=body, headers=headers, timeout=30)
    assert webhook.status_code == 200, webhook.text
    assert deployment.count(sa.select(sa.func.count(Order.id)).where(Order.status == OrderStatus.PAID)) == 1
    receipt = wait_until(
        lambda: [m for m in deployment.smtp.to("ana@scale.example.org") if "Grounding Skills" in m.subject],
        30,
        "the receipt is e-mailed by the worker",
    )
    assert len(receipt) == 1

    success = learner.follow(learner.get(f"/checkout/success?session_id={session['id']}"))
    assert success.status_code == 200
    lesson = learner.get(f"/learn/{slug}/lessons/{offering['lesson_id']}")
    assert lesson.status_code == 200 and "Welcome video" in lesson.text
    media = learner.get(f"/learn/{slug}/lessons/{offering['lesson_id']}/media")
    assert media.status_code == 302 and media.headers["Location"].startswith(deployment.s3_url)
    assert requests.get(media.headers["Location"], timeout=30).content == offering["video"]

    # The log-in limit is counted in Redis, so the two nodes (four processes) share it.
    stranger = Visitor(deployment.nodes)
    answers = []
    for _ in range(LOGIN_LIMIT):
        answers.append(stranger.submit("/login", {"email": "ana@scale.example.org", "password": "wrong"}).status_code)
    assert answers == [200] * LOGIN_LIMIT
    refused = stranger.submit("/login", {"email": "ana@scale.example.org", "password": PASSWORD})
    assert refused.status_code == 429 and "Too many attempts" in refused.text


def upload_list(offering: dict, addresses: list[str]) -> tuple[int, float]:
    """Upload a CSV of `addresses` with notification on; (the job's id, seconds the upload took to answer)."""
    creator: Visitor = offering["creator"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "name"])
    writer.writerows([address, f"Person {i}"] for i, address in enumerate(addresses))
    page = creator.get(f"/studio/courses/{offering['id']}/learners")
    started = time.monotonic()
    response = creator.request(
        "POST",
        f"/studio/courses/{offering['id']}/learners/import",
        data={"csrf_token": csrf_token_from(page.text), "notify": "y"},
        files={"file": ("list.csv", buffer.getvalue().encode(), "text/csv")},
    )
    answered = time.monotonic() - started
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1]), answered


def invitations(deployment: Deployment, domain: str):
    return [m for m in deployment.smtp.messages() if m.to.endswith("@" + domain) and "invited you" in m.subject]


def check_everyone_invited_once(deployment: Deployment, offering: dict, job_id: int, domain: str, addresses) -> None:
    """Every address got its invitation, under one Message-ID each; at most the one in flight came twice."""
    received = wait_until(
        lambda: (found := invitations(deployment, domain)) and {m.to for m in found} >= set(addresses) and found,
        240,
        "every invitation is delivered",
        every=0.5,
    )
    wait_until(lambda: deployment.job(job_id).status is JobStatus.DONE, 60, "the job is done")
    time.sleep(2)  # a repeat sent late would show up now
    received = invitations(deployment, domain)
    per_person = {address: [m.message_id for m in received if m.to == address] for address in addresses}
    assert all(len(set(ids)) == 1 for ids in per_person.values()), "each person has one message, one Message-ID"
    repeats = Counter({address: len(ids) - 1 for address, ids in per_person.items() if len(ids) > 1})
    print(f"{domain}: {len(received)} messages to {len(addresses)} people, repeated: {dict(repeats) or 'none'}")
    assert sum(repeats.values()) <= 1, f"more than the one message in flight was delivered twice: {repeats}"
    assert len({m.message_id for m in received}) == len(addresses)
    enrolled = deployment.count(
        sa.select(sa.func.count(Enrollment.id))
        .join(User, User.id == Enrollment.user_id)
        .where(
            Enrollment.offering_id == offering["id"],
            Enrollment.status == EnrollmentStatus.ACTIVE,
            User.email.like(f"%@{domain}"),
        )
    )
    assert enrolled == len(addresses)
    report = offering["creator"].get(f"/studio/courses/{offering['id']}/learners/imports/{job_id}").text
    assert f"{len(addresses)} of {len(addresses)} e-mails sent" in report


def test_a_worker_killed_while_a_list_is_being_invited_leaves_nobody_uninvited_or_invited_twice(deployment, offering):
    domain = "invited.example.org"
    addresses = [f"person{i}@{domain}" for i in range(LIST_SIZE)]
    job_id, answered = upload_list(offering, addresses)
    assert answered < 5, f"the upload took {answered:.1f} s to answer"

    wait_until(lambda: len(invitations(deployment, domain)) >= 20, 120, "the invitations start going out")
    deployment.fleet.kill("worker-1")
    delivered_at_kill = len(invitations(deployment, domain))
    print(f"worker killed after {delivered_at_kill} invitations")
    assert delivered_at_kill < LIST_SIZE, "the worker was killed before it had invited everyone"
    deployment.fleet.worker("worker-2", concurrency=2)

    check_everyone_invited_once(deployment, offering, job_id, domain, addresses)


def test_a_worker_killed_while_enrolling_leaves_the_list_to_the_next_one(deployment, offering):
    domain = "enrolling.example.org"
    addresses = [f"person{i}@{domain}" for i in range(LIST_SIZE)]
    if "worker-2" in deployment.fleet.processes:
        deployment.fleet.kill("worker-2", sig=15)
    deployment.fleet.worker("worker-3", concurrency=1)
    job_id, _ = upload_list(offering, addresses)

    # Killed inside the job's own transaction (or just before it, or just after: every path ends the same).
    wait_until(lambda: deployment.job(job_id).status is not JobStatus.PENDING, 60, "the job starts", every=0.02)
    deployment.fleet.kill("worker-3")
    # The job's transaction locks its row: a COMMIT the worker sent just before it died still completes, so the
    # state it was killed in is the one left when that transaction has ended.
    killed_while = deployment.job(job_id, settled=True).status
    print(f"worker killed while the job was {killed_while.value}")
    deployment.fleet.worker("worker-4", concurrency=2)

    check_everyone_invited_once(deployment, offering, job_id, domain, addresses)
    job = deployment.job(job_id)
    if killed_while is JobStatus.RUNNING:
        assert job.attempts == 2, "the sweeper ran the job again once its lease had ended"
