"""Hostile input gets a clear 4xx or a form error, never a server error: a seeded walk over every route.

The routes come from the application's URL map. Every route that takes POST is filled with
the owner's real objects (and the learner's, and a visitor's, for their own forms) and posted
to with hostile values in the fields of its real form, read from the pages that show it, with
their CSRF token: a bounded sample, drawn with a fixed seed, in which every hostile value is
sent somewhere and every field gets one. JSON routes get hostile JSON, Stripe's webhook gets
validly signed events of hostile shapes. Every GET route is opened with hostile query strings,
out-of-range ids and hostile path segments, anonymously and as the owner. A route the walk
can't fill fails the test, so a route added later is walked too. A failure names the request
that caused it, and reproduces.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import HTTPException

from courseplatform.accounts.services import make_reset_token, make_signup_token, start_login_session
from courseplatform.extensions import db, limiter
from courseplatform.integrations.storage import get_storage
from courseplatform.models import (
    Certificate,
    Enrollment,
    EnrollmentStatus,
    Job,
    JobStatus,
    LearnerLicence,
    LessonKind,
    LessonProgress,
    LiveSession,
    MailStatus,
    MediaAsset,
    MediaStatus,
    OfferingEvaluation,
    OfferingKind,
    OfferingStatus,
    OrderStatus,
    OutgoingMail,
    PayerKind,
    PaymentPlan,
    PaymentProvider,
    PlanStatus,
    PracticeWaitlistEntry,
    Profession,
    QuizChoice,
    QuizQuestion,
    ReferralPartner,
    SessionIncome,
    utcnow,
)
from courseplatform.practice import leave_url

from .factories import (
    PASSWORD,
    CouponFactory,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    OrderFactory,
    ProviderApprovalFactory,
    SectionFactory,
    UserFactory,
)
from .fakes.stripe_api import sign_payload
from .fuzzing import (
    BY_INPUT_TYPE,
    FIELD_VALUES,
    FILE_BODIES,
    FILE_NAMES,
    GUARDED,
    JSON_BODIES,
    JSON_MEMBERS,
    QUERY_VALUES,
    FormScan,
    ScannedForm,
    json_with,
    urlencoded,
)
from .helpers import csrf_token_from

# Fixed, so a failure reproduces; HOSTILE_SEED=<n> explores other samples.
SEED = int(os.environ.get("HOSTILE_SEED", "20261205"))
#: A session stored before forms refused far dates: every page that shows it must still work.
FAR_FUTURE = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)

#: Routes that take a body but no form: JSON APIs, Stripe's webhook, the local upload target.
JSON_ROUTES = {
    "media.start_upload",
    "media.presign_parts",
    "media.complete_upload",
    "media.confirm",
    "media.abort_upload",
    "studio.reorder_curriculum",
    "learning.lesson_position",
}
RAW_BODY_ROUTES = {"checkout.stripe_webhook", "media.upload"}
#: Buttons the walk's pages don't show (it runs in test mode), posted with a CSRF token and an unexpected field.
BUTTONS_NOT_SHOWN = {
    "studio.payouts_connect": "shown only when Stripe is configured",
    "studio.payouts_tax_unregister": "shown for each tax registration Stripe has (the walk runs in test mode)",
    "accounts.logout_device": "shown for each device, and the walker is logged in on one",
    "accounts.logout_other_devices": "shown when the account is logged in on another device",
}
#: How many routes get a 10 MB value, besides the anonymous /login and /signup (each costs about 0.1 s).
BIG_ROUTES = 6
WEBHOOK_SECRET = "whsec_hostile_walk"
#: Where a learner's own forms are (as the owner previews them, they are refused before their fields are read).
LEARNER_AREAS = ("learning.", "checkout.", "catalog.", "accounts.plan", "accounts.orders")
#: The operator's console, walked by an admin (everyone else is refused before a field is read).
ADMIN_AREA = ("admin.",)
#: Forms posted by a visitor without an account.
ANONYMOUS_FORMS = {
    "accounts.login",
    "accounts.signup",
    "accounts.forgot_password",
    "accounts.reset_password",
    "accounts.finish_signup",
    "catalog.join_waitlist",
    "catalog.join_practice_waitlist",
    "catalog.confirm_leave_practice_waitlist",
}
#: Query parameters the app reads besides those of its GET forms.
QUERY_NAMES = {"q", "page", "kind", "sort", "status", "topic", "month", "from", "to", "order", "session_id", "number"}
QUERY_NAMES |= {"next", "download", "preview", "message", "creator", "coupon"}

PLAUSIBLE_CSV = b"Date,Fee,Minutes,Email,Duration\n2026-01-05,150,50,learner@example.org,50\n"

#: Sane values for fields a page shows empty, so that one hostile field is the only thing wrong.
GOOD_VALUES = {
    "title": "Evening one",
    "name": "Robin Hale",
    "display_name": "Robin Hale",
    "email": "visitor@example.org",
    "emails": "visitor@example.org",
    "password": "calm river stones",
    "confirm": "calm river stones",
    "current_password": PASSWORD,
    "starts_at": (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT19:00"),
    "duration_minutes": "60",
    "session_date": "2026-03-02",
    "month": "2026-02",
    "sessions": "3",
    "minutes_each": "50",
    "amount": "150",
    "prompt": "Which one?",
    "choices-0-text": "This one",
    "choices-0-is_correct": "y",
    "choices-1-text": "That one",
    "slug": "robin-hale",
    "default_session_fee_cents": "150",
    "default_session_minutes": "50",
    "reason": "Asked for it",
    "attest": "y",
}


@dataclass
class World:
    """The owner's offerings and everything the routes name by id, plus an enrolled learner."""

    owner_email: str
    learner_email: str
    admin_email: str
    ids: dict[str, list]  # path argument -> values to fill it with
    reset_token: str
    signup_token: str
    upload_token: str
    playback_token: str
    leave_token: str
    offering_order: dict
    json_baselines: dict[str, dict] = field(default_factory=dict)


def ready_asset(owner_id: int, name: str, content_type: str) -> MediaAsset:
    return MediaAsset(
        owner_id=owner_id,
        storage_key=f"uploads/{owner_id}/hostile/{name}",
        original_name=name,
        content_type=content_type,
        size_bytes=1000,
        status=MediaStatus.READY,
        confirmed_at=utcnow(),
    )


def coming_soon_plan_offering(owner):
    """A course its learner pays for in instalments."""
    return OfferingFactory(creator=owner, title="In instalments", slug="in-instalments", price_cents=4500)


def build_world() -> World:
    """A live workshop with every kind of lesson, a quiz, live sessions (one stored in year 9999), learners,
    orders, uploads and session income; CE offerings at each step; a waitlist-only offering."""
    # A Stripe account id, so the tax page shows its forms (the walk runs with STRIPE_TAX on; in test mode
    # their calls to Stripe fail with a message, after the forms have read every field).
    owner = CreatorProfileFactory(
        user__email="owner@example.org", user__time_zone="Pacific/Auckland", stripe_account_id="acct_hostilewalk"
    )
    uid = owner.user_id
    video = ready_asset(uid, "talk.mp4", "video/mp4")
    captions = ready_asset(uid, "talk.vtt", "text/vtt")
    # A name stored before upload names were cleaned: it must never reach a header as it is.
    handout = ready_asset(uid, "handout\r\nX-Injected: 1.pdf", "application/pdf")
    pending = MediaAsset(
        owner_id=uid,
        storage_key=f"uploads/{uid}/hostile/pending.mp4",
        original_name="pending.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        status=MediaStatus.PENDING,
    )
    db.session.add_all([video, captions, handout, pending])
    db.session.flush()

    offering = OfferingFactory(
        creator=owner,
        kind=OfferingKind.LIVE_WORKSHOP,
        title="Holding steady",
        slug="holding-steady",
        price_cents=4900,
        plan_instalments=2,
        plan_instalment_cents=2500,
        ce_minutes=90,
        ce_approval_statement="Approved by the board, provider #1.",
        checkin_required=True,
    )
    section = SectionFactory(offering=offering, title="Week one", position=0)
    # Under way, with its check-in code shown: the lesson page offers the check-in form.
    now_on = LiveSession(
        offering=offering,
        starts_at=utcnow() - timedelta(minutes=10),
        time_zone="UTC",
        duration_minutes=90,
        checkin_code="K7QX3M",
    )
    soon = LiveSession(
        offering=offering, starts_at=utcnow() + timedelta(days=3), time_zone="UTC", duration_minutes=90, capacity=20
    )
    past = LiveSession(offering=offering, starts_at=utcnow() - timedelta(days=3), time_zone="UTC", duration_minutes=60)
    far = LiveSession(offering=offering, starts_at=FAR_FUTURE, time_zone="Pacific/Auckland", duration_minutes=720)
    db.session.add_all([soon, past, far, now_on])
    db.session.flush()
    lessons = [
        LessonFactory(
            section=section, kind=LessonKind.VIDEO, media_asset=video, captions_asset=captions, is_preview=True
        ),
        LessonFactory(section=section, kind=LessonKind.TEXT, body="Some *words*."),
        LessonFactory(section=section, kind=LessonKind.DOWNLOAD, media_asset=handout),
        LessonFactory(section=section, kind=LessonKind.QUIZ),
        LessonFactory(section=section, kind=LessonKind.LIVE, live_session=soon),
        LessonFactory(section=section, kind=LessonKind.LIVE, live_session=far),
        LessonFactory(section=section, kind=LessonKind.LIVE, live_session=now_on),
    ]
    quiz = lessons[3]
    question = QuizQuestion(lesson=quiz, prompt="Which one?", position=0)
    question.choices = [
        QuizChoice(text="This one", is_correct=True, position=0),
        QuizChoice(text="That one", is_correct=False, position=1),
    ]
    db.session.add(question)

    learner = UserFactory(email="learner@example.org", time_zone="America/Los_Angeles")
    order = OrderFactory(learner=learner, offering=offering, status=OrderStatus.PAID, payment_intent_id="pi_hostile")
    enrollment = EnrollmentFactory(user=learner, offering=offering, order=order)
    # A test-mode payment plan with an instalment overdue: its card page offers the pay button.
    plan = PaymentPlan(
        learner_id=learner.id,
        offering_id=coming_soon_plan_offering(owner).id,
        provider=PaymentProvider.TEST,
        currency="USD",
        instalments=3,
        instalment_cents=1500,
        paid_count=1,
        status=PlanStatus.PAST_DUE,
        started_at=utcnow(),
        test_card_declines=True,
    )
    # A test-mode membership: My orders offers its Cancel button.
    membership = PaymentPlan(
        learner_id=learner.id,
        offering_id=OfferingFactory(
            creator=owner, title="The circle", slug="the-circle", kind=OfferingKind.MEMBERSHIP, price_cents=4900
        ).id,
        provider=PaymentProvider.TEST,
        currency="USD",
        instalments=None,
        instalment_cents=4900,
        paid_count=1,
        status=PlanStatus.ACTIVE,
        started_at=utcnow(),
    )
    db.session.add_all([plan, membership])
    revoked = EnrollmentFactory(offering=offering, status=EnrollmentStatus.REVOKED)
    # Access given back after a refund, its certificate still revoked: the page offers Reissue.
    restored = EnrollmentFactory(offering=offering, completed_at=utcnow())
    db.session.flush()
    db.session.add(
        Certificate(
            number="AQ-HOST-ILE0-0001",
            enrollment_id=restored.id,
            learner_name="Restored Learner",
            offering_title=offering.title,
            creator_name="Owner",
            revoked_at=utcnow(),
        )
    )
    # A certificate that stands: the page offers its correction.
    certified = EnrollmentFactory(offering=offering, completed_at=utcnow())
    db.session.flush()
    db.session.add(
        Certificate(
            number="AQ-HOST-ILE0-0002",
            enrollment_id=certified.id,
            learner_name="Certified Learner",
            offering_title=offering.title,
            creator_name="Owner",
        )
    )

    # CE steps: one finished (evaluation next), one evaluated (attestation next), one without CE (claim next).
    steps = {}
    for label, ce in (("evaluate", 60), ("attest", 60), ("claim", None)):
        stepped = OfferingFactory(creator=owner, title=f"Step {label}", slug=f"step-{label}", ce_minutes=ce)
        lesson = LessonFactory(section=SectionFactory(offering=stepped))
        mine = EnrollmentFactory(user=learner, offering=stepped)
        db.session.add(LessonProgress(enrollment_id=mine.id, lesson_id=lesson.id, completed_at=utcnow()))
        mine.completed_at = utcnow()
        steps[label] = stepped
    db.session.flush()
    attest = db.session.scalar(sa.select(Enrollment).filter_by(user_id=learner.id, offering_id=steps["attest"].id))
    db.session.add(OfferingEvaluation(enrollment_id=attest.id, ratings={"objectives_met": 5}, comments=""))
    coming_soon = OfferingFactory(creator=owner, title="Coming soon", slug="coming-soon", waitlist_only=True)
    draft = OfferingFactory(creator=owner, title="Draft", slug="a-draft", status=OfferingStatus.DRAFT)
    pending_order = OrderFactory(
        learner=learner, offering=draft, status=OrderStatus.PENDING, checkout_id=None, paid_at=None
    )
    entry = SessionIncome(
        creator_id=owner.id,
        session_date=datetime(2026, 3, 2).date(),
        sessions=2,
        minutes_each=50,
        amount_cents=30000,
        currency="USD",
        payer_kind=PayerKind.SELF_PAY,
    )
    db.session.add(entry)
    list_job = Job(kind="learners.enrol_list", payload={"people": []}, offering_id=offering.id, owner_id=owner.user_id)
    failed_job = Job(kind="storage.delete", payload={"keys": []}, status=JobStatus.FAILED, attempts=5)
    undelivered = OutgoingMail(recipient="a@example.org", subject="Hi", text="Hi", status=MailStatus.FAILED)
    approval = ProviderApprovalFactory(creator=owner)
    coupon = CouponFactory(creator=owner, code="WALK25")
    kit = OfferingFactory(creator=owner, title="A kit", slug="a-kit", kind=OfferingKind.BUNDLE)
    licence = LearnerLicence(
        user_id=learner.id, profession=Profession.SOCIAL_WORK, licence_type="LCSW", number="1", jurisdiction="OR"
    )
    db.session.add(licence)
    db.session.add_all([list_job, failed_job, undelivered])
    # The owner's practice is full: the waitlist page is open, with someone on it and a colleague to refer to.
    owner.practice_waitlist_open = True
    waiting = PracticeWaitlistEntry(creator_id=owner.id, email="waiting@example.org")
    partner = ReferralPartner(creator_id=owner.id, name="Dr. Sam Lee", url="https://example.com/sam", position=1)
    second = ReferralPartner(creator_id=owner.id, name="Rosa Delgado", position=2)  # so each can move
    db.session.add_all([waiting, partner, second])
    db.session.flush()

    upload = get_storage().presign_upload(pending.storage_key, "video/mp4", 10_000)
    learners_phone = start_login_session(learner, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)")
    admin = UserFactory(email="operator@example.org", is_admin=True)
    # Suspended by an operator, so the console shows its Unsuspend forms.
    suspended = CreatorProfileFactory(suspended_at=utcnow(), suspension_reason="Under review")
    suspended.user.suspended_at, suspended.user.suspension_reason = utcnow(), "Under review"
    sections = [{"id": section.id, "lessons": [lesson.id for lesson in lessons]}]
    world = World(
        owner_email=owner.user.email,
        learner_email=learner.email,
        admin_email=admin.email,
        ids={
            "offering_id": [offering.id, coming_soon.id, draft.id, kit.id],
            "section_id": [section.id],
            "lesson_id": [lesson.id for lesson in lessons],
            "question_id": [question.id],
            "session_id": [soon.id, far.id, past.id, now_on.id],
            "asset_id": [pending.id, handout.id],
            "enrollment_id": [enrollment.id, revoked.id, restored.id, certified.id],
            "order_id": [order.id, pending_order.id],
            "entry_id": [entry.id],
            "approval_id": [approval.id],
            "coupon_id": [coupon.id],
            "plan_id": [plan.id, membership.id],
            "licence_id": [licence.id],
            "job_id": [list_job.id, failed_job.id],
            "mail_id": [undelivered.id],
            "login_session_id": [learners_phone.id],
            "creator_id": [owner.id, suspended.id],
            "user_id": [learner.id, owner.user_id, suspended.user_id],
            "slug": [offering.slug, *(step.slug for step in steps.values()), "coming-soon", owner.slug],
            "person_id": [waiting.id],
            "partner_id": [partner.id, second.id],
            "choice": ["pay", "pay_declining", "decline"],
            "which": ["media", "captions"],
            "name": ["master.m3u8", "360p/index.m3u8", "360p/seg_000.ts", "poster.jpg", "../../../etc/passwd"],
            "number": ["AQ-0000-0000"],
            "filename": ["css/app.css"],
        },
        reset_token=make_reset_token(learner),
        signup_token=make_signup_token("New Person", "new.person@example.org", "UTC", "/learn"),
        upload_token=upload["url"].rsplit("/", 1)[1],
        playback_token=get_storage()
        .playback_url(video.storage_key, content_type="video/mp4", filename="talk.mp4", download=True)
        .rsplit("/", 1)[1],
        leave_token=leave_url(waiting).rsplit("/", 1)[1],
        offering_order={"sections": sections},
    )
    world.json_baselines = {
        "media.start_upload": {
            "filename": "talk.mp4",
            "content_type": "video/mp4",
            "size": 1000,
            "purpose": "video",
            "course_id": offering.id,
        },
        "media.presign_parts": {"upload_id": "upload-1", "part_numbers": [1, 2]},
        "media.complete_upload": {"upload_id": "upload-1", "parts": [{"PartNumber": 1, "ETag": "etag"}]},
        "media.confirm": {},
        "media.abort_upload": {"upload_id": "upload-1"},
        "studio.reorder_curriculum": world.offering_order,
        "learning.lesson_position": {"seconds": 12},
    }
    db.session.commit()
    return world


# ---------------------------------------------------------------------------
# The walk


@dataclass
class Failure:
    who: str
    method: str
    url: str
    what: str
    status: int

    def __str__(self) -> str:
        return f"{self.who}: {self.method} {self.url[:120]} with {self.what[:300]} -> {self.status}"


class Walker:
    """Sends requests as one person, remembers every 5xx, and keeps each route's changes from leaking."""

    def __init__(self, app, connection, world: World, who: str, rng: random.Random) -> None:
        self.app = app
        self.client = app.test_client()
        self.connection = connection
        self.world = world
        self.who = who
        self.rng = rng
        self.failures: list[Failure] = []
        self.requests = 0
        self.adapter = app.url_map.bind("localhost")
        self.big: set[str] = set()  # the routes that get a 10 MB value
        self.kinds: set[str] = set()  # the hostile field values sent
        self.email: str | None = None
        self._token: str | None = None

    # -- the person

    def log_in(self, email: str | None) -> Walker:
        self.email, self._token = email, None
        if email is not None:
            token = csrf_token_from(self.client.get("/login").get_data(as_text=True))
            answer = self.client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
            assert answer.status_code == 302, f"{email} could not log in"
        return self

    @property
    def csrf_token(self) -> str:
        if self._token is None:
            self._token = csrf_token_from(self.client.get("/password/forgot").get_data(as_text=True))
        return self._token

    def still_logged_in(self) -> None:
        """Logging out (an account route) must not end the walk's own session."""
        if self.email is not None and self.client.get("/account").status_code != 200:
            self.client.delete_cookie("session")
            self.client.delete_cookie("remember_token")
            self.log_in(self.email)

    # -- requests

    def send(self, method: str, url: str, what: str, **kwargs):
        limiter.reset()  # rate limits are not what this walk is about; a 429 would hide the rest
        response = self.client.open(url, method=method, **kwargs)
        response.get_data()  # kept for the caller; the file behind a streamed answer is closed now
        response.close()
        self.requests += 1
        if response.status_code >= 500:
            self.failures.append(Failure(self.who, method, url, what, response.status_code))
        return response

    @contextmanager
    def undone(self, endpoint: str) -> Iterator[None]:
        """Whatever the requests inside change is rolled back, so every route sees the same world."""
        savepoint = self.connection.begin_nested()
        try:
            yield
        finally:
            savepoint.rollback()
            if endpoint.startswith("accounts."):
                self.still_logged_in()

    # -- filling routes

    def path_values(self, rule, *, first: bool = False) -> dict:
        """The rule's arguments filled with the world's objects (the main ones, when `first`).

        Fails the test for an argument the walk doesn't know, so a new kind of route is taught to it.
        """
        tokens = {
            "accounts.reset_password": self.world.reset_token,
            "accounts.finish_signup": self.world.signup_token,
            "media.upload": self.world.upload_token,
            "media.serve": self.world.playback_token,
            "catalog.leave_practice_waitlist": self.world.leave_token,
            "catalog.confirm_leave_practice_waitlist": self.world.leave_token,
        }
        values = {}
        for name in rule.arguments:
            if name == "token" and rule.endpoint in tokens:
                values[name] = tokens[rule.endpoint]
            elif name == "filename" and rule.endpoint == "static":
                values[name] = "css/app.css"
            elif name in self.world.ids:
                candidates = self.world.ids[name]
                values[name] = candidates[0] if first else self.rng.choice(candidates)
            else:
                pytest.fail(f"the walk doesn't know how to fill <{name}> in {rule.rule} ({rule.endpoint})")
        return values

    def fills(self, rule) -> list[dict]:
        """The rule filled once per object of each kind it names (every lesson, every session...)."""
        base = self.path_values(rule, first=True)
        fills = [base]
        for name in sorted(rule.arguments):
            fills += [{**base, name: value} for value in self.world.ids.get(name, [])[1:]]
        return fills

    def build(self, rule, values: dict) -> str:
        return self.adapter.build(rule.endpoint, values)

    def endpoint_of(self, url: str) -> str | None:
        try:
            return self.adapter.match(url, method="POST")[0]
        except HTTPException:
            return None  # a form posting elsewhere, or to a route that takes no POST


def rules(app, method: str) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if method in rule.methods),
        key=lambda rule: (rule.endpoint, rule.rule),
    )


def scan_forms(walker: Walker, app, forms: dict[str, list[ScannedForm]], areas: tuple[str, ...] = ("",)) -> set[str]:
    """Open every GET page (of these blueprints) as this person; add the POST forms found to `forms` by the
    endpoint they post to. Returns the names of the query parameters of the GET forms seen (search boxes)."""
    query_names: set[str] = set()
    for rule in rules(app, "GET"):
        if rule.endpoint == "static" or not rule.endpoint.startswith(areas):
            continue
        for values in walker.fills(rule):
            url = walker.build(rule, values)
            response = walker.send("GET", url, "no query string")
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            scan = FormScan.of(url, response.get_data(as_text=True))
            query_names |= scan.query_names
            for form in scan.forms:
                endpoint = walker.endpoint_of(form.action)
                if endpoint is not None:
                    forms.setdefault(endpoint, []).append(form)
    # Some forms appear only once a file is sent (an import's column mapping): send a plausible one.
    for endpoint, found in list(forms.items()):
        for form in [f for f in found if f.files][:1]:
            data = {name: vals[0] for name, vals in baseline(form).items() if vals and name not in form.files}
            data["csrf_token"] = walker.csrf_token
            data.update({name: (io.BytesIO(PLAUSIBLE_CSV), "export.csv") for name in form.files})
            with walker.undone(endpoint):
                response = walker.send("POST", form.action, "a plausible file", data=data)
            if response.status_code != 200:
                continue
            for follow_up in FormScan.of(form.action, response.get_data(as_text=True)).forms:
                next_endpoint = walker.endpoint_of(follow_up.action)
                if next_endpoint not in (None, endpoint):
                    forms.setdefault(next_endpoint, []).append(follow_up)
    return query_names


def baseline(form: ScannedForm) -> dict[str, list[str]]:
    """What the form sends as the page shows it, with sane values where the page leaves a box empty."""
    values = {name: list(vals) for name, vals in form.values.items() if name != "csrf_token"}
    for name, vals in values.items():
        good = GOOD_VALUES.get(name) or GOOD_VALUES.get(name.rsplit("-", 1)[-1])
        if good is not None and not any(v.strip() for v in vals):
            values[name] = [good]
    return values


def post_form(walker: Walker, url: str, form: ScannedForm, endpoint: str) -> None:
    """Hostile values into the form's fields, the rest of it as the page shows it; a bounded, seeded sample.

    - one request with a value the request guard refuses (NUL, a control character, a lone surrogate);
    - one with a different hostile value in every field at once;
    - up to two with one field hostile and the rest valid, so the value reaches the form's service:
      typed fields first (number, date, hidden...), with the values that type lets through;
    - a JSON body where the form is expected; hostile file names and contents where it takes files;
    - 10 MB in one field, on the routes in `walker.big`.
    """
    rng = walker.rng
    token = walker.csrf_token
    names = form.names or ["unexpected"]
    ordinary = [kind for kind in FIELD_VALUES if kind not in GUARDED and kind != "10 MB"]

    def send(values: dict[str, list[str]], what: str) -> None:
        pairs = [("csrf_token", token)]
        pairs += [(name, value) for name, vals in values.items() if name not in form.files for value in vals]
        walker.send("POST", url, what, data=urlencoded(pairs), content_type="application/x-www-form-urlencoded")

    def one(name: str, kind: str) -> None:
        walker.kinds.add(kind)
        send({**baseline(form), name: [FIELD_VALUES[kind]]}, f"{kind} in {name!r}")

    one(rng.choice(names), rng.choice(GUARDED))
    chosen = {name: rng.choice(ordinary) for name in names}
    walker.kinds.update(chosen.values())
    send({name: [FIELD_VALUES[kind]] for name, kind in chosen.items()}, f"in every field: {chosen}")
    typed = [name for name in names if form.types.get(name) in BY_INPUT_TYPE]
    others = [name for name in names if name not in typed]
    rng.shuffle(typed)
    rng.shuffle(others)
    for name in (typed + others)[:2]:
        one(name, rng.choice(BY_INPUT_TYPE.get(form.types.get(name, ""), tuple(ordinary))))
    if endpoint in walker.big:
        one(rng.choice(names), "10 MB")
    label = rng.choice(["array", "50,000 deep", "null"])
    headers = {"X-CSRFToken": token}
    walker.send(
        "POST", url, f"a JSON {label}", data=JSON_BODIES[label], content_type="application/json", headers=headers
    )
    for name in sorted(form.files):
        for label in rng.sample(sorted(FILE_NAMES), 1):
            body = rng.choice(sorted(FILE_BODIES))
            data = {n: vals[0] for n, vals in baseline(form).items() if vals and n not in form.files}
            data["csrf_token"] = token
            data[name] = (io.BytesIO(FILE_BODIES[body]), FILE_NAMES[label])
            walker.send("POST", url, f"{label} and {body} in {name!r}", data=data, content_type="multipart/form-data")


def post_button(walker: Walker, url: str, endpoint: str) -> None:
    post_form(walker, url, ScannedForm(action=url, multipart=False), endpoint)


def post_json(walker: Walker, url: str, endpoint: str) -> None:
    """Hostile JSON in each member of the route's usual body (three values each), and hostile whole bodies."""
    headers = {"X-CSRFToken": walker.csrf_token}
    base = walker.world.json_baselines[endpoint]
    for key in sorted(base) or ["upload_id"]:
        for label in ["2**40", *walker.rng.sample(sorted(set(JSON_MEMBERS) - {"2**40"}), 2)]:
            body = json_with(base, key, JSON_MEMBERS[label])
            walker.send("POST", url, f"{label} as {key!r}", data=body, content_type="application/json", headers=headers)
    for label in walker.rng.sample(sorted(JSON_BODIES), 3):
        body = JSON_BODIES[label]
        walker.send("POST", url, f"a body that is {label}", data=body, content_type="application/json", headers=headers)


def post_raw(walker: Walker, url: str, endpoint: str) -> None:
    """Bodies read as bytes get hostile bytes; Stripe's webhook also gets validly signed events of hostile shapes."""
    for label in walker.rng.sample(sorted(JSON_BODIES), 3):
        walker.send("POST", url, f"raw {label}", data=JSON_BODIES[label], content_type="application/json")
    if endpoint == "media.upload":
        walker.send("PUT", url, "raw NUL bytes", data=b"\x00" * 64)
        return
    walker.app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    try:
        for label, body in HOSTILE_EVENTS.items():
            headers = {"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET), "Content-Type": "application/json"}
            walker.send("POST", url, f"a signed event with {label}", data=body, headers=headers)
    finally:
        walker.app.config["STRIPE_WEBHOOK_SECRET"] = ""


def _event(obj: object, type_: str = "checkout.session.completed", **extra) -> bytes:
    return json.dumps(
        {"id": "evt_hostile", "object": "event", "type": type_, "data": {"object": obj}, **extra}
    ).encode()


HOSTILE_EVENTS: dict[str, bytes] = {
    "50,000-deep JSON": b'{"id": "evt_deep", "type": "charge.refunded", "data": '
    + b"[" * 50_000
    + b"]" * 50_000
    + b"}",
    "data: null": json.dumps({"id": "evt_null", "type": "checkout.session.completed", "data": None}).encode(),
    "an array for data.object": _event([1, 2]),
    "non-ASCII digits as the order": _event({"id": "cs_1", "client_reference_id": "٣", "payment_status": "paid"}),
    "an order id beyond 2**31": _event({"id": "cs_1", "client_reference_id": str(2**40), "payment_status": "paid"}),
    "a 10,000-character id": _event({"id": "ch_" + "x" * 10_000, "amount_refunded": 100}, "charge.refunded"),
    "a negative refund": _event(
        {"id": "ch_1", "payment_intent": "pi_hostile", "amount_refunded": -5}, "charge.refunded"
    ),
    "NaN as the amount": b'{"id": "evt_nan", "type": "charge.refunded", "data": {"object": {"id": "ch_1", '
    b'"payment_intent": "pi_hostile", "amount_refunded": NaN}}}',
    "a NUL in the event id": _event({"id": "acct_1"}, "account.updated", id="evt_\u0000"),
}


def walk_posts(walker: Walker, app, forms: dict[str, list[ScannedForm]], endpoints: set[str] | None) -> set[str]:
    """POST to every route (or those in `endpoints`); returns the endpoints walked."""
    walked = set()
    for rule in rules(app, "POST"):
        endpoint = rule.endpoint
        if endpoints is not None and endpoint not in endpoints:
            continue
        with walker.undone(endpoint):
            if endpoint in JSON_ROUTES:
                post_json(walker, walker.build(rule, walker.path_values(rule, first=True)), endpoint)
            elif endpoint in RAW_BODY_ROUTES:
                post_raw(walker, walker.build(rule, walker.path_values(rule, first=True)), endpoint)
            elif endpoint in forms:
                form = walker.rng.choice(forms[endpoint])
                post_form(walker, form.action, form, endpoint)
            elif endpoint in BUTTONS_NOT_SHOWN:
                post_button(walker, walker.build(rule, walker.path_values(rule, first=True)), endpoint)
            else:
                pytest.fail(
                    f"POST {rule.rule} ({endpoint}) has no form on any page the walk opens, and isn't a known "
                    "JSON or raw-body route: teach the hostile-input walk how to fill it"
                )
        walked.add(endpoint)
    return walked


def walk_gets(walker: Walker, app, query_names: set[str], areas: tuple[str, ...] = ("",)) -> None:
    """Every GET route (of these blueprints) with hostile query strings, ids beyond the database's range, and
    hostile path segments."""
    rng = walker.rng
    names = sorted(QUERY_NAMES | query_names)
    ordinary = [label for label in QUERY_VALUES if label not in ("NUL", "control character")]
    for index, rule in enumerate(r for r in rules(app, "GET") if r.endpoint.startswith(areas)):
        values = walker.path_values(rule, first=True)
        url = walker.build(rule, values)
        guard = ("NUL", "control character")[index % 2]
        response = walker.send("GET", f"{url}?q={QUERY_VALUES[guard]}", f"{guard} in ?q=")
        assert response.status_code == 400, f"GET {url}?q={QUERY_VALUES[guard]} -> {response.status_code}, not 400"
        for _ in range(2):
            chosen = {name: rng.choice(ordinary) for name in names}
            query = "&".join(f"{name}={QUERY_VALUES[label]}" for name, label in chosen.items())
            walker.send("GET", f"{url}?{query}", f"the query {chosen}")
        for label in ("space", "tab", "empty", "2**70"):
            query = "&".join(f"{name}={QUERY_VALUES[label]}" for name in names)
            walker.send("GET", f"{url}?{query}", f"every parameter {label}")
        if rule.endpoint == "static":
            continue
        for name in sorted(rule.arguments):
            if name in ("token", "choice", "which"):
                continue
            numeric = isinstance(values[name], int)
            hostile = rng.choice([str(2**31), str(2**63)] if numeric else ["%00", "%20", "%ED%A0%80", "%0D%0A"])
            marker = 987654321 if numeric else "MARKER"
            broken = walker.build(rule, {**values, name: marker}).replace(str(marker), hostile)
            response = walker.send("GET", broken, f"{hostile} as <{name}>")
            if numeric:
                assert response.status_code == 404, f"GET {broken} -> {response.status_code}, not 404"


def report(walkers: list[Walker]) -> str:
    failures = [str(f) for w in walkers for f in w.failures]
    shown = "\n".join(failures[:40])
    more = f"\n... and {len(failures) - 40} more" if len(failures) > 40 else ""
    return f"{len(failures)} server errors (seed {SEED}):\n{shown}{more}"


# ---------------------------------------------------------------------------
# The tests


@pytest.fixture
def world(app) -> Iterator[World]:
    # Stripe Tax on: the studio's tax forms are shown and walked like every other form.
    app.config["STRIPE_TAX"] = True
    try:
        yield build_world()
    finally:
        app.config["STRIPE_TAX"] = False


def test_hostile_values_posted_to_every_form_get_no_server_error(app, _isolated_database, world):
    started = time.monotonic()
    rng = random.Random(SEED)
    owner, learner, visitor, admin = (
        Walker(app, _isolated_database, world, who, rng) for who in ("owner", "learner", "visitor", "admin")
    )
    owner.log_in(world.owner_email)
    learner.log_in(world.learner_email)
    visitor.log_in(None)
    admin.log_in(world.admin_email)
    forms: dict[str, list[ScannedForm]] = {}
    scan_forms(visitor, app, forms, ("accounts.", "catalog."))
    scan_forms(learner, app, forms, LEARNER_AREAS)
    scan_forms(admin, app, forms, ADMIN_AREA)
    scan_forms(owner, app, forms)
    assert {"accounts.login", "accounts.signup"} <= set(forms), "the walk posts to /login and /signup"
    every_post = {rule.endpoint for rule in rules(app, "POST")}
    owner.big = set(rng.sample(sorted(every_post - JSON_ROUTES - RAW_BODY_ROUTES), BIG_ROUTES))
    visitor.big = {"accounts.login", "accounts.signup"}

    admin_posts = {e for e in every_post if e.startswith(ADMIN_AREA)}
    walked = walk_posts(owner, app, forms, every_post - admin_posts)
    walked |= walk_posts(admin, app, forms, admin_posts)
    walk_posts(learner, app, forms, {e for e in every_post if e.startswith(LEARNER_AREAS)})
    walk_posts(visitor, app, forms, ANONYMOUS_FORMS)

    walkers = [owner, learner, visitor, admin]
    assert not any(w.failures for w in walkers), report(walkers)
    assert walked == every_post
    assert set().union(*(w.kinds for w in walkers)) == set(FIELD_VALUES), "every hostile value was sent somewhere"
    print(f"\n{sum(w.requests for w in walkers)} requests in {time.monotonic() - started:.1f} s (seed {SEED})")


def test_hostile_query_strings_and_ids_on_every_page_get_no_server_error(app, _isolated_database, world):
    started = time.monotonic()
    rng = random.Random(SEED)
    visitor = Walker(app, _isolated_database, world, "visitor", rng).log_in(None)
    owner = Walker(app, _isolated_database, world, "owner", rng).log_in(world.owner_email)
    admin = Walker(app, _isolated_database, world, "admin", rng).log_in(world.admin_email)
    query_names = scan_forms(owner, app, {}) | scan_forms(admin, app, {}, ADMIN_AREA)
    for walker in (visitor, owner):
        walk_gets(walker, app, query_names)
    walk_gets(admin, app, query_names, ADMIN_AREA)
    walkers = [visitor, owner, admin]
    assert not any(w.failures for w in walkers), report(walkers)
    print(f"\n{sum(w.requests for w in walkers)} requests in {time.monotonic() - started:.1f} s (seed {SEED})")
