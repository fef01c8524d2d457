"""Creators create, edit, publish, archive and duplicate offerings; nobody else can."""

from __future__ import annotations

import io
import struct
import time
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import (
    Course,
    CourseKind,
    CourseStatus,
    LessonKind,
    LiveSession,
    QuizChoice,
    QuizQuestion,
    Topic,
    utcnow,
)

from ..factories import PASSWORD, CourseFactory, CreatorProfileFactory, LessonFactory, SectionFactory, UserFactory
from ..helpers import csrf_token_from

DETAILS = {
    "kind": "course",
    "title": "Grounding Skills",
    "subtitle": "For anxious clients",
    "slug": "",
    "description": "Learn **twelve** techniques.",
    "price_kind": "fixed",
    "price_cents": "129",
    "sliding_scale_min_cents": "",
    "topics": "Anxiety, clinical skills, anxiety",
    "ce_minutes": "1.5",
    "ce_approval_statement": "Approved by the Board.",
    "authoring_minutes": "20",
}


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", currency="CAD")
    web.login("maya@example.org", PASSWORD)
    return profile


def courses_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Course.id)))


def test_creator_creates_a_draft_offering(web, creator):
    response = web.submit("/studio/courses/new", DETAILS, form_url="/studio/courses/new?kind=course")
    assert "Your offering is saved as a draft." in response.get_data(as_text=True)
    course = db.session.scalar(sa.select(Course).filter_by(title="Grounding Skills"))
    assert course.slug == "grounding-skills"
    assert course.status is CourseStatus.DRAFT
    assert course.price_cents == 12900 and course.sliding_scale_min_cents is None
    assert course.currency == "CAD"
    assert course.ce_minutes == 90 and course.authoring_minutes == 1200
    assert [t.name for t in course.topics] == ["Anxiety", "clinical skills"]
    assert response.request.path == f"/studio/courses/{course.id}"
    assert "Add at least one lesson" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind", [k.value for k in CourseKind])
def test_each_kind_of_offering_can_be_created(web, creator, kind):
    web.submit("/studio/courses/new", {**DETAILS, "kind": kind, "title": f"A {kind}"})
    assert db.session.scalar(sa.select(Course).filter_by(title=f"A {kind}")).kind is CourseKind(kind)


def test_generated_slugs_stay_unique(web, creator):
    CourseFactory(slug="grounding-skills")
    web.submit("/studio/courses/new", DETAILS)
    assert db.session.scalar(sa.select(Course.slug).filter_by(title="Grounding Skills", creator_id=creator.id)) == (
        "grounding-skills-2"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "taken"}, "Another offering already uses this web address"),
        ({"slug": "Bad Slug"}, "Use lowercase letters, numbers and single hyphens"),
        ({"price_cents": "-5"}, "The amount can&#39;t be negative."),
        ({"price_cents": ""}, "Enter a price, or choose Free."),
        ({"price_kind": "sliding", "sliding_scale_min_cents": "200"}, "can&#39;t be above the suggested price"),
        ({"price_kind": "sliding", "sliding_scale_min_cents": ""}, "Enter the lowest amount a learner can pay."),
        ({"ce_minutes": "lots"}, "Enter hours as a number"),
        ({"ce_minutes": "0"}, "Leave CE hours empty, or enter more than 0."),
        ({"title": ""}, "This field is required."),
        ({"topics": "a, b, c, d, e, f"}, "Choose at most 5 topics."),
    ],
)
def test_bad_details_get_a_message_and_change_nothing(web, creator, change, message):
    CourseFactory(slug="taken")
    before = courses_count()
    html = web.submit("/studio/courses/new", {**DETAILS, **change}).get_data(as_text=True)
    assert message in html
    assert courses_count() == before


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("ce_minutes", "NaN", "Enter hours as a number"),
        ("ce_minutes", "sNaN", "Enter hours as a number"),
        ("ce_minutes", "Infinity", "Enter hours as a number"),
        ("ce_minutes", "1e400", "Enter hours as a number"),
        ("authoring_minutes", "-1", "Enter a number of hours between 0 and 1000."),
        ("authoring_minutes", str(2**63), "Enter hours as a number"),
        ("min_attendance_percent", "NaN", "Enter a whole number."),
        ("min_attendance_percent", str(2**63), "That number is far too large."),
        ("min_attendance_percent", "٣", "Enter a whole number."),
    ],
)
def test_numbers_no_one_means_are_a_form_error_on_an_offering(web, creator, field, typed, message):
    course = CourseFactory(creator=creator, title="Unchanged", kind=CourseKind.LIVE_WORKSHOP)
    db.session.commit()

    response = web.submit(f"/studio/courses/{course.id}/edit", {**DETAILS, "kind": "live_workshop", field: typed})

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Course, course.id).title == "Unchanged"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-www-form-urlencoded", b""), ("text/plain", b"title=Changed"), ("multipart/form-data", b"--x")],
)
def test_an_edit_posted_without_any_field_is_answered_and_changes_nothing(web, client, creator, content_type, body):
    """No field arrived (the CSRF token came as a header): the form held the offering's topics as a list, not text."""
    course = CourseFactory(creator=creator, title="Unchanged", topics=[Topic(name="Grief", slug="grief")])
    db.session.commit()
    url = f"/studio/courses/{course.id}/edit"
    token = csrf_token_from(client.get(url).get_data(as_text=True))

    response = client.post(url, data=body, content_type=content_type, headers={"X-CSRFToken": token})

    assert response.status_code in (200, 302, 400)
    db.session.expire_all()
    course = db.session.get(Course, course.id)
    assert (course.title, [t.name for t in course.topics]) == ("Unchanged", ["Grief"])


def test_free_and_sliding_scale_prices(web, creator):
    web.submit("/studio/courses/new", {**DETAILS, "title": "Free one", "price_kind": "free", "price_cents": "50"})
    web.submit(
        "/studio/courses/new",
        {**DETAILS, "title": "Sliding", "price_kind": "sliding", "price_cents": "79", "sliding_scale_min_cents": "39"},
    )
    free = db.session.scalar(sa.select(Course).filter_by(title="Free one"))
    sliding = db.session.scalar(sa.select(Course).filter_by(title="Sliding"))
    assert (free.price_cents, free.sliding_scale_min_cents) == (0, None)
    assert (sliding.price_cents, sliding.sliding_scale_min_cents) == (7900, 3900)


def test_description_preview_renders_without_saving(web, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT, description="old")
    data = {**DETAILS, "slug": course.slug, "description": "New **bold** text", "preview": "1"}
    html = web.submit(f"/studio/courses/{course.id}/edit", data).get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    assert "Preview — not saved yet" in html
    db.session.refresh(course)
    assert course.description == "old"


def test_description_preview_refuses_what_saving_refuses_and_renders_nothing(web, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT, description="old")
    url = f"/studio/courses/{course.id}/edit"
    too_long = {**DETAILS, "slug": course.slug, "description": "calm " * 4001}
    message = "Field cannot be longer than 20000 characters."

    saved = web.submit(url, too_long).get_data(as_text=True)
    previewed = web.submit(url, {**too_long, "preview": "1"}).get_data(as_text=True)

    assert message in saved
    assert message in previewed
    assert "Preview — not saved yet" not in previewed and "<p>calm calm" not in previewed

    started = time.perf_counter()
    attack = web.submit(url, {**too_long, "description": "[" * 100_000, "preview": "1"})
    assert time.perf_counter() - started < 2, "refused before any rendering"
    assert message in attack.get_data(as_text=True)
    db.session.refresh(course)
    assert course.description == "old"


def test_cover_image_is_checked_and_stored(web, client, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT)
    data = {**DETAILS, "slug": course.slug, "cover": (io.BytesIO(b"MZ not an image"), "cover.png")}
    page = client.get(f"/studio/courses/{course.id}/edit").get_data(as_text=True)
    from ..helpers import csrf_token_from

    token = csrf_token_from(page)
    html = client.post(f"/studio/courses/{course.id}/edit", data={**data, "csrf_token": token}).get_data(as_text=True)
    assert "isn&#39;t a PNG, JPEG or WebP image" in html
    db.session.refresh(course)
    assert course.cover_asset_id is None

    data["cover"] = (io.BytesIO(tiny_png()), "cover.png")
    client.post(f"/studio/courses/{course.id}/edit", data={**data, "csrf_token": token})
    db.session.refresh(course)
    assert course.cover_asset.content_type == "image/png"
    page = client.get(f"/studio/courses/{course.id}/edit").get_data(as_text=True)
    assert 'alt="Current cover image"' in page


def test_publish_says_what_is_missing_then_publishes(web, client, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT, description="")
    html = web.submit(f"/studio/courses/{course.id}/publish", {}, form_url=f"/studio/courses/{course.id}").get_data(
        as_text=True
    )
    assert "Not published yet." in html
    assert "Add at least one lesson" in html and "Write a description" in html
    db.session.refresh(course)
    assert course.status is CourseStatus.DRAFT

    LessonFactory(section=SectionFactory(course=course))
    course.description = "Now described."
    db.session.flush()
    html = web.submit(f"/studio/courses/{course.id}/publish", {}, form_url=f"/studio/courses/{course.id}").get_data(
        as_text=True
    )
    assert "Published: your offering is in the catalog." in html
    db.session.refresh(course)
    assert course.status is CourseStatus.PUBLISHED and course.published_at is not None


def test_publish_checks_files_quizzes_and_live_sessions(web, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT, kind=CourseKind.LIVE_WORKSHOP)
    section = SectionFactory(course=course)
    LessonFactory(section=section, kind=LessonKind.VIDEO)
    LessonFactory(section=section, kind=LessonKind.QUIZ)
    html = web.submit(f"/studio/courses/{course.id}/publish", {}, form_url=f"/studio/courses/{course.id}").get_data(
        as_text=True
    )
    assert "Upload the file for 1 video or download lesson(s)" in html
    assert "Add questions to 1 quiz(zes)" in html
    assert "Schedule at least one upcoming live session" in html


def test_publish_names_each_live_lesson_with_no_session(web, creator):
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT, kind=CourseKind.LIVE_WORKSHOP)
    session = LiveSession(course=course, starts_at=utcnow() + timedelta(days=3), time_zone="UTC")
    db.session.add(session)
    section = SectionFactory(course=course)
    LessonFactory(section=section, kind=LessonKind.LIVE, title="Week one", live_session=session)
    unscheduled = LessonFactory(section=section, kind=LessonKind.LIVE, title="Closing <circle>", position=1)
    overview = f"/studio/courses/{course.id}"

    html = web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)

    problem = "is a live lesson with no session: pick its session or change its kind"
    assert f"Lesson “Closing &lt;circle&gt;” {problem}" in html
    assert "“Week one”" not in html
    db.session.refresh(course)
    assert course.status is CourseStatus.DRAFT

    unscheduled.live_session = session
    db.session.flush()
    assert "Published" in web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    db.session.refresh(course)
    assert course.status is CourseStatus.PUBLISHED


def test_paid_offering_needs_a_payable_creator_when_stripe_is_on(app, web, creator, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_x")
    course = CourseFactory(creator=creator, status=CourseStatus.DRAFT)
    LessonFactory(section=SectionFactory(course=course))
    html = web.submit(f"/studio/courses/{course.id}/publish", {}, form_url=f"/studio/courses/{course.id}").get_data(
        as_text=True
    )
    assert "Connect your Stripe account so you can be paid" in html
    creator.stripe_account_id, creator.stripe_charges_enabled = "acct_1", True
    db.session.flush()
    web.submit(f"/studio/courses/{course.id}/publish", {}, form_url=f"/studio/courses/{course.id}")
    db.session.refresh(course)
    assert course.status is CourseStatus.PUBLISHED


def test_overview_shows_learners_and_net_revenue(web, client, creator):
    from courseplatform.models import OrderStatus

    from ..factories import EnrollmentFactory, OrderFactory

    course = CourseFactory(creator=creator, price_cents=10000)
    fees = {"processor_fee_cents": 600, "platform_fee_cents": 1000, "net_cents": 8400}
    for _ in range(2):
        order = OrderFactory(course=course, amount_cents=10000, status=OrderStatus.PAID, **fees)
        EnrollmentFactory(course=course, user=order.learner, order=order)
    OrderFactory(course=course, amount_cents=10000, status=OrderStatus.PENDING, **fees)
    html = client.get(f"/studio/courses/{course.id}").get_data(as_text=True)
    assert "<dt>Active learners</dt><dd>2</dd>" in html
    assert "<dt>Revenue (net)</dt><dd>$168</dd>" in html


def test_archive_and_back_to_draft(web, creator):
    course = CourseFactory(creator=creator)
    overview = f"/studio/courses/{course.id}"
    assert "Archived" in web.submit(f"{overview}/archive", {}, form_url=overview).get_data(as_text=True)
    db.session.refresh(course)
    assert course.status is CourseStatus.ARCHIVED
    web.submit(f"{overview}/unpublish", {}, form_url=overview)
    db.session.refresh(course)
    assert course.status is CourseStatus.DRAFT
    html = web.submit(f"{overview}/archive", {}, form_url=overview).get_data(as_text=True)
    assert "Only a published offering can be archived." in html


def test_duplicate_copies_the_curriculum_as_a_draft(web, creator):
    course = CourseFactory(creator=creator, slug="grief", topics=[Topic(name="Grief", slug="grief")])
    section = SectionFactory(course=course, title="Part one")
    quiz = LessonFactory(section=section, kind=LessonKind.QUIZ, title="Check")
    question = QuizQuestion(lesson=quiz, prompt="Why?", position=0)
    question.choices = [QuizChoice(text="Because", is_correct=True, position=0)]
    db.session.add(question)
    db.session.flush()
    html = web.submit(f"/studio/courses/{course.id}/duplicate", {}, form_url=f"/studio/courses/{course.id}")
    assert "Duplicated as" in html.get_data(as_text=True)
    copy = db.session.scalar(sa.select(Course).filter_by(slug="grief-copy"))
    assert copy.status is CourseStatus.DRAFT and copy.title == f"Copy of {course.title}"
    assert [s.title for s in copy.sections] == ["Part one"]
    copied_quiz = copy.sections[0].lessons[0]
    assert copied_quiz.id != quiz.id and copied_quiz.questions[0].choices[0].is_correct
    assert [t.slug for t in copy.topics] == ["grief"]


def test_studio_routes_are_for_the_owner_or_an_admin(web, client):
    owner = CreatorProfileFactory(user__email="owner@example.org")
    course = CourseFactory(creator=owner)
    CreatorProfileFactory(user__email="other@example.org")
    UserFactory(email="learner@example.org")
    UserFactory(email="admin@example.org", is_admin=True)
    gets = [f"/studio/courses/{course.id}", f"/studio/courses/{course.id}/edit"]
    posts = [f"/studio/courses/{course.id}/{action}" for action in ("publish", "archive", "unpublish", "duplicate")]

    for url in gets + posts:
        response = client.get(url) if url in gets else client.post(url)
        assert response.status_code in (302, 400), url
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), url

    web.login("other@example.org", PASSWORD)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert web.submit(url, {}, form_url="/studio", follow_redirects=False).status_code == 404, url
    web.logout()

    web.login("learner@example.org", PASSWORD)
    for url in gets:
        assert client.get(url).headers["Location"] == "/become-a-creator", url
    web.logout()

    web.login("admin@example.org", PASSWORD)
    for url in gets:
        assert client.get(url).status_code == 200, url
    db.session.refresh(course)
    assert course.status is CourseStatus.PUBLISHED, "nothing was changed by the visitors"
