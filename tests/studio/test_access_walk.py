"""Every studio route, walked as another creator, a learner and a visitor: never the page, nothing changed.

The routes come from the application's URL map, so a route added later is walked too.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import (
    Coupon,
    Enrollment,
    Job,
    Lesson,
    LessonKind,
    LiveSession,
    MediaAsset,
    MediaStatus,
    Offering,
    OfferingKind,
    Order,
    OrderStatus,
    PayerKind,
    PracticeWaitlistEntry,
    QuizChoice,
    QuizQuestion,
    ReferralPartner,
    Section,
    SessionIncome,
    utcnow,
)

from ..factories import (
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
from ..helpers import csrf_token_from

# The creator's own payouts: no ids, so another creator reaches only their own account.
PAYOUTS = ("/studio/payouts", "/studio/payouts/connect", "/studio/payouts/return", "/studio/payouts/refresh")
# Their own sales tax settings: no ids (a registration's is posted, and Stripe scopes it to their account).
# Without STRIPE_TAX, as here, they answer 404 to everyone (tests/checkout/test_stripe_tax.py walks them with it).
TAX = (
    "/studio/payouts/tax",
    "/studio/payouts/tax/settings",
    "/studio/payouts/tax/registrations",
    "/studio/payouts/tax/registrations/end",
)
# Their own coupons: the list and the form (a coupon's id is, and answers 404 to another).
COUPONS = ("/studio/coupons",)
# Their own practice waitlist: the page, its settings, writing to it and its CSV (a person's or colleague's id
# is, and answers 404 to another).
PRACTICE = (
    "/studio/practice-waitlist",
    "/studio/practice-waitlist/settings",
    "/studio/practice-waitlist/mail",
    "/studio/practice-waitlist.csv",
    "/studio/practice-waitlist/partners",
)
# Their own CE approvals and policies: no ids either (an approval's id is, and answers 404 to another).
CE = ("/studio/ce", "/studio/ce/approvals", "/studio/ce/policies")
# Their own revenue and session income: no ids either.
REVENUE = (
    "/studio/revenue",
    "/studio/revenue.csv",
    "/studio/sessions",
    "/studio/sessions/monthly",
    "/studio/sessions/import",
    "/studio/sessions/import/confirm",
)
STRIPE_LANDINGS = ("/studio/payouts/return", "/studio/payouts/refresh")


def owned_world():
    """A live workshop with a section, a quiz lesson with a question, a live session, an upload under way,
    and a learner who paid."""
    owner = CreatorProfileFactory(user__email="owner@example.org")
    offering = OfferingFactory(creator=owner, kind=OfferingKind.LIVE_WORKSHOP, checkin_required=True)
    section = SectionFactory(offering=offering)
    lesson = LessonFactory(section=section, kind=LessonKind.QUIZ)
    question = QuizQuestion(lesson=lesson, prompt="Why?", position=0)
    question.choices = [QuizChoice(text="Because", is_correct=True, position=0)]
    session = LiveSession(
        offering=offering, starts_at=utcnow() + timedelta(days=3), time_zone="UTC", duration_minutes=60, capacity=10
    )
    upload = MediaAsset(
        owner_id=owner.user_id,
        storage_key=f"uploads/{owner.user_id}/walk/lesson.mp4",
        original_name="lesson.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        status=MediaStatus.PENDING,
    )
    db.session.add_all([question, session, upload])
    db.session.flush()
    order = OrderFactory(offering=offering, status=OrderStatus.PAID, payment_intent_id="pi_walk")
    enrollment = EnrollmentFactory(user=order.learner, offering=offering, order=order)
    entry = session_income_of(owner)
    job = Job(kind="learners.enrol_list", payload={"people": []}, owner_id=owner.user_id, offering_id=offering.id)
    sessions_job = Job(kind="sessions.import", payload={"rows": []}, owner_id=owner.user_id)
    attendance_job = Job(kind="attendance.import", payload={"session_id": session.id}, offering_id=offering.id)
    approval = ProviderApprovalFactory(creator=owner)
    coupon = CouponFactory(creator=owner)
    kit = OfferingFactory(creator=owner, kind=OfferingKind.BUNDLE, slug="walk-kit")
    waiting = PracticeWaitlistEntry(creator_id=owner.id, email="waiting@example.org")
    partner = ReferralPartner(creator_id=owner.id, name="Dr. Sam Lee")
    db.session.add_all([job, sessions_job, attendance_job, waiting, partner])
    db.session.flush()
    values = {
        "approval_id": approval.id,
        "coupon_id": coupon.id,
        "studio.bundle_contents:offering_id": kit.id,
        "studio.save_bundle_contents:offering_id": kit.id,
        "offering_id": offering.id,
        "section_id": section.id,
        "lesson_id": lesson.id,
        "question_id": question.id,
        "session_id": session.id,
        "asset_id": upload.id,
        "enrollment_id": enrollment.id,
        "order_id": order.id,
        "entry_id": entry.id,
        "person_id": waiting.id,
        "partner_id": partner.id,
        "job_id": job.id,
        "revenue.session_import:job_id": sessions_job.id,
        "studio.attendance_import:job_id": attendance_job.id,
    }
    return offering, values


def session_income_of(owner) -> SessionIncome:
    """A day of the creator's 1:1 sessions, for the routes that take an entry id."""
    entry = SessionIncome(
        creator_id=owner.id,
        session_date=date(2026, 3, 2),
        sessions=2,
        minutes_each=50,
        amount_cents=30000,
        currency="USD",
        payer_kind=PayerKind.SELF_PAY,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def studio_urls(app, values) -> list[tuple[str, str]]:
    """(method, url) for every studio route, with this world's ids filled in.

    A value keyed "endpoint:name" is used for that endpoint alone (a job of the kind its page shows).
    """
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/studio"):
            continue
        args = {name: values.get(f"{rule.endpoint}:{name}", values.get(name)) for name in rule.arguments}
        url = app.url_map.bind("localhost").build(rule.endpoint, args)
        for method in sorted(rule.methods & {"GET", "POST"}):
            urls.append((method, url))
    return urls


def snapshot() -> tuple:
    return (
        db.session.scalar(sa.select(sa.func.count(Offering.id))),
        db.session.scalar(sa.select(sa.func.count(Section.id))),
        db.session.scalar(sa.select(sa.func.count(Lesson.id))),
        db.session.scalar(sa.select(sa.func.count(QuizQuestion.id))),
        db.session.scalar(sa.select(sa.func.count(LiveSession.id))),
        tuple(db.session.scalars(sa.select(Offering.status).order_by(Offering.id))),
        tuple(db.session.scalars(sa.select(MediaAsset.status).order_by(MediaAsset.id))),
        tuple(db.session.scalars(sa.select(Enrollment.status).order_by(Enrollment.id))),
        tuple(db.session.execute(sa.select(Order.status, Order.refunded_cents).order_by(Order.id))),
        tuple(db.session.execute(sa.select(SessionIncome.id, SessionIncome.sessions).order_by(SessionIncome.id))),
        tuple(db.session.execute(sa.select(Coupon.code, Coupon.archived_at).order_by(Coupon.id))),
        tuple(db.session.execute(sa.select(PracticeWaitlistEntry.email).order_by(PracticeWaitlistEntry.id))),
        tuple(
            db.session.execute(sa.select(ReferralPartner.name, ReferralPartner.position).order_by(ReferralPartner.id))
        ),
    )


def test_every_studio_route_refuses_everyone_but_the_owner(app, web, client):
    values = owned_world()[1]
    CreatorProfileFactory(user__email="other@example.org")
    UserFactory(email="learner@example.org")
    urls = studio_urls(app, values)
    assert len(urls) > 30, "the walk covers the whole studio"
    before = snapshot()

    def attempt(method: str, url: str):
        if method == "GET":
            return client.get(url)
        token = csrf_token_from(client.get("/login" if not logged_in else "/account").get_data(as_text=True))
        return client.post(url, data={"csrf_token": token}, headers={"X-CSRFToken": token})

    logged_in = False
    for method, url in urls:
        response = attempt(method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/login"), (method, url)

    logged_in = True
    web.login("other@example.org", PASSWORD)
    for method, url in urls:
        if url in (
            "/studio",
            "/studio/courses/new",
            "/studio/uploads",
            "/studio/files",
            *PAYOUTS,
            *TAX,
            *REVENUE,
            *CE,
            *COUPONS,
            *PRACTICE,
        ):
            continue  # their own studio
        assert attempt(method, url).status_code == 404, (method, url)
    web.logout()

    web.login("learner@example.org", PASSWORD)
    for method, url in urls:
        response = attempt(method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"] == "/become-a-creator", (method, url)
    web.logout()

    assert snapshot() == before, "nobody but the owner changed anything"

    web.login("owner@example.org", PASSWORD)
    for method, url in urls:
        if url in TAX:
            assert attempt(method, url).status_code == 404, url  # the operator hasn't turned tax on
        elif method == "GET" and url in STRIPE_LANDINGS:
            # Where Stripe sends the creator back; with no Stripe account, straight on to Payouts.
            assert client.get(url).headers["Location"] == "/studio/payouts", url
        elif method == "GET":
            assert client.get(url).status_code == 200, url
