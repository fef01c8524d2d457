"""Who may play a lesson's files: /learn/<slug>/lessons/<id>/media|captions hands out a short-lived
link (302) to the owner, admins, active learners and free-preview visitors, and 403 to everyone
else; the link then plays from storage (local disk or S3) with HTTP Range. The lesson page resumes
where the learner stopped, and costs the same number of queries however long the offering is."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from werkzeug.http import parse_options_header

from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.models import (
    CreatorProfile,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonKind,
    LessonProgress,
    MediaAsset,
    MediaStatus,
    Offering,
    OfferingStatus,
    User,
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
from ..helpers import Browserless, csrf_token_from

CAPTIONS = b"WEBVTT\n\n00:00.000 --> 00:02.000\nWelcome.\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
START_AT_RE = re.compile(r'data-start-at="([^"]*)"')


# ---------------------------------------------------------------------------
# Building an offering and the people around it
# ---------------------------------------------------------------------------


@dataclass
class World:
    """One published offering by a creator, with a video lesson (and captions), a free preview,
    and the people who ask for its files."""

    owner: CreatorProfile
    offering: Offering
    lesson: Lesson
    preview: Lesson
    learner: User
    enrollment: Enrollment
    admin: User
    stranger: User
    other_creator: CreatorProfile
    video_key: str
    captions_key: str

    def url(self, lesson: Lesson | None = None, suffix: str = "") -> str:
        lesson = lesson or self.lesson
        return f"/learn/{self.offering.slug}/lessons/{lesson.id}{suffix}"

    def person(self, who: str) -> User | None:
        return {
            "owner": self.owner.user,
            "admin": self.admin,
            "learner": self.learner,
            "stranger": self.stranger,
            "other_creator": self.other_creator.user,
            "anonymous": None,
        }[who]


def unique_key(owner_id: int, name: str) -> str:
    """A key of its own for every test: the moto bucket lives for the whole run."""
    return f"uploads/{owner_id}/{uuid.uuid4().hex}/{name}"


def ready_asset(owner_user, key: str, name: str, content_type: str, size: int, **fields) -> MediaAsset:
    asset = MediaAsset(
        owner_id=owner_user.id,
        storage_key=key,
        original_name=name,
        content_type=content_type,
        size_bytes=size,
        status=fields.pop("status", MediaStatus.READY),
        **fields,
    )
    db.session.add(asset)
    db.session.flush()
    return asset


@pytest.fixture
def store(backend):
    """Store checked files (`backend.store`), and remove them from the run-wide moto bucket
    afterwards (local files live in the test's own folder)."""
    keys: list[str] = []

    def post(key: str, body: bytes, content_type: str) -> None:
        backend.store(key, body, content_type)
        keys.append(key)

    yield post
    for key in keys:
        backend.storage.delete(key)


def build_world(store=None, video: bytes = b"\x00" * 1000, status: OfferingStatus = OfferingStatus.PUBLISHED) -> World:
    """The offering; with `store`, its files are really stored (uploaded as a browser would)."""
    owner = CreatorProfileFactory(user__email="owner@example.org")
    offering = OfferingFactory(creator=owner, slug="grief-work", status=status)
    section = SectionFactory(offering=offering, position=0, title="Beginnings")
    video_key = unique_key(owner.user_id, "welcome.mp4")
    captions_key = unique_key(owner.user_id, "welcome.vtt")
    if store is not None:
        store(video_key, video, "video/mp4")
        store(captions_key, CAPTIONS, "text/vtt")
    video_asset = ready_asset(owner.user, video_key, "welcome.mp4", "video/mp4", len(video))
    captions_asset = ready_asset(owner.user, captions_key, "welcome.vtt", "text/vtt", len(CAPTIONS))
    preview = LessonFactory(
        section=section, position=0, title="Free first look", kind=LessonKind.VIDEO, is_preview=True
    )
    preview.media_asset = video_asset
    lesson = LessonFactory(section=section, position=1, title="Sitting with loss", kind=LessonKind.VIDEO)
    lesson.media_asset = video_asset
    lesson.captions_asset = captions_asset
    learner = UserFactory(email="learner@example.org")
    enrollment = EnrollmentFactory(user=learner, offering=offering)
    other_creator = CreatorProfileFactory(user__email="other-creator@example.org")
    OfferingFactory(creator=other_creator, slug="other-offering")
    world = World(
        owner=owner,
        offering=offering,
        lesson=lesson,
        preview=preview,
        learner=learner,
        enrollment=enrollment,
        admin=UserFactory(email="admin@example.org", is_admin=True),
        stranger=UserFactory(email="stranger@example.org"),
        other_creator=other_creator,
        video_key=video_key,
        captions_key=captions_key,
    )
    db.session.flush()
    return world


def signed_in(app, user) -> Browserless:
    """A browser of its own, logged in as `user` (or anonymous for None)."""
    browser = Browserless(app.test_client())
    if user is not None:
        answer = browser.login(user.email, PASSWORD)
        assert answer.status_code == 200 and "logged in." in answer.get_data(as_text=True), "login failed"
    return browser


def link(browser: Browserless, url: str) -> str:
    """Ask the app for a playback link; it must answer 302, private and uncached."""
    with browser.client.get(url) as answer:
        assert answer.status_code == 302, (url, answer.status_code)
        assert answer.headers["Cache-Control"] == "private, no-store"
        return answer.headers["Location"]


def status_of(browser: Browserless, url: str) -> int:
    with browser.client.get(url) as answer:
        return answer.status_code


def fetch(backend, location: str, **headers) -> requests.Response:
    """Follow a playback link over real HTTP, as the browser's <video> element does."""
    answer = requests.get(backend.absolute(location), headers=headers, timeout=30)
    answer.close()
    return answer


def progress_rows(enrollment_id: int) -> list[tuple[int, int]]:
    db.session.expire_all()
    return db.session.execute(
        sa.select(LessonProgress.lesson_id, LessonProgress.position_seconds).where(
            LessonProgress.enrollment_id == enrollment_id
        )
    ).all()


# ---------------------------------------------------------------------------
# 1. Those with access get a link that plays, with ranges, on both backends
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin", "learner"])
def test_owner_admin_and_active_learner_get_a_link_that_plays_with_ranges(who, app, backend, store, demo_video):
    world = build_world(store, demo_video)
    browser = signed_in(app, world.person(who))

    location = link(browser, world.url(suffix="/media"))
    ranged = fetch(backend, location, Range="bytes=0-99")

    assert ranged.status_code == 206
    assert ranged.content == demo_video[:100]
    assert ranged.headers["Content-Range"] == f"bytes 0-99/{len(demo_video)}"
    assert ranged.headers["Content-Type"] == "video/mp4"
    middle = fetch(backend, location, Range="bytes=1000-1099")  # seeking
    assert (middle.status_code, middle.content) == (206, demo_video[1000:1100])
    whole = fetch(backend, location)
    assert (whole.status_code, whole.content) == (200, demo_video)

    captions = fetch(backend, link(browser, world.url(suffix="/captions")))
    assert (captions.status_code, captions.content) == (200, CAPTIONS)


@pytest.mark.parametrize(
    ("who", "note"),
    [
        ("owner", "You're seeing this lesson as its creator."),
        ("admin", "You're seeing this lesson as an admin."),
        ("learner", None),
    ],
)
def test_lesson_page_shows_the_player_and_only_learners_save_their_place(who, note, app):
    world = build_world()
    browser = signed_in(app, world.person(who))

    with browser.client.get(world.url()) as page:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
    media = world.url(suffix="/media")
    assert f'<video controls preload="metadata" playsinline src="{media}"' in html
    assert f'<track kind="captions" src="{world.url(suffix="/captions")}"' in html
    assert START_AT_RE.search(html).group(1) == "0"
    if note:
        assert note in html
        assert "data-position-url" not in html
    else:
        assert "You're seeing this lesson as" not in html
        assert f'data-position-url="{world.url(suffix="/position")}"' in html


# ---------------------------------------------------------------------------
# 2. Everyone else gets 403 for the files, and no player
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["stranger", "other_creator", "anonymous"])
def test_people_without_access_get_403_for_the_files_and_no_player(who, app):
    world = build_world()
    browser = signed_in(app, world.person(who))

    for suffix in ("/media", "/captions", "/media?download=1"):
        with browser.client.get(world.url(suffix=suffix)) as answer:
            assert answer.status_code == 403, suffix
            assert "Location" not in answer.headers

    with browser.client.get(world.url()) as page:
        assert page.status_code == 302
        location = page.headers["Location"]
    if who == "anonymous":
        assert urlsplit(location).path == "/login"
        assert parse_qs(urlsplit(location).query)["next"] == [world.url()]
    else:
        assert location == f"/courses/{world.offering.slug}"
        with browser.client.get(location) as offering_page:
            html = offering_page.get_data(as_text=True)
        assert "Enroll in this offering to open its lessons." in html
        assert "data-player" not in html
        assert world.url(suffix="/media") not in html


# ---------------------------------------------------------------------------
# 3. Suspending or revoking the enrollment stops the very next link
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [EnrollmentStatus.SUSPENDED, EnrollmentStatus.REVOKED])
def test_suspended_or_revoked_learner_gets_no_new_link(status, app):
    world = build_world()
    browser = signed_in(app, world.learner)
    link(browser, world.url(suffix="/media"))

    world.enrollment.status = status
    db.session.flush()

    assert status_of(browser, world.url(suffix="/media")) == 403
    assert status_of(browser, world.url(suffix="/captions")) == 403
    with browser.client.get(world.url()) as page:
        assert page.status_code == 403, "the lesson page says why access ended"
        assert "Your access" in page.get_data(as_text=True)
    # ...but the free preview stays open to them, as to anyone
    assert status_of(browser, world.url(world.preview, "/media")) == 302

    world.enrollment.status = EnrollmentStatus.ACTIVE  # a dispute won gives access back
    db.session.flush()
    assert status_of(browser, world.url(suffix="/media")) == 302


# ---------------------------------------------------------------------------
# 4. Free previews: open to anyone once the offering is out, closed while it is a draft
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [OfferingStatus.PUBLISHED, OfferingStatus.ARCHIVED])
def test_anonymous_visitor_plays_a_free_preview_of_an_offering_that_is_out(status, app, backend, store, demo_video):
    world = build_world(store, demo_video, status=status)
    browser = signed_in(app, None)

    ranged = fetch(backend, link(browser, world.url(world.preview, "/media")), Range="bytes=0-99")
    assert (ranged.status_code, ranged.content) == (206, demo_video[:100])
    # the lesson page sends them to the public preview page; the other lessons stay closed
    with browser.client.get(world.url(world.preview)) as page:
        assert page.headers["Location"] == f"/courses/{world.offering.slug}/preview/{world.preview.id}"
    assert status_of(browser, world.url(suffix="/media")) == 403


def test_free_preview_of_a_draft_offering_is_closed(app):
    world = build_world(status=OfferingStatus.DRAFT)
    browser = signed_in(app, None)

    assert status_of(browser, world.url(world.preview, "/media")) == 403
    assert status_of(browser, world.url(world.preview)) == 404
    # the owner still checks their draft
    assert status_of(signed_in(app, world.owner.user), world.url(world.preview, "/media")) == 302


# ---------------------------------------------------------------------------
# 5. The links themselves: expiring, signed, refused when tampered with
# ---------------------------------------------------------------------------


def tampered_token(location: str) -> str:
    head, token = location.rsplit("/", 1)
    middle = len(token) // 2
    return f"{head}/{token[:middle]}{'A' if token[middle] != 'A' else 'B'}{token[middle + 1 :]}"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_local_link_expires_after_the_configured_time_and_refuses_tampering(
    app, monkeypatch, backend, store, demo_video
):
    monkeypatch.setitem(app.config, "MEDIA_URL_SECONDS", 120)
    world = build_world(store, demo_video)
    browser = signed_in(app, world.learner)

    location = link(browser, world.url(suffix="/media"))
    assert location.startswith("/media/")
    grant = get_storage().playback_grant(location.rsplit("/", 1)[1])
    assert (grant.key, grant.delivery.content_type) == (world.video_key, "video/mp4")
    assert 115 <= grant.expires_at - time.time() <= 121
    assert fetch(backend, location, Range="bytes=0-99").status_code == 206

    assert fetch(backend, tampered_token(location)).status_code == 403
    expired = get_storage().playback_url(world.video_key, content_type="video/mp4", filename="a.mp4", expires_in=-1)
    assert fetch(backend, expired).status_code == 403
    # a signed link is for the key it names and nothing else: 404 for a key with no file
    nothing = get_storage().playback_url("uploads/nothing-here.mp4", content_type="video/mp4", filename="a.mp4")
    assert fetch(backend, nothing).status_code == 404


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_link_is_presigned_for_the_configured_time(app, monkeypatch, backend, store, demo_video, moto_url):
    monkeypatch.setitem(app.config, "MEDIA_URL_SECONDS", 120)
    world = build_world(store, demo_video)
    browser = signed_in(app, world.learner)

    location = link(browser, world.url(suffix="/media"))
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == moto_url
    assert parts.path == f"/{get_storage().bucket}/{world.video_key}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Credential"][0].startswith("testing/")
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0])
    assert fetch(backend, location, Range="bytes=0-99").content == demo_video[:100]
    # moto (5.2.5) checks neither the signature nor the expiry of a presigned GET on an existing
    # object (see moto/s3/responses.py: the signature is only looked at when the key is missing),
    # so a tampered or expired link cannot be shown to be refused here; real S3 answers 403.


# ---------------------------------------------------------------------------
# 6. Downloads are named attachments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Grief worksheet.pdf", "Übung – Woche 1.pdf"])
def test_download_link_saves_the_handout_under_its_name(name, app, backend, store):
    world = build_world()
    key = unique_key(world.owner.user_id, "handout.pdf")
    store(key, PDF, "application/pdf")
    handout = LessonFactory(section=world.lesson.section, position=2, title="Worksheet", kind=LessonKind.DOWNLOAD)
    handout.media_asset = ready_asset(world.owner.user, key, name, "application/pdf", len(PDF))
    db.session.flush()
    browser = signed_in(app, world.learner)

    with browser.client.get(world.url(handout)) as page:
        assert f'href="{world.url(handout, "/media")}?download=1">Download</a>' in page.get_data(as_text=True)

    download = fetch(backend, link(browser, world.url(handout, "/media?download=1")))
    assert (download.status_code, download.content) == (200, PDF)
    assert download.headers["Content-Type"] == "application/pdf"
    disposition, params = parse_options_header(download.headers["Content-Disposition"])
    assert (disposition, params["filename"]) == ("attachment", name)

    # A PDF is never shown on our origin: even without ?download=1 it is saved.
    opened = fetch(backend, link(browser, world.url(handout, "/media")))
    assert (opened.status_code, opened.content) == (200, PDF)
    assert parse_options_header(opened.headers["Content-Disposition"]) == ("attachment", params)


# ---------------------------------------------------------------------------
# 7. Where I stopped watching
# ---------------------------------------------------------------------------


class Player:
    """The lesson page's script: reads the resume point and posts the position as JSON."""

    def __init__(self, browser: Browserless, world: World) -> None:
        self.browser = browser
        self.world = world
        self.token = META_CSRF_RE.search(self.page()).group(1)

    def page(self) -> str:
        with self.browser.client.get(self.world.url()) as page:
            assert page.status_code == 200
            return page.get_data(as_text=True)

    def start_at(self) -> str:
        return START_AT_RE.search(self.page()).group(1)

    def post(self, body=None, *, data: str | None = None, token: str | None = "") -> tuple[int, dict | None]:
        headers = {"X-CSRFToken": self.token if token == "" else token} if token is not None else {}
        kwargs = {"data": data, "content_type": "application/json"} if data is not None else {"json": body}
        with self.browser.client.post(self.world.url(suffix="/position"), headers=headers, **kwargs) as answer:
            return answer.status_code, answer.get_json(silent=True)


def test_learner_position_is_saved_and_the_lesson_resumes_there(app):
    world = build_world()
    player = Player(signed_in(app, world.learner), world)
    assert player.start_at() == "0"

    assert player.post({"seconds": 95}) == (200, {"saved": True})
    assert player.start_at() == "95"
    assert progress_rows(world.enrollment.id) == [(world.lesson.id, 95)]

    assert player.post({"seconds": 130.7}) == (200, {"saved": True})
    assert player.start_at() == "130"
    assert progress_rows(world.enrollment.id) == [(world.lesson.id, 130)]  # updated, not a second row


@pytest.mark.parametrize(
    "body",
    [
        {"seconds": "x"},
        {"seconds": "95"},
        {"seconds": -1},
        {"seconds": True},
        {"seconds": None},
        {"seconds": 86_401},
        {},
        [95],
        95,
    ],
    ids=repr,
)
def test_bad_position_bodies_are_refused_and_nothing_is_saved(body, app):
    world = build_world()
    player = Player(signed_in(app, world.learner), world)

    status, answer = player.post(body)

    assert status == 400
    assert "error" in answer
    assert progress_rows(world.enrollment.id) == []
    assert player.start_at() == "0"


@pytest.mark.parametrize("raw", ["seconds=95", '{"seconds": NaN}', '{"seconds": Infinity}', ""])
def test_position_that_is_not_a_finite_json_number_is_refused(raw, app):
    world = build_world()
    player = Player(signed_in(app, world.learner), world)

    assert player.post(data=raw)[0] == 400
    assert progress_rows(world.enrollment.id) == []


def test_position_without_the_csrf_token_is_refused(app):
    world = build_world()
    player = Player(signed_in(app, world.learner), world)

    assert player.post({"seconds": 95}, token=None)[0] == 400
    assert player.post({"seconds": 95}, token="forged")[0] == 400
    assert progress_rows(world.enrollment.id) == []


@pytest.mark.parametrize("who", ["stranger", "other_creator"])
def test_position_from_someone_without_access_is_refused(who, app):
    world = build_world()
    browser = signed_in(app, world.person(who))
    with browser.client.get("/account") as account:
        token = csrf_token_from(account.get_data(as_text=True))

    with browser.client.post(world.url(suffix="/position"), json={"seconds": 95}, headers={"X-CSRFToken": token}) as r:
        assert r.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_anonymous_position_is_sent_to_log_in(app):
    world = build_world()
    browser = signed_in(app, None)
    with browser.client.get("/login") as login_page:
        token = csrf_token_from(login_page.get_data(as_text=True))

    with browser.client.post(world.url(suffix="/position"), json={"seconds": 95}, headers={"X-CSRFToken": token}) as r:
        assert r.status_code == 302
        assert urlsplit(r.headers["Location"]).path == "/login"
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owner_and_admin_positions_are_not_saved(who, app):
    world = build_world()
    player = Player(signed_in(app, world.person(who)), world)

    assert player.post({"seconds": 95}) == (200, {"saved": False})
    assert player.post({"seconds": "x"})[0] == 400  # the body is still checked
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0
    assert player.start_at() == "0"


# ---------------------------------------------------------------------------
# 8. The lesson page's cost does not grow with the offering
# ---------------------------------------------------------------------------


def build_offering(size: int):
    """An offering of `size` lessons over four sections, a learner with progress in each."""
    owner = CreatorProfileFactory(user__email=f"owner{size}@example.org")
    offering = OfferingFactory(creator=owner, slug=f"long-{size}")
    learner = UserFactory(email=f"learner{size}@example.org")
    admin = UserFactory(email=f"admin{size}@example.org", is_admin=True)
    enrollment = EnrollmentFactory(user=learner, offering=offering)
    sections = [SectionFactory(offering=offering, position=n) for n in range(4)]
    captions = ready_asset(owner.user, unique_key(owner.user_id, "c.vtt"), "c.vtt", "text/vtt", 10)
    lessons = []
    for n in range(size):
        video = ready_asset(owner.user, unique_key(owner.user_id, f"{n}.mp4"), f"{n}.mp4", "video/mp4", 1000)
        lesson = LessonFactory(section=sections[n % 4], position=n, kind=LessonKind.VIDEO, is_preview=n == 0)
        lesson.media_asset = video
        lesson.captions_asset = captions
        lessons.append(lesson)
    db.session.flush()
    for lesson in lessons:
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, position_seconds=30))
    db.session.flush()
    people = {"learner": learner, "owner": owner.user, "admin": admin}
    return offering, lessons[size // 2], people


@pytest.mark.parametrize("who", ["learner", "owner", "admin"])
def test_lesson_page_runs_the_same_number_of_queries_for_3_and_40_lessons(who, app, count_queries):
    counts = []
    for size in (3, 40):
        offering, lesson, people = build_offering(size)
        browser = signed_in(app, people[who])
        url = f"/learn/{offering.slug}/lessons/{lesson.id}"
        with count_queries() as counter, browser.client.get(url) as page:
            assert page.status_code == 200
            html = page.get_data(as_text=True)
        assert html.count(f'href="/learn/{offering.slug}/lessons/') >= size - 1  # the whole outline is there
        assert START_AT_RE.search(html).group(1) == ("30" if who == "learner" else "0")
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 lessons, {counts[1]} with 40"


# ---------------------------------------------------------------------------
# 9. Nothing to play, or the wrong offering: 404
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["no file", MediaStatus.PENDING, MediaStatus.FAILED])
def test_lesson_whose_file_is_missing_or_not_ready_gives_404(state, app):
    world = build_world()
    if state == "no file":
        world.lesson.media_asset = None
        world.lesson.captions_asset = None
    else:
        world.lesson.media_asset.status = state
        world.lesson.captions_asset.status = state
    db.session.flush()
    browser = signed_in(app, world.owner.user)

    assert status_of(browser, world.url(suffix="/media")) == 404
    assert status_of(browser, world.url(suffix="/captions")) == 404
    with browser.client.get(world.url()) as page:
        html = page.get_data(as_text=True)
    assert "The file for this lesson isn't available yet." in html
    assert "data-player" not in html


def test_captions_missing_gives_404_while_the_video_plays(app):
    world = build_world()
    browser = signed_in(app, world.learner)

    assert status_of(browser, world.url(world.preview, "/captions")) == 404
    assert status_of(browser, world.url(world.preview, "/media")) == 302


@pytest.mark.parametrize("who", ["admin", "owner", "learner"])
def test_lesson_id_under_another_offerings_slug_gives_404(who, app):
    world = build_world()
    # the learner is enrolled in both, the owner owns both: still no lesson under the wrong slug
    other = OfferingFactory(creator=world.owner, slug="second-offering")
    EnrollmentFactory(user=world.learner, offering=other)
    browser = signed_in(app, world.person(who))

    for slug in (other.slug, "other-offering", "no-such-offering"):
        base = f"/learn/{slug}/lessons/{world.lesson.id}"
        for url in (base, base + "/media", base + "/captions"):
            assert status_of(browser, url) == 404, url
    assert status_of(browser, f"/learn/{world.offering.slug}/lessons/999999/media") == 404
    if who == "learner":
        token = META_CSRF_RE.search(Player(browser, world).page()).group(1)
        with browser.client.post(
            f"/learn/{other.slug}/lessons/{world.lesson.id}/position",
            json={"seconds": 95},
            headers={"X-CSRFToken": token},
        ) as answer:
            assert answer.status_code == 404
        assert progress_rows(world.enrollment.id) == []
