"""/courses/<slug>: the outline, the teacher, live dates and seats, and the one right call to action."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import (
    AccessEvent,
    EnrollmentStatus,
    LessonKind,
    OfferingKind,
    OfferingStatus,
    Order,
)

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..factories.catalog import topic
from ..factories.live import live_session
from ..factories.media import media_asset
from ..markup import text_of

CHECKOUT_FORM = re.compile(r'<form method="post" action="/courses/([^"]+)/checkout".*?</form>', re.S)


def page(client, slug: str) -> str:
    response = client.get(f"/courses/{slug}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def checkout_form(html: str) -> str | None:
    match = CHECKOUT_FORM.search(html)
    return match.group(0) if match else None


# ---------------------------------------------------------------------------
# Calls to action
# ---------------------------------------------------------------------------


def test_free_offering_offers_enroll_for_free(client):
    OfferingFactory(slug="free-one", price_cents=0)
    form = checkout_form(page(client, "free-one"))
    assert form is not None
    assert 'name="csrf_token"' in form
    assert "Enroll for free" in form and "Buy now" not in form
    assert 'name="amount"' not in form


def test_fixed_price_offering_offers_buy_now(client):
    OfferingFactory(slug="paid-one", price_cents=12900)
    html = page(client, "paid-one")
    assert "$129" in html
    form = checkout_form(html)
    assert "Buy now" in form and 'name="amount"' not in form
    assert "Join the waitlist" not in html


def test_sliding_scale_offers_an_amount_from_the_minimum_defaulting_to_the_price(client):
    OfferingFactory(slug="sliding", price_cents=7900, sliding_scale_min_cents=3900)
    html = page(client, "sliding")
    assert "Pay what you can from $39, suggested $79" in html
    form = checkout_form(html)
    assert "Buy now" in form
    assert re.search(r'<input[^>]*name="amount"[^>]*value="79"', form)
    assert "Any amount from $39. Suggested $79." in form


def test_enrolled_learner_is_sent_to_continue_learning(client, web):
    learner = UserFactory(email="jo@example.org")
    offering = OfferingFactory(slug="mine", price_cents=9900)
    EnrollmentFactory(user=learner, offering=offering)
    web.login("jo@example.org", PASSWORD)
    html = page(client, "mine")
    assert re.search(r'<a class="button[^"]*" href="/learn">You\'re enrolled — continue</a>', html)
    assert checkout_form(html) is None


def test_a_refunded_learner_is_told_why_access_ended_and_may_buy_again(client, web):
    learner = UserFactory(email="jo@example.org")
    offering = OfferingFactory(slug="mine", price_cents=9900)
    EnrollmentFactory(
        user=learner,
        offering=offering,
        status=EnrollmentStatus.REVOKED,
        reason=AccessEvent.REFUND,
        revoked_at=datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    web.login("jo@example.org", PASSWORD)
    html = page(client, "mine")
    assert "You're enrolled" not in html
    assert "Your payment was refunded in full on Dec 3, 2026, so your access ended." in text_of(html)
    assert "Buy again" in checkout_form(html)


def test_a_learner_whose_access_the_creator_ended_is_told_so_and_not_offered_to_pay_again(client, web):
    learner = UserFactory(email="jo@example.org")
    offering = OfferingFactory(slug="mine", price_cents=9900)
    EnrollmentFactory(
        user=learner,
        offering=offering,
        status=EnrollmentStatus.REVOKED,
        reason=AccessEvent.CREATOR_REVOKE,
        revoked_at=datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    web.login("jo@example.org", PASSWORD)
    html = page(client, "mine")
    assert checkout_form(html) is None
    assert f"{offering.creator.display_name} ended your access on Dec 3, 2026." in text_of(html)
    # And pressing Buy anyway (an old tab) charges nothing.
    response = web.submit("/courses/mine/checkout", {}, form_url="/courses/mine")
    assert "ended your access" in text_of(response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_archived_offering_is_closed_to_new_learners_but_enrolled_ones_continue(client, web):
    offering = OfferingFactory(slug="old", status=OfferingStatus.ARCHIVED)
    html = page(client, "old")
    assert "no longer open to new learners" in html
    assert checkout_form(html) is None and "Join the waitlist" not in html

    learner = UserFactory(email="jo@example.org")
    EnrollmentFactory(user=learner, offering=offering)
    web.login("jo@example.org", PASSWORD)
    assert "You're enrolled — continue" in page(client, "old")


def test_announced_offering_takes_waitlist_signups_instead_of_orders(client):
    OfferingFactory(slug="soon", waitlist_only=True)
    html = page(client, "soon")
    assert "Opening soon" in html
    assert 'action="/courses/soon/waitlist"' in html and "Join the waitlist" in html
    assert checkout_form(html) is None


def test_full_live_workshop_takes_waitlist_signups(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, capacity=2)
    for _ in range(2):
        EnrollmentFactory(offering=offering)
    html = page(client, "live")
    assert "This workshop is full" in html
    assert "Full" in html
    assert 'action="/courses/live/waitlist"' in html
    assert checkout_form(html) is None


def test_live_workshop_with_no_upcoming_dates_takes_waitlist_signups(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, days=-10)
    html = page(client, "live")
    assert "No upcoming dates" in html and "Join the waitlist" in html
    assert checkout_form(html) is None


def test_logged_in_visitor_gets_the_waitlist_form_prefilled(client, web):
    UserFactory(email="jo@example.org")
    OfferingFactory(slug="soon", waitlist_only=True)
    web.login("jo@example.org", PASSWORD)
    html = page(client, "soon")
    assert re.search(r'<input[^>]*name="email"[^>]*value="jo@example.org"', html)


# ---------------------------------------------------------------------------
# Live sessions and seats
# ---------------------------------------------------------------------------


def test_seats_are_places_in_the_whole_workshop_held_by_active_and_paused_learners(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, capacity=10, title="Evening one")
    live_session(offering, days=14, capacity=None, title="Evening two")
    for _ in range(3):
        EnrollmentFactory(offering=offering)
    EnrollmentFactory(offering=offering, status=EnrollmentStatus.SUSPENDED)  # their seat waits for the dispute
    EnrollmentFactory(offering=offering, status=EnrollmentStatus.REVOKED)
    html = page(client, "live")
    # One enrollment covers every session, so every session and the buy box say the same thing.
    assert "Evening one" in html and "Evening two" in html
    assert text_of(html).count("6 seats left") == 3
    assert "Open seating" not in html
    assert "Buy now" in checkout_form(html)


def test_last_seat_reads_one_seat_left(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, capacity=2)
    EnrollmentFactory(offering=offering)
    assert "1 seat left" in page(client, "live")


def test_past_sessions_are_not_listed(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    live_session(offering, days=-3, title="Long gone")
    live_session(offering, days=3, title="Coming up")
    html = page(client, "live")
    assert "Coming up" in html and "Long gone" not in html


def test_session_times_use_the_visitors_zone_or_the_sessions_own(client, web):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    starts = datetime(2099, 3, 5, 0, 0, tzinfo=UTC)  # 7 PM on the 4th in New York
    live_session(offering, starts_at=starts, zone="America/New_York", duration_minutes=120)

    html = page(client, "live")
    assert "Wed, Mar 4, 2099 · 7:00 PM–9:00 PM EST" in html
    assert "Times are in America/New York, the workshop's time zone." in html

    UserFactory(email="kim@example.org", time_zone="Australia/Sydney")
    web.login("kim@example.org", PASSWORD)
    html = page(client, "live")
    assert "Thu, Mar 5, 2099 · 11:00 AM–1:00 PM AEDT" in html
    assert "Times are in your time zone, Australia/Sydney." in html


def test_join_link_of_a_live_session_is_never_shown_on_public_pages(client):
    offering = OfferingFactory(slug="live", kind=OfferingKind.LIVE_WORKSHOP)
    session = live_session(offering, join_url="https://meet.example.com/secret-room")
    section = SectionFactory(offering=offering)
    lesson = LessonFactory(section=section, kind=LessonKind.LIVE, live_session=session, is_preview=True)
    assert "secret-room" not in page(client, "live")
    preview = client.get(f"/courses/live/preview/{lesson.id}").get_data(as_text=True)
    assert "Evening 1" in preview and "secret-room" not in preview


# ---------------------------------------------------------------------------
# Content: outline, description, teacher, CE
# ---------------------------------------------------------------------------


def test_outline_lists_sections_lessons_kinds_durations_and_links_previews(client):
    offering = OfferingFactory(slug="outline")
    first = SectionFactory(offering=offering, title="Foundations", position=0)
    second = SectionFactory(offering=offering, title="Practice", position=1)
    intro = LessonFactory(
        section=first, title="Welcome", kind=LessonKind.VIDEO, duration_seconds=185, is_preview=True, position=0
    )
    LessonFactory(section=first, title="Reading", kind=LessonKind.TEXT, position=1)
    LessonFactory(section=second, title="Check yourself", kind=LessonKind.QUIZ, position=0)
    html = page(client, "outline")
    assert html.index("Foundations") < html.index("Welcome") < html.index("Reading") < html.index("Practice")
    assert "Check yourself" in html and ">Quiz<" in html and ">Video<" in html
    assert "3 min" in html
    assert f'href="/courses/outline/preview/{intro.id}">Welcome</a>' in html
    assert 'href="/courses/outline/preview/' not in html.split("Reading")[1].split("</li>")[0]
    assert "3 lessons" in html


def test_description_is_rendered_markdown_and_ce_hours_and_statement_are_shown(client):
    OfferingFactory(
        slug="ce",
        description="Learn **twelve** techniques.",
        ce_minutes=90,
        ce_approval_statement="Approved by the Demo Board (provider #0000).",
    )
    html = page(client, "ce")
    assert "<strong>twelve</strong>" in html
    assert "1.5 CE hours" in html
    assert "Approved by the Demo Board (provider #0000)." in html


def test_creator_card_shows_photo_credentials_and_links_to_the_storefront(client):
    creator = CreatorProfileFactory(display_name="Dr. Ana Ruiz", credentials="LCSW, PhD", slug="ana-ruiz")
    OfferingFactory(slug="with-photo", creator=creator)
    html = page(client, "with-photo")
    assert 'class="avatar' in html and ">A</span>" in html, "without a photo, the initial (not the title)"
    assert "LCSW, PhD" in html
    assert 'href="/t/ana-ruiz"' in html

    creator.photo_asset_id = media_asset(creator.user, "ana.jpg", "image/jpeg").id
    db.session.flush()
    html = page(client, "with-photo")
    assert re.search(r'<img class="avatar avatar-photo[^"]*" src="/media/[^"]+"', html)


def test_topics_link_to_the_filtered_catalog(client):
    trauma = topic("Trauma", "trauma")
    OfferingFactory(slug="topical", topics=[trauma])
    assert 'href="/courses?topic=trauma">Trauma</a>' in page(client, "topical")


def test_unknown_slug_is_404(client):
    assert client.get("/courses/no-such-thing").status_code == 404


# ---------------------------------------------------------------------------
# Drafts
# ---------------------------------------------------------------------------


@pytest.fixture
def draft():
    return OfferingFactory(slug="draft", title="Work in progress", status=OfferingStatus.DRAFT, published_at=None)


def test_draft_is_404_for_visitors_learners_and_other_creators(client, web, draft):
    assert client.get("/courses/draft").status_code == 404
    UserFactory(email="learner@example.org")
    web.login("learner@example.org", PASSWORD)
    assert client.get("/courses/draft").status_code == 404
    web.logout()
    other = CreatorProfileFactory()
    web.login(other.user.email, PASSWORD)
    assert client.get("/courses/draft").status_code == 404


def test_owner_previews_their_draft_with_a_banner_and_no_working_buy_button(client, web, draft):
    web.login(draft.creator.user.email, PASSWORD)
    html = page(client, "draft")
    assert "Draft — only you can see this page" in html
    assert "Work in progress" in html
    form = checkout_form(html)
    assert "<fieldset disabled>" in form


def test_admin_can_see_a_draft(client, web, draft):
    UserFactory(email="admin@example.org", is_admin=True)
    web.login("admin@example.org", PASSWORD)
    html = page(client, "draft")
    assert "Draft — only its creator and the operators can see this page" in html


def test_owner_of_a_published_offering_gets_a_link_to_edit_it(client, web):
    offering = OfferingFactory(slug="mine")
    web.login(offering.creator.user.email, PASSWORD)
    html = page(client, "mine")
    assert "This is how learners see your offering" in html
    assert "Draft —" not in html


# ---------------------------------------------------------------------------
# Preview lessons
# ---------------------------------------------------------------------------


def test_visitor_opens_a_preview_video_but_not_a_paid_lesson(client):
    offering = OfferingFactory(slug="previewed")
    section = SectionFactory(offering=offering)
    video = media_asset(offering.creator.user, "welcome.mp4", "video/mp4")
    captions = media_asset(offering.creator.user, "welcome.vtt", "text/vtt")
    free = LessonFactory(
        section=section,
        title="Welcome",
        kind=LessonKind.VIDEO,
        media_asset=video,
        captions_asset=captions,
        body="Notes **here**.",
        is_preview=True,
    )
    paid = LessonFactory(section=section, title="The real thing", kind=LessonKind.TEXT, body="Paid words.")

    response = client.get(f"/courses/previewed/preview/{free.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    src = f"/learn/previewed/lessons/{free.id}"
    assert re.search(rf'<video controls[^>]*src="{src}/media"', html)
    assert re.search(rf'<track kind="captions" src="{src}/captions"', html)
    # The page's links lead a visitor to short-lived links to the files themselves.
    assert client.get(f"{src}/media").location.startswith("/media/")
    assert client.get(f"{src}/captions").location.startswith("/media/")
    assert "<strong>here</strong>" in html
    assert "Welcome" in html and "See the full course" in html

    assert client.get(f"/courses/previewed/preview/{paid.id}").status_code == 404
    # A preview lesson asked for under another offering's address is not found either.
    OfferingFactory(slug="elsewhere")
    assert client.get(f"/courses/elsewhere/preview/{free.id}").status_code == 404


def test_preview_audio_text_and_download_lessons(client):
    offering = OfferingFactory(slug="mixed")
    section = SectionFactory(offering=offering)
    owner = offering.creator.user
    audio = LessonFactory(
        section=section,
        kind=LessonKind.VIDEO,
        media_asset=media_asset(owner, "talk.mp3", "audio/mpeg"),
        is_preview=True,
    )
    text = LessonFactory(section=section, kind=LessonKind.TEXT, body="# Heading\n\nPlain *words*.", is_preview=True)
    handout = LessonFactory(
        section=section,
        kind=LessonKind.DOWNLOAD,
        media_asset=media_asset(owner, "worksheet.pdf", "application/pdf", size_bytes=50_000),
        is_preview=True,
    )
    html = client.get(f"/courses/mixed/preview/{audio.id}").get_data(as_text=True)
    assert re.search(rf'<audio controls[^>]*src="/learn/mixed/lessons/{audio.id}/media"', html) and "<video" not in html
    html = client.get(f"/courses/mixed/preview/{text.id}").get_data(as_text=True)
    assert "<em>words</em>" in html and "<video" not in html and "<audio" not in html
    html = client.get(f"/courses/mixed/preview/{handout.id}").get_data(as_text=True)
    src = f"/learn/mixed/lessons/{handout.id}/media"
    assert f'<a class="button" href="{src}?download=1">Download</a>' in html
    # A PDF is always saved, never shown on the site's origin: there is no "Open" to offer.
    assert f'href="{src}"' not in html and "48.8 KB" in html


def test_previews_of_archived_offerings_open_and_of_drafts_only_for_the_owner(client, web):
    archived = OfferingFactory(slug="archived", status=OfferingStatus.ARCHIVED)
    lesson = LessonFactory(section=SectionFactory(offering=archived), is_preview=True)
    assert client.get(f"/courses/archived/preview/{lesson.id}").status_code == 200

    draft = OfferingFactory(slug="draft", status=OfferingStatus.DRAFT, published_at=None)
    lesson = LessonFactory(section=SectionFactory(offering=draft), is_preview=True)
    assert client.get(f"/courses/draft/preview/{lesson.id}").status_code == 404
    web.login(draft.creator.user.email, PASSWORD)
    html = client.get(f"/courses/draft/preview/{lesson.id}").get_data(as_text=True)
    assert "Draft — only you can see this page" in html


def test_preview_lesson_lists_the_other_previews(client):
    offering = OfferingFactory(slug="many")
    section = SectionFactory(offering=offering)
    one = LessonFactory(section=section, title="First free", is_preview=True, position=0)
    two = LessonFactory(section=section, title="Second free", is_preview=True, position=1)
    LessonFactory(section=section, title="Paid only", position=2)
    html = client.get(f"/courses/many/preview/{one.id}").get_data(as_text=True)
    assert f'href="/courses/many/preview/{two.id}">Second free</a>' in html
    assert "Paid only" not in html
