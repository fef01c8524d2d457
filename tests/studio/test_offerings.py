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
    LessonKind,
    LiveSession,
    Offering,
    OfferingKind,
    OfferingStatus,
    QuizChoice,
    QuizQuestion,
    Topic,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..helpers import csrf_token_from
from ..markup import text_of

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


def offerings_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Offering.id)))


def test_creator_creates_a_draft_offering(web, creator):
    response = web.submit("/studio/courses/new", DETAILS, form_url="/studio/courses/new?kind=course")
    assert "Your offering is saved as a draft." in response.get_data(as_text=True)
    offering = db.session.scalar(sa.select(Offering).filter_by(title="Grounding Skills"))
    assert offering.slug == "grounding-skills"
    assert offering.status is OfferingStatus.DRAFT
    assert offering.price_cents == 12900 and offering.sliding_scale_min_cents is None
    assert offering.currency == "CAD"
    assert offering.ce_minutes == 90 and offering.authoring_minutes == 1200
    assert [t.name for t in offering.topics] == ["Anxiety", "clinical skills"]
    assert response.request.path == f"/studio/courses/{offering.id}"
    assert "Add at least one lesson" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind", [k.value for k in OfferingKind])
def test_each_kind_of_offering_can_be_created(web, creator, kind):
    web.submit("/studio/courses/new", {**DETAILS, "kind": kind, "title": f"A {kind}"})
    assert db.session.scalar(sa.select(Offering).filter_by(title=f"A {kind}")).kind is OfferingKind(kind)


def test_generated_slugs_stay_unique(web, creator):
    OfferingFactory(slug="grounding-skills")
    web.submit("/studio/courses/new", DETAILS)
    assert db.session.scalar(sa.select(Offering.slug).filter_by(title="Grounding Skills", creator_id=creator.id)) == (
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
    OfferingFactory(slug="taken")
    before = offerings_count()
    html = web.submit("/studio/courses/new", {**DETAILS, **change}).get_data(as_text=True)
    assert message in html
    assert offerings_count() == before


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
    offering = OfferingFactory(creator=creator, title="Unchanged", kind=OfferingKind.LIVE_WORKSHOP)
    db.session.commit()

    response = web.submit(f"/studio/courses/{offering.id}/edit", {**DETAILS, "kind": "live_workshop", field: typed})

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Offering, offering.id).title == "Unchanged"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-www-form-urlencoded", b""), ("text/plain", b"title=Changed"), ("multipart/form-data", b"--x")],
)
def test_an_edit_posted_without_any_field_is_answered_and_changes_nothing(web, client, creator, content_type, body):
    """No field arrived (the CSRF token came as a header): the form held the offering's topics as a list, not text."""
    offering = OfferingFactory(creator=creator, title="Unchanged", topics=[Topic(name="Grief", slug="grief")])
    db.session.commit()
    url = f"/studio/courses/{offering.id}/edit"
    token = csrf_token_from(client.get(url).get_data(as_text=True))

    response = client.post(url, data=body, content_type=content_type, headers={"X-CSRFToken": token})

    assert response.status_code in (200, 302, 400)
    db.session.expire_all()
    offering = db.session.get(Offering, offering.id)
    assert (offering.title, [t.name for t in offering.topics]) == ("Unchanged", ["Grief"])


def test_free_and_sliding_scale_prices(web, creator):
    web.submit("/studio/courses/new", {**DETAILS, "title": "Free one", "price_kind": "free", "price_cents": "50"})
    web.submit(
        "/studio/courses/new",
        {**DETAILS, "title": "Sliding", "price_kind": "sliding", "price_cents": "79", "sliding_scale_min_cents": "39"},
    )
    free = db.session.scalar(sa.select(Offering).filter_by(title="Free one"))
    sliding = db.session.scalar(sa.select(Offering).filter_by(title="Sliding"))
    assert (free.price_cents, free.sliding_scale_min_cents) == (0, None)
    assert (sliding.price_cents, sliding.sliding_scale_min_cents) == (7900, 3900)


def test_a_payment_plan_is_saved_with_the_price_split_evenly_or_the_amount_given(web, creator):
    web.submit("/studio/courses/new", {**DETAILS, "title": "Split", "plan_instalments": "4"})
    web.submit(
        "/studio/courses/new", {**DETAILS, "title": "Given", "plan_instalments": "3", "plan_instalment_cents": "45"}
    )
    split = db.session.scalar(sa.select(Offering).filter_by(title="Split"))
    given = db.session.scalar(sa.select(Offering).filter_by(title="Given"))
    assert (split.plan_instalments, split.plan_instalment_cents) == (4, 3225)  # $129 / 4, rounded up
    assert (given.plan_instalments, given.plan_instalment_cents) == (3, 4500)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"plan_instalments": "1"}, "Enter from 2 to 24 payments, or leave it empty."),
        ({"plan_instalments": "25"}, "Enter from 2 to 24 payments, or leave it empty."),
        ({"plan_instalments": "3", "plan_instalment_cents": "40"}, "The payments add up to less than the price"),
        ({"plan_instalments": "3", "plan_instalment_cents": "0.49"}, "Each payment must be at least 0.50."),
        ({"price_cents": "1", "plan_instalments": "24"}, "each payment would be under 0.50: choose fewer payments"),
        (
            {"price_kind": "sliding", "sliding_scale_min_cents": "39", "plan_instalments": "3"},
            "Payment plans go with a fixed price",
        ),
    ],
)
def test_a_payment_plan_that_doesnt_add_up_is_refused_with_a_reason(web, creator, fields, message):
    html = web.submit("/studio/courses/new", {**DETAILS, "title": "Refused", **fields}).get_data(as_text=True)

    assert message in text_of(html)
    assert db.session.scalar(sa.select(Offering).filter_by(title="Refused")) is None


def test_description_preview_renders_without_saving(web, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, description="old")
    data = {**DETAILS, "slug": offering.slug, "description": "New **bold** text", "preview": "1"}
    html = web.submit(f"/studio/courses/{offering.id}/edit", data).get_data(as_text=True)
    assert "<strong>bold</strong>" in html
    assert "Preview — not saved yet" in html
    db.session.refresh(offering)
    assert offering.description == "old"


def test_description_preview_refuses_what_saving_refuses_and_renders_nothing(web, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, description="old")
    url = f"/studio/courses/{offering.id}/edit"
    too_long = {**DETAILS, "slug": offering.slug, "description": "calm " * 4001}
    message = "Field cannot be longer than 20000 characters."

    saved = web.submit(url, too_long).get_data(as_text=True)
    previewed = web.submit(url, {**too_long, "preview": "1"}).get_data(as_text=True)

    assert message in saved
    assert message in previewed
    assert "Preview — not saved yet" not in previewed and "<p>calm calm" not in previewed

    started = time.process_time()  # CPU spent, however busy the machine is
    attack = web.submit(url, {**too_long, "description": "[" * 100_000, "preview": "1"})
    assert time.process_time() - started < 2, "refused before any rendering"
    assert message in attack.get_data(as_text=True)
    db.session.refresh(offering)
    assert offering.description == "old"


def test_cover_image_is_checked_and_stored(web, client, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT)
    data = {**DETAILS, "slug": offering.slug, "cover": (io.BytesIO(b"MZ not an image"), "cover.png")}
    page = client.get(f"/studio/courses/{offering.id}/edit").get_data(as_text=True)
    from ..helpers import csrf_token_from

    token = csrf_token_from(page)
    html = client.post(f"/studio/courses/{offering.id}/edit", data={**data, "csrf_token": token}).get_data(as_text=True)
    assert "isn&#39;t a PNG, JPEG or WebP image" in html
    db.session.refresh(offering)
    assert offering.cover_asset_id is None

    data["cover"] = (io.BytesIO(tiny_png()), "cover.png")
    client.post(f"/studio/courses/{offering.id}/edit", data={**data, "csrf_token": token})
    db.session.refresh(offering)
    assert offering.cover_asset.content_type == "image/png"
    page = client.get(f"/studio/courses/{offering.id}/edit").get_data(as_text=True)
    assert 'alt="Current cover image"' in page


def test_publish_says_what_is_missing_then_publishes(web, client, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, description="")
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}").get_data(
        as_text=True
    )
    assert "Not published yet." in html
    assert "Add at least one lesson" in html and "Write a description" in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT

    LessonFactory(section=SectionFactory(offering=offering))
    offering.description = "Now described."
    db.session.flush()
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}").get_data(
        as_text=True
    )
    assert "Published: your offering is in the catalog." in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED and offering.published_at is not None


def test_publish_checks_files_quizzes_and_live_sessions(web, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, kind=OfferingKind.LIVE_WORKSHOP)
    section = SectionFactory(offering=offering)
    LessonFactory(section=section, kind=LessonKind.VIDEO)
    LessonFactory(section=section, kind=LessonKind.QUIZ)
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}").get_data(
        as_text=True
    )
    assert "Upload the file for 1 video or download lesson(s)" in html
    assert "Add questions to 1 quiz(zes)" in html
    assert "Schedule at least one upcoming live session" in html


def test_publish_names_each_live_lesson_with_no_session(web, creator):
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT, kind=OfferingKind.LIVE_WORKSHOP)
    session = LiveSession(offering=offering, starts_at=utcnow() + timedelta(days=3), time_zone="UTC")
    db.session.add(session)
    section = SectionFactory(offering=offering)
    LessonFactory(section=section, kind=LessonKind.LIVE, title="Week one", live_session=session)
    unscheduled = LessonFactory(section=section, kind=LessonKind.LIVE, title="Closing <circle>", position=1)
    overview = f"/studio/courses/{offering.id}"

    html = web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)

    problem = "is a live lesson with no session: pick its session or change its kind"
    assert f"Lesson “Closing &lt;circle&gt;” {problem}" in html
    assert "“Week one”" not in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT

    unscheduled.live_session = session
    db.session.flush()
    assert "Published" in web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED


def test_paid_offering_needs_a_payable_creator_when_stripe_is_on(app, web, creator, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_x")
    offering = OfferingFactory(creator=creator, status=OfferingStatus.DRAFT)
    LessonFactory(section=SectionFactory(offering=offering))
    html = web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}").get_data(
        as_text=True
    )
    assert "Connect your Stripe account so you can be paid" in html
    creator.stripe_account_id, creator.stripe_charges_enabled = "acct_1", True
    db.session.flush()
    web.submit(f"/studio/courses/{offering.id}/publish", {}, form_url=f"/studio/courses/{offering.id}")
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED


def test_overview_shows_learners_and_net_revenue(web, client, creator):
    from courseplatform.models import OrderStatus

    from ..factories import EnrollmentFactory, OrderFactory

    offering = OfferingFactory(creator=creator, price_cents=10000)
    fees = {"processor_fee_cents": 600, "platform_fee_cents": 1000, "net_cents": 8400}
    for _ in range(2):
        order = OrderFactory(offering=offering, amount_cents=10000, status=OrderStatus.PAID, **fees)
        EnrollmentFactory(offering=offering, user=order.learner, order=order)
    OrderFactory(offering=offering, amount_cents=10000, status=OrderStatus.PENDING, **fees)
    html = client.get(f"/studio/courses/{offering.id}").get_data(as_text=True)
    assert "<dt>Active learners</dt><dd>2</dd>" in html
    assert "<dt>Revenue (net)</dt><dd>$168</dd>" in html


def test_archive_and_back_to_draft(web, creator):
    offering = OfferingFactory(creator=creator)
    overview = f"/studio/courses/{offering.id}"
    assert "Archived" in web.submit(f"{overview}/archive", {}, form_url=overview).get_data(as_text=True)
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.ARCHIVED
    web.submit(f"{overview}/unpublish", {}, form_url=overview)
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT
    html = web.submit(f"{overview}/archive", {}, form_url=overview).get_data(as_text=True)
    assert "Only a published offering can be archived." in html


def test_duplicate_copies_the_curriculum_as_a_draft(web, creator):
    offering = OfferingFactory(creator=creator, slug="grief", topics=[Topic(name="Grief", slug="grief")])
    section = SectionFactory(offering=offering, title="Part one")
    quiz = LessonFactory(section=section, kind=LessonKind.QUIZ, title="Check")
    question = QuizQuestion(lesson=quiz, prompt="Why?", position=0)
    question.choices = [QuizChoice(text="Because", is_correct=True, position=0)]
    db.session.add(question)
    db.session.flush()
    html = web.submit(f"/studio/courses/{offering.id}/duplicate", {}, form_url=f"/studio/courses/{offering.id}")
    assert "Duplicated as" in html.get_data(as_text=True)
    copy = db.session.scalar(sa.select(Offering).filter_by(slug="grief-copy"))
    assert copy.status is OfferingStatus.DRAFT and copy.title == f"Copy of {offering.title}"
    assert [s.title for s in copy.sections] == ["Part one"]
    copied_quiz = copy.sections[0].lessons[0]
    assert copied_quiz.id != quiz.id and copied_quiz.questions[0].choices[0].is_correct
    assert [t.slug for t in copy.topics] == ["grief"]


def test_studio_routes_are_for_the_owner_or_an_admin(web, client):
    owner = CreatorProfileFactory(user__email="owner@example.org")
    offering = OfferingFactory(creator=owner)
    CreatorProfileFactory(user__email="other@example.org")
    UserFactory(email="learner@example.org")
    UserFactory(email="admin@example.org", is_admin=True)
    gets = [f"/studio/courses/{offering.id}", f"/studio/courses/{offering.id}/edit"]
    posts = [f"/studio/courses/{offering.id}/{action}" for action in ("publish", "archive", "unpublish", "duplicate")]

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
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.PUBLISHED, "nothing was changed by the visitors"
