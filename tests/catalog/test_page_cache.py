"""The shared cache of public pages: served to visitors without an account, fresh after any change,
never personal, answered with 304 when the browser has it, and its forms still work."""

from __future__ import annotations

import html as markup
import os
import uuid

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import OfferingKind, Order, WaitlistEntry
from courseplatform.page_cache import MemoryStore, StoredPage, page_cache

from ..admin.test_suspensions import suspend_creator
from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..factories.live import live_session

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PUBLIC_PAGES = ("/", "/courses", "/courses?q=grounding&sort=title", "/courses/grounding", "/t/maya")
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def cache(app, monkeypatch):
    """The page cache on, in this process's memory, empty before and after the test."""
    monkeypatch.setitem(app.config, "PAGE_CACHE", "memory")
    with app.app_context():
        page_cache().clear()
    yield
    with app.app_context():
        page_cache().clear()


@pytest.fixture
def redis_cache(app, monkeypatch):
    """The page cache in the local Redis, under a prefix of this test's own."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip("no Redis at " + REDIS_URL)
    monkeypatch.setitem(app.config, "PAGE_CACHE", "redis")
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "PAGE_CACHE_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
    yield redis.Redis.from_url(REDIS_URL)
    with app.app_context():
        page_cache().clear()


@pytest.fixture
def visitor(app):
    """A second browser, without an account and without cookies."""
    return app.test_client()


@pytest.fixture
def maya():
    creator = CreatorProfileFactory(
        slug="maya", display_name="Maya Chen", user__email="maya@example.org", user__name="Maya Chen"
    )
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    LessonFactory(section=SectionFactory(offering=offering), title="Breathing")
    db.session.commit()
    return creator


def text(response) -> str:
    return markup.unescape(response.get_data(as_text=True))


def test_a_second_anonymous_view_runs_no_sql_and_is_the_same_page(cache, maya, visitor, count_queries):
    for url in PUBLIC_PAGES:
        first = visitor.get(url)
        assert first.status_code == 200 and "Set-Cookie" not in first.headers
        with count_queries() as counter:
            second = visitor.get(url)
        assert counter.count == 0, (url, counter.statements)
        assert second.get_data() == first.get_data()
        assert second.headers["ETag"] == first.headers["ETag"]
        assert second.headers["Cache-Control"] == "no-cache" and "Cookie" in second.headers["Vary"]
        assert second.headers["Last-Modified"] and second.headers["Content-Security-Policy"]


def test_each_query_string_is_a_page_of_its_own(cache, maya, visitor):
    assert "Grounding Skills" in text(visitor.get("/courses?q=grounding"))
    assert "Grounding Skills" not in text(visitor.get("/courses?q=knitting"))
    assert "Grounding Skills" in text(visitor.get("/courses?q=grounding"))


def test_a_browser_that_has_the_page_gets_304_without_a_render(cache, maya, visitor, count_queries):
    etag = visitor.get("/courses/grounding").headers["ETag"]
    with count_queries() as counter:
        again = visitor.get("/courses/grounding", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and counter.count == 0
    assert again.headers["ETag"] == etag
    assert visitor.get("/courses/grounding", headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_a_fresh_render_answers_304_too_when_nothing_changed(cache, maya, visitor):
    etag = visitor.get("/t/maya").headers["ETag"]
    page_cache().clear()
    assert visitor.get("/t/maya", headers={"If-None-Match": etag}).status_code == 304


def test_an_offering_edited_in_the_studio_shows_on_the_next_anonymous_view(cache, maya, visitor, web):
    offering = maya.offerings[0]
    for url in PUBLIC_PAGES:
        assert "Grounding Skills" in text(visitor.get(url)), url
    etag = visitor.get("/courses/grounding").headers["ETag"]

    web.login("maya@example.org", PASSWORD)
    details = {"kind": offering.kind.value, "title": "Grounding for Clinicians", "slug": "grounding"}
    saved = web.submit(
        f"/studio/courses/{offering.id}/edit", {**details, "price_kind": "fixed", "price_cents": "59.00"}
    )
    assert "Your changes are saved." in text(saved)

    for url in ("/", "/courses", "/courses/grounding", "/t/maya"):
        html = text(visitor.get(url))
        assert "Grounding for Clinicians" in html and "Grounding Skills" not in html, url
    assert "$59" in text(visitor.get("/courses/grounding"))
    assert visitor.get("/courses/grounding", headers={"If-None-Match": etag}).status_code == 200


def test_a_suspended_creator_leaves_the_cached_pages_at_once(cache, maya, visitor, web):
    assert visitor.get("/t/maya").status_code == 200
    assert "Buy now" in text(visitor.get("/courses/grounding"))
    assert "Grounding Skills" in text(visitor.get("/courses"))

    web.login(UserFactory(email="ops@example.org", is_admin=True).email, PASSWORD)
    suspend_creator(web.client, maya)

    assert visitor.get("/t/maya").status_code == 404
    assert "isn't available right now" in text(visitor.get("/courses/grounding"))
    assert "Grounding Skills" not in text(visitor.get("/courses"))
    assert "Grounding Skills" not in text(visitor.get("/"))


def test_a_purchase_taking_the_last_seat_shows_on_the_next_anonymous_view(cache, maya, visitor, web):
    workshop = OfferingFactory(creator=maya, slug="circle", kind=OfferingKind.LIVE_WORKSHOP, price_cents=2500)
    live_session(workshop, capacity=1)
    db.session.commit()
    assert "1 seat left" in text(visitor.get("/courses/circle"))

    web.login(UserFactory(email="ana@example.org").email, PASSWORD)
    held = web.submit("/courses/circle/checkout", {}, form_url="/courses/circle", follow_redirects=False)
    assert held.status_code in (302, 303)

    html = text(visitor.get("/courses/circle"))
    assert "This workshop is full" in html and "1 seat left" not in html


def test_learners_opening_lessons_leave_the_shared_pages_cached(cache, maya, visitor, web, count_queries):
    offering = maya.offerings[0]
    second = LessonFactory(section=offering.sections[0], title="Noticing")
    learner = UserFactory(email="ana@example.org")
    EnrollmentFactory(user=learner, offering=offering)
    db.session.commit()
    visitor.get("/courses/grounding")

    web.login(learner.email, PASSWORD)
    assert web.client.get(f"/learn/grounding/lessons/{second.id}").status_code == 200

    with count_queries() as counter:
        visitor.get("/courses/grounding")
    assert counter.count == 0, "a lesson visit outdated every public page"


def test_a_logged_in_visitor_never_gets_nor_leaves_a_shared_page(cache, maya, visitor, web, count_queries):
    anonymous = text(visitor.get("/courses/grounding"))
    assert "Log in" in anonymous

    web.login(UserFactory(email="jo@example.org", name="Jo Park").email, PASSWORD)
    page_cache().clear()
    with count_queries() as counter:
        mine = web.client.get("/courses/grounding")
    assert counter.count > 0
    assert "Jo" in text(mine) and "Log out" in text(mine) and 'name="csrf_token"' in text(mine)
    assert mine.headers["Cache-Control"] == "private, no-cache" and "ETag" not in mine.headers

    again = text(visitor.get("/courses/grounding"))
    assert "Log out" not in again and "jo@example.org" not in again and 'name="csrf_token"' not in again


def test_a_remembered_login_without_a_session_is_never_served_the_shared_page(cache, maya, visitor, web):
    visitor.get("/courses/grounding")
    web.login(UserFactory(email="jo@example.org", name="Jo Park").email, PASSWORD, remember=True)
    web.client.delete_cookie("session")
    assert "Log out" in text(web.client.get("/courses/grounding"))


def test_a_shared_page_holds_no_csrf_token_and_sets_no_cookie(cache, maya, visitor):
    html = text(visitor.get("/courses/grounding"))
    assert 'action="/courses/grounding/checkout"' in html
    assert "csrf_token" not in html
    assert visitor.get_cookie("session") is None


def test_flashed_messages_are_never_shared(cache, visitor, app):
    OfferingFactory(slug="soon", title="Grounding Skills", waitlist_only=True)
    db.session.commit()
    assert "Join the waitlist" in text(visitor.get("/courses/soon"))

    joined = visitor.post("/courses/soon/waitlist", data={"email": "jo@example.org"}, headers=SAME_ORIGIN)
    assert joined.status_code == 302
    mine = text(visitor.get("/courses/soon"))
    assert "We'll e-mail jo@example.org once" in mine
    assert "You're on the waitlist" in mine

    stranger = text(app.test_client().get("/courses/soon"))
    assert "jo@example.org" not in stranger and "You're on the waitlist" not in stranger
    assert 'action="/courses/soon/waitlist"' in stranger


def test_the_waitlist_form_of_a_shared_page_works_and_refuses_other_sites(cache, visitor):
    offering = OfferingFactory(slug="soon", waitlist_only=True)
    db.session.commit()
    visitor.get("/courses/soon")

    def waiting() -> list[str]:
        return list(db.session.scalars(sa.select(WaitlistEntry.email).where(WaitlistEntry.offering_id == offering.id)))

    for forged in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/courses/soon"},
        {},
    ):
        refused = visitor.post("/courses/soon/waitlist", data={"email": "jo@example.org"}, headers=forged)
        assert refused.status_code == 400, forged
        assert "sent from somewhere else" in text(refused)
    assert waiting() == []

    for own in (SAME_ORIGIN, {"Origin": "http://localhost"}, {"Referer": "http://aqueduct.test/courses/soon"}):
        assert visitor.post("/courses/soon/waitlist", data={"email": "jo@example.org"}, headers=own).status_code == 302
    assert waiting() == ["jo@example.org"]


def test_a_bad_email_from_a_shared_page_gets_its_message(cache, visitor):
    OfferingFactory(slug="soon", waitlist_only=True)
    db.session.commit()
    response = visitor.post("/courses/soon/waitlist", data={"email": "not-an-address"}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert "Join the waitlist" in text(response) and "csrf_token" not in text(response)


def test_buy_on_a_shared_page_leads_to_log_in_and_refuses_other_sites(cache, maya, visitor):
    visitor.get("/courses/grounding")
    refused = visitor.post("/courses/grounding/checkout", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 400

    started = visitor.post("/courses/grounding/checkout", headers=SAME_ORIGIN)
    assert started.status_code == 302 and started.headers["Location"] == "/login?next=/courses/grounding"
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_a_logged_in_buyer_still_needs_the_token_whatever_the_origin(cache, maya, web):
    web.login(UserFactory(email="jo@example.org").email, PASSWORD)
    response = web.client.post("/courses/grounding/checkout", headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_pages_live_in_redis_when_configured(redis_cache, maya, visitor, web, count_queries, app):
    first = visitor.get("/courses/grounding")
    with count_queries() as counter:
        second = visitor.get("/courses/grounding")
    assert counter.count == 0 and second.get_data() == first.get_data()
    prefix = app.config["PAGE_CACHE_PREFIX"]
    assert any(key.startswith(f"{prefix}:pages:".encode()) for key in redis_cache.scan_iter(match=f"{prefix}:*"))

    web.login("maya@example.org", PASSWORD)
    offering = maya.offerings[0]
    details = {"kind": offering.kind.value, "title": "Grounding Again", "slug": "grounding", "price_kind": "fixed"}
    web.submit(f"/studio/courses/{offering.id}/edit", {**details, "price_cents": "49.00"})
    assert "Grounding Again" in text(visitor.get("/courses/grounding"))


def test_an_unreachable_redis_only_costs_the_cache(app, monkeypatch, maya, visitor):
    monkeypatch.setitem(app.config, "PAGE_CACHE", "redis")
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    assert "Grounding Skills" in text(visitor.get("/courses/grounding"))
    assert "Grounding Skills" in text(visitor.get("/courses/grounding"))


def test_the_cache_off_renders_every_view_as_before(app, maya, visitor, count_queries):
    assert app.config["PAGE_CACHE"] == "off"
    visitor.get("/courses/grounding")
    with count_queries() as counter:
        html = text(visitor.get("/courses/grounding"))
    assert counter.count > 0 and 'name="csrf_token"' in html


# ---------------------------------------------------------------------------
# The in-process store


def page(version: str, size: int) -> StoredPage:
    return StoredPage(version, b"x" * size, [("Content-Type", "text/html")], "etag")


def test_the_memory_store_forgets_the_least_recently_used_page_past_its_size(tmp_path):
    store = MemoryStore(tmp_path / "version", max_bytes=8 * 1000)
    version, _ = store.lookup("/a")
    for key in ("/a", "/b", "/c"):
        store.keep(key, page(version, 1000), 60)
    store.lookup("/a")  # used again: /b is now the oldest
    for n in range(6):
        store.keep(f"/more{n}", page(version, 1000), 60)
    assert store.lookup("/a")[1] is not None
    assert store.lookup("/b")[1] is None
    assert store.size <= store.max_bytes
    store.keep("/huge", page(version, 2000), 60)  # over an eighth of the store: never kept
    assert store.lookup("/huge")[1] is None


def test_a_change_in_one_process_outdates_the_pages_of_another(tmp_path):
    mine, theirs = MemoryStore(tmp_path / "version", 10**6), MemoryStore(tmp_path / "version", 10**6)
    version, _ = theirs.lookup("/")
    theirs.keep("/", page(version, 10), 60)
    mine.bump()
    now, kept = theirs.lookup("/")
    assert kept is not None and kept.version != now


def test_a_page_expires_after_its_time(tmp_path, monkeypatch):
    import courseplatform.page_cache as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    store = MemoryStore(tmp_path / "version", 10**6)
    store.keep("/", page("", 10), 60)
    clock[0] += 59
    assert store.lookup("/")[1] is not None
    clock[0] += 2
    assert store.lookup("/")[1] is None


def test_an_address_with_arguments_the_page_does_not_read_is_rendered_but_never_stored(
    cache, maya, visitor, count_queries
):
    visitor.get("/courses/grounding")
    for n in range(3):
        made_up = visitor.get(f"/courses/grounding?utm_source=mail&x={n}")
        assert made_up.status_code == 200 and "Grounding Skills" in text(made_up)
    with count_queries() as counter:
        again = visitor.get("/courses/grounding?utm_source=mail&x=0")
    assert counter.count > 0, "a made-up query string was stored"
    assert "Set-Cookie" not in again.headers and 'name="csrf_token"' not in text(again)
    visitor.get("/courses?q=grounding&sort=title&page=1")
    with count_queries() as counter:
        visitor.get("/courses/grounding")
        visitor.get("/courses?q=grounding&sort=title&page=1")
    assert counter.count == 0, "the pages' own addresses stopped being shared"
