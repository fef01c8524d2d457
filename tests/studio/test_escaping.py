"""Text a creator writes can't inject script into any studio or public page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from courseplatform.extensions import db
from courseplatform.models import (
    Job,
    JobStatus,
    LessonKind,
    LiveSession,
    OfferingKind,
    OrderStatus,
    PracticeWaitlistEntry,
    QuizChoice,
    QuizQuestion,
    ReferralPartner,
    Topic,
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
from .test_access_walk import session_income_of, studio_urls

SCRIPT = "<script>alert(1)</script>"
HANDLER = '"><img src=x onerror=alert(1)>'
PAYLOAD = SCRIPT + HANDLER
RAW_MARKERS = ["<script>alert(1)", "<img src=x onerror", "onerror=alert(1)>", 'href="javascript:']


def test_payloads_in_every_text_field_stay_inert(app, web, client):
    owner = CreatorProfileFactory(
        user__email="owner@example.org",
        user__name=PAYLOAD,
        slug="owner",
        display_name=PAYLOAD,
        credentials=PAYLOAD,
        bio=PAYLOAD + " [click](javascript:alert(1))",
        licence=PAYLOAD,
        practice_waitlist_open=True,
        practice_waitlist_message=PAYLOAD + "\n\n" + PAYLOAD,
    )
    offering = OfferingFactory(
        creator=owner,
        kind=OfferingKind.LIVE_WORKSHOP,
        slug="payload-course",
        title=PAYLOAD,
        subtitle=PAYLOAD,
        description=PAYLOAD + "\n\n[click](javascript:alert(1))",
        ce_minutes=60,
        ce_approval_statement=PAYLOAD,
        topics=[Topic(name=PAYLOAD[:60], slug="payload-topic")],
    )
    section = SectionFactory(offering=offering, title=PAYLOAD)
    lesson = LessonFactory(section=section, title=PAYLOAD, body=PAYLOAD, kind=LessonKind.QUIZ, is_preview=True)
    question = QuizQuestion(lesson=lesson, prompt=PAYLOAD, explanation=PAYLOAD, position=0)
    question.choices = [QuizChoice(text=PAYLOAD, is_correct=True, position=0)]
    session = LiveSession(
        offering=offering,
        title=PAYLOAD[:160],
        starts_at=utcnow() + timedelta(days=2),
        time_zone="UTC",
        duration_minutes=60,
        join_url="https://example.org/meet",
    )
    db.session.add_all([question, session])
    UserFactory(email="admin@example.org", is_admin=True)
    db.session.flush()
    learner = UserFactory(email="learner@example.org", name=PAYLOAD)
    order = OrderFactory(learner=learner, offering=offering, status=OrderStatus.PAID, payment_intent_id="pi_payload")
    enrollment = EnrollmentFactory(user=learner, offering=offering, order=order)
    entry = session_income_of(owner)

    person = {"line": 1, "email": "x@example.org", "name": PAYLOAD}
    rejection = {"line": 2, "value": PAYLOAD, "reason": PAYLOAD}
    list_job = Job(
        kind="learners.enrol_list",
        payload={"filename": PAYLOAD, "notify": True},
        status=JobStatus.DONE,
        offering_id=offering.id,
        result={"invited": [person], "enrolled": [person], "already": [person], "rejected": [rejection]},
    )
    sessions_job = Job(
        kind="sessions.import",
        payload={"skipped": [[3, PAYLOAD]], "skipped_count": 1, "dropped": [PAYLOAD], "mapped": {"Fee": PAYLOAD}},
        status=JobStatus.DONE,
        owner_id=owner.user_id,
        result={"imported": 1, "already": 0},
    )
    line = {"line": 2, "value": PAYLOAD, "reason": PAYLOAD}
    attendance_job = Job(
        kind="attendance.import",
        payload={"session_id": session.id},
        status=JobStatus.DONE,
        offering_id=offering.id,
        result={
            "email_column": PAYLOAD,
            "minutes_column": PAYLOAD,
            "recorded": [{"user": {"name": PAYLOAD, "email": "x@example.org"}, "minutes": 5, "lines": [2, 3]}],
            "capped": [{"user": {"name": PAYLOAD, "email": "x@example.org"}, "minutes": 5, "lines": [2]}],
            "unmatched": [line],
            "problems": [line],
        },
    )
    approval = ProviderApprovalFactory(creator=offering.creator, provider_number=PAYLOAD[:60], statement=PAYLOAD)
    coupon = CouponFactory(creator=owner, code="PAYLOAD", all_offerings=False, offerings=[offering])
    waiting = PracticeWaitlistEntry(creator_id=owner.id, email=PAYLOAD.lower() + "@example.org")
    partner = ReferralPartner(
        creator_id=owner.id,
        name=PAYLOAD,
        credentials=PAYLOAD,
        specialties=PAYLOAD,
        url="https://example.org/?q=" + HANDLER,
    )
    db.session.add_all([list_job, sessions_job, attendance_job, waiting, partner])
    db.session.flush()
    values = {
        "person_id": waiting.id,
        "partner_id": partner.id,
        "approval_id": approval.id,
        "coupon_id": coupon.id,
        "offering_id": offering.id,
        "section_id": section.id,
        "lesson_id": lesson.id,
        "question_id": question.id,
        "session_id": session.id,
        "asset_id": 0,  # the upload API only answers POSTs, so it has no page to render
        "enrollment_id": enrollment.id,
        "order_id": order.id,
        "entry_id": entry.id,
        "job_id": list_job.id,
        "revenue.session_import:job_id": sessions_job.id,
        "studio.attendance_import:job_id": attendance_job.id,
    }
    public = [
        "/",
        "/courses",
        "/courses?q=alert",
        f"/courses/{offering.slug}",
        f"/courses/{offering.slug}?coupon=PAYLOAD",
        f"/courses/{offering.slug}?" + urlencode({"coupon": PAYLOAD}),
        f"/t/{owner.slug}",
        f"/t/{owner.slug}/waitlist",
        f"/courses/{offering.slug}/preview/{lesson.id}",
    ]
    studio = [url for method, url in studio_urls(app, values) if method == "GET"]

    pages = {}
    for url in public:
        pages[f"visitor {url}"] = client.get(url)
    for who in ("owner@example.org", "admin@example.org"):
        web.login(who, PASSWORD)
        for url in [*studio, "/learn", "/account", "/admin"]:
            pages[f"{who} {url}"] = client.get(url)
        web.logout()

    checked = 0
    for name, response in pages.items():
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        for marker in RAW_MARKERS:
            assert marker not in html, f"{name}: {marker!r} reached the page unescaped"
        checked += 1
    assert checked >= 20, f"only {checked} pages rendered"
    job_pages = [
        f"owner@example.org /studio/sessions/imports/{sessions_job.id}",
        f"owner@example.org /studio/courses/{offering.id}/sessions/{session.id}/attendance/imports/{attendance_job.id}",
    ]
    assert [pages[name].status_code for name in job_pages] == [200, 200], "the import reports were checked"
    offering_page = pages[f"visitor /courses/{offering.slug}"].get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in offering_page, "the title shows as text"
    waitlist_page = pages[f"visitor /t/{owner.slug}/waitlist"]
    assert waitlist_page.status_code == 200 and "&lt;script&gt;" in waitlist_page.get_data(as_text=True)
