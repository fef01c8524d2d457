"""A CSV enrol with invitations against an SMTP server taking 150 ms a message: in the background vs in the request.

Run from the project root (PostgreSQL and Redis required):

    .venv/bin/python benchmarks/csv_enrol_background.py                  # 1,000 people; baseline 100 inline
    .venv/bin/python benchmarks/csv_enrol_background.py --people 5000 --baseline-people 200

What it does, all on this machine and all thrown away at the end:

* a database `aqueduct_bench_<random>` built by the migrations, one creator and one free
  offering per run below, Redis keys under a prefix of their own (BENCH_REDIS_URL,
  default redis://127.0.0.1:6379/12), and a real SMTP server on loopback that takes
  `--smtp-ms` (150) over each message;
* baseline: the app under gunicorn with JOB_RUNNER=inline, so the job and every invitation
  run inside the upload request; `--baseline-people` (100) addresses, because 1,000 at 150 ms
  would outlast any proxy timeout; the figure for `--people` is extrapolated and says so;
* then the same upload with JOB_RUNNER=celery and 1, then 2, Celery workers (each a
  `celery worker --concurrency 1` process) and beat;
* for each: how long the upload took to answer, until the job was DONE, and until the mail
  server had accepted every invitation; then it checks one message per person and one
  enrollment per person, and exits 1 if not.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
import sqlalchemy as sa
from bench_support import (  # this script's folder is on sys.path
    deployment_env,
    machine,
    migrated,
    redis_namespace,
    throwaway_database,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.accounts.services import hash_password  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import (  # noqa: E402
    CreatorProfile,
    Enrollment,
    Job,
    JobStatus,
    Offering,
    OfferingKind,
    OfferingStatus,
    User,
    utcnow,
)
from tests.servers import Fleet, SlowSmtp  # noqa: E402

PASSWORD = secrets.token_urlsafe(16)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=1000, help="addresses on the list (default 1,000)")
    parser.add_argument("--baseline-people", type=int, default=100, help="addresses enrolled inline (default 100)")
    parser.add_argument("--smtp-ms", type=int, default=150, help="the SMTP server's time per message (default 150)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for each run (default 900)")
    return parser.parse_args()


def seed(app, runs: list[str]) -> dict[str, int]:
    """One creator and one free, published offering per run; {run: course id}."""
    with app.app_context():
        owner = User(email="bench-creator@example.org", name="Bench Creator", password_hash=hash_password(PASSWORD))
        db.session.add(owner)
        db.session.flush()
        creator = CreatorProfile(user_id=owner.id, slug="bench-creator", display_name="Bench Creator")
        db.session.add(creator)
        db.session.flush()
        offerings = {}
        for run in runs:
            offering = Offering(
                creator_id=creator.id,
                kind=OfferingKind.COURSE,
                title=f"Bench offering {run}",
                slug=f"bench-{run}",
                price_cents=0,
                status=OfferingStatus.PUBLISHED,
                published_at=utcnow(),
            )
            db.session.add(offering)
            db.session.flush()
            offerings[run] = offering.id
        db.session.commit()
        db.session.remove()
    return offerings


def log_in(url: str) -> requests.Session:
    session = requests.Session()
    token = CSRF.search(session.get(url + "/login", timeout=30).text).group(1)
    answer = session.post(
        url + "/login",
        data={"csrf_token": token, "email": "bench-creator@example.org", "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text
    return session


def upload(session: requests.Session, url: str, offering_id: int, addresses: list[str]) -> tuple[float, int | None]:
    """Post the list; (seconds to answer, the job id, or None when the answer wasn't the report's address)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "name"])
    writer.writerows([address, f"Person {i}"] for i, address in enumerate(addresses))
    page = session.get(f"{url}/studio/courses/{offering_id}/learners", timeout=30).text
    started = time.monotonic()
    answer = session.post(
        f"{url}/studio/courses/{offering_id}/learners/import",
        data={"csrf_token": CSRF.search(page).group(1), "notify": "y"},
        files={"file": ("list.csv", buffer.getvalue().encode(), "text/csv")},
        allow_redirects=False,
        timeout=3600,
    )
    seconds = time.monotonic() - started
    match = re.search(r"/imports/(\d+)$", answer.headers.get("Location", ""))
    return seconds, int(match.group(1)) if match else None


def run(app, fleet: Fleet, smtp: SlowSmtp, offering_id: int, addresses: list[str], url: str, timeout: int) -> dict:
    """Upload the list and time the answer, the job and the last accepted invitation; check the outcome."""
    domain = addresses[0].rsplit("@", 1)[1]
    session = log_in(url)
    started = time.monotonic()
    answered, job_id = upload(session, url, offering_id, addresses)
    done_at = mailed_at = None
    deadline = time.monotonic() + timeout
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        while (done_at is None or mailed_at is None) and time.monotonic() < deadline:
            with engine.connect() as conn:
                status = conn.scalar(sa.select(Job.status).where(Job.id == job_id))
            if done_at is None and status is JobStatus.DONE:
                done_at = time.monotonic() - started
            mailed = [m for m in smtp.messages() if m.to.endswith("@" + domain)]
            if mailed_at is None and len({m.to for m in mailed}) >= len(addresses):
                mailed_at = max(m.at for m in mailed) - started
            for name, process in fleet.processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited with {process.returncode}:\n{fleet.log(name)[-3000:]}")
            time.sleep(0.05)
        with engine.connect() as conn:
            enrolled = conn.scalar(
                sa.select(sa.func.count(Enrollment.id))
                .join(User, User.id == Enrollment.user_id)
                .where(Enrollment.offering_id == offering_id, User.email.like(f"%@{domain}"))
            )
    finally:
        engine.dispose()
    mailed = [m for m in smtp.messages() if m.to.endswith("@" + domain)]
    return {
        "answered": answered,
        "done": done_at,
        "mailed": mailed_at,
        "messages": len(mailed),
        "people_mailed": len({m.to for m in mailed}),
        "enrolled": enrolled,
        "people": len(addresses),
    }


def addresses_for(name: str, count: int) -> list[str]:
    return [f"person{i}@{name}.example.org" for i in range(count)]


def show(label: str, figures: dict) -> None:
    def seconds(value: float | None) -> str:
        return "did not finish" if value is None else f"{value:7.1f} s"

    print(
        f"{label:<34} answer {figures['answered']:6.2f} s · job done {seconds(figures['done'])} · "
        f"all mail accepted {seconds(figures['mailed'])} · {figures['messages']:,} messages to "
        f"{figures['people_mailed']:,} people · {figures['enrolled']:,} enrolled"
    )


def main() -> int:
    args = parse_args()
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_csv_enrol_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        prefix = redis_namespace(stack)
        smtp = stack.enter_context(SlowSmtp(delay=args.smtp_ms / 1000))
        app = migrated(database_url, JOB_RUNNER="inline")
        offerings = seed(app, ["inline", "one", "two"])
        print(f"machine:  {machine()}")
        print(f"database: {database}; SMTP server: {args.smtp_ms} ms a message")
        print(f"list:     {args.people:,} people (inline baseline: {args.baseline_people:,}, extrapolated)")
        print()

        results = {}
        with ExitStack() as inline:
            env = deployment_env(database_url, prefix, scratch, JOB_RUNNER="inline", **smtp.settings)
            fleet = Fleet(inline, env, scratch / "logs-inline")
            url = fleet.web("web", workers=2, timeout=3600)
            people = addresses_for("inline", args.baseline_people)
            results["inline"] = run(app, fleet, smtp, offerings["inline"], people, url, args.timeout)
        show(f"inline, {args.baseline_people:,} people (baseline)", results["inline"])
        scale = args.people / args.baseline_people
        print(
            f"{'inline, ' + format(args.people, ',') + ' extrapolated':<34} answer "
            f"{results['inline']['answered'] * scale:6.1f} s (x{scale:g}: the request would be cut by any "
            "proxy timeout long before)"
        )

        for label, workers in (("one", 1), ("two", 2)):
            with ExitStack() as queued:
                env = deployment_env(database_url, prefix, scratch, JOB_RUNNER="celery", **smtp.settings)
                fleet = Fleet(queued, env, scratch / f"logs-{label}")
                for n in range(workers):
                    fleet.worker(f"worker-{n + 1}", concurrency=1)
                fleet.beat("beat", scratch / f"beat-{label}")
                url = fleet.web("web", workers=2)
                time.sleep(3)  # the workers are ready
                results[label] = run(app, fleet, smtp, offerings[label], addresses_for(label, args.people), url, 900)
            show(f"celery, {workers} worker{'s' if workers > 1 else ''}, {args.people:,} people", results[label])

        inline_per_person = results["inline"]["answered"] / args.baseline_people
        print()
        for label in ("one", "two"):
            figures = results[label]
            inline_total = inline_per_person * args.people
            if figures["mailed"]:
                print(
                    f"{label} worker(s): the upload answers {inline_total / figures['answered']:,.0f}x sooner than "
                    f"inline would; every invitation accepted {inline_total / figures['mailed']:.1f}x sooner"
                )
        ok = all(
            figures["messages"] == figures["people_mailed"] == figures["enrolled"] == figures["people"]
            for figures in results.values()
        ) and all(results[label]["answered"] < 1 and results[label]["done"] for label in ("one", "two"))
        print("result: " + ("OK: one invitation and one enrollment per person" if ok else "MISMATCH"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
