"""Media bytes bypass the web process: a creator uploads a large video and a learner plays it
back, over real HTTP, while a meter around the app counts every byte the app reads and writes.

In S3 mode the whole journey costs the app a few kilobytes of JSON, forms and redirects, while
tens of megabytes go between the browser and the bucket. On the local backend the app does
serve the bytes, but streams them from disk with `send_file` rather than reading the file into
memory. Speed is measured by `benchmarks/media_traffic.py`, not here.
"""

from __future__ import annotations

import hashlib
import random
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server

from benchmarks.traffic_meter import QuietHandler, TrafficMeter
from courseplatform.extensions import db
from courseplatform.integrations.storage import LocalStorage, get_storage
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)
from ..helpers import DEMO_VIDEO, csrf_token_from

KiB = 1024
MiB = 1024**2
# Everything the app reads and writes for the whole S3 journey: logins, pages, JSON, redirects.
APP_TRAFFIC_BUDGET = 64 * KiB
# No request the app receives, and no answer of the upload API or playback links, carries more
# than a small JSON document, form or redirect.
SMALL_BODY = 4 * KiB
# Streaming a file keeps a few buffers alive, never the file.
STREAMING_MEMORY_BUDGET = 8 * MiB


# ---------------------------------------------------------------------------
# A meter around the app: every request body byte read, every response byte written
# ---------------------------------------------------------------------------


@pytest.fixture
def metered(app) -> Iterator[tuple[str, TrafficMeter]]:
    """The session app behind a TrafficMeter, served on a free loopback port."""
    meter = TrafficMeter(app.wsgi_app)
    server = make_server("127.0.0.1", 0, meter, threaded=False, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", meter
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# ---------------------------------------------------------------------------
# The browser's side
# ---------------------------------------------------------------------------


def log_in(session: requests.Session, base: str, email: str) -> None:
    with session.get(f"{base}/login", timeout=10) as page:
        token = csrf_token_from(page.text)
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    with session.post(f"{base}/login", data=data, allow_redirects=False, timeout=10) as answer:
        assert answer.status_code == 302, "login failed"


def csrf_header(session: requests.Session, base: str) -> dict:
    with session.get(f"{base}/account", timeout=10) as page:
        return {"X-CSRFToken": csrf_token_from(page.text)}


def post_json(session: requests.Session, url: str, headers: dict, body: dict) -> tuple[int, dict]:
    with session.post(url, json=body, headers=headers, timeout=30) as answer:
        return answer.status_code, answer.json()


def video_bytes(size: int, seed: int = 7) -> bytes:
    """A real MP4's opening (the server sniffs it), then filler up to `size` bytes."""
    head = DEMO_VIDEO.read_bytes()
    return head + random.Random(seed).randbytes(size - len(head))


def media_link(session: requests.Session, url: str) -> str:
    """Ask the app for a playback link, as the player does: it must answer with a redirect."""
    with session.get(url, allow_redirects=False, timeout=10) as answer:
        assert answer.status_code == 302, (url, answer.status_code)
        return answer.headers["Location"]


def download(url: str, digest, **headers) -> tuple[int, int, CaseInsensitiveDict]:
    """Stream `url` into `digest` in 256 KiB pieces; returns status, byte count and headers."""
    received = 0
    with requests.get(url, headers=headers, stream=True, timeout=60) as answer:
        for chunk in answer.iter_content(256 * KiB):
            digest.update(chunk)
            received += len(chunk)
        return answer.status_code, received, answer.headers


def byte_ranges(size: int, count: int) -> list[tuple[int, int]]:
    step = -(-size // count)
    return [(start, min(start + step, size) - 1) for start in range(0, size, step)]


@dataclass
class World:
    creator_id: int
    creator_email: str
    learner_email: str
    slug: str
    lesson_id: int

    @property
    def media_path(self) -> str:
        return f"/learn/{self.slug}/lessons/{self.lesson_id}/media"


def build_world() -> World:
    """A creator's world with an empty video lesson, and a learner enrolled in it."""
    creator = CreatorProfileFactory(user__email="maya@example.org")
    offering = OfferingFactory(creator=creator, slug="grief-work")
    section = SectionFactory(offering=offering, position=0)
    lesson = LessonFactory(section=section, position=0, kind=LessonKind.VIDEO, title="Sitting with loss")
    learner = UserFactory(email="learner@example.org")
    EnrollmentFactory(user=learner, offering=offering)
    db.session.flush()
    return World(creator.user_id, creator.user.email, learner.email, offering.slug, lesson.id)


def attach(world: World, asset_id: int) -> MediaAsset:
    """The studio's lesson form would do this; here the test sets the lesson's video itself."""
    db.session.expire_all()
    asset = db.session.get(MediaAsset, asset_id)
    db.session.get(Lesson, world.lesson_id).media_asset = asset
    db.session.flush()
    return asset


# ---------------------------------------------------------------------------
# S3: the bytes go between browser and bucket; the app only signs and checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_upload_and_playback_of_a_large_video_move_no_media_bytes_through_the_app(
    app, monkeypatch, backend, metered
):
    base, meter = metered
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 6 * MiB)
    video = video_bytes(24 * MiB - 12_345)
    world = build_world()
    key = None

    try:
        # The creator uploads: the app answers with part links; the parts go to the bucket.
        with requests.Session() as creator:
            log_in(creator, base, world.creator_email)
            headers = csrf_header(creator, base)
            status, started = post_json(
                creator,
                f"{base}/studio/uploads",
                headers,
                {
                    "filename": "sitting-with-loss.mp4",
                    "content_type": "video/mp4",
                    "size": len(video),
                    "purpose": "video",
                },
            )
            assert status == 201, started
            assert (started["method"], started["part_size"], started["part_count"]) == ("multipart", 6 * MiB, 4)
            asset_id = started["asset_id"]
            status, signed = post_json(
                creator, f"{base}/studio/uploads/{asset_id}/parts", headers, {"part_numbers": [1, 2, 3, 4]}
            )
            assert status == 200, signed
            sent = 0
            for number in range(1, 5):
                url = signed["urls"][str(number)]
                assert not url.startswith(base), "a part link must point at the bucket, not at the app"
                body = video[(number - 1) * 6 * MiB : number * 6 * MiB]
                with requests.put(url, data=body, timeout=60) as answer:
                    assert answer.status_code == 200, answer.text
                sent += len(body)
            status, confirmed = post_json(creator, f"{base}/studio/uploads/{asset_id}/complete", headers, {})
        assert status == 200, confirmed
        assert (confirmed["status"], confirmed["size"], confirmed["reason"]) == ("ready", len(video), None)
        assert sent == len(video)

        key = attach(world, asset_id).storage_key
        stored, in_bucket = get_storage().open(key), hashlib.sha256()
        try:
            for chunk in stored.iter_chunks(MiB):
                in_bucket.update(chunk)
        finally:
            stored.close()
        assert in_bucket.hexdigest() == hashlib.sha256(video).hexdigest()

        # The learner plays it: three seeks, each asking the app for a fresh link, then the whole file.
        with requests.Session() as learner:
            log_in(learner, base, world.learner_email)
            ranged = hashlib.sha256()
            for start, end in byte_ranges(len(video), 3):
                location = media_link(learner, base + world.media_path)
                assert urlsplit(location).netloc != urlsplit(base).netloc, "playback must go to the bucket"
                status, received, answer_headers = download(location, ranged, Range=f"bytes={start}-{end}")
                assert status == 206
                assert answer_headers["Content-Range"] == f"bytes {start}-{end}/{len(video)}"
                assert received == end - start + 1
            whole = hashlib.sha256()
            status, received, _ = download(media_link(learner, base + world.media_path), whole)
            assert (status, received) == (200, len(video))
    finally:
        if key is not None:
            get_storage().delete(key)

    expected = hashlib.sha256(video).hexdigest()
    assert ranged.hexdigest() == expected
    assert whole.hexdigest() == expected

    # The app saw logins, pages, JSON and redirects: kilobytes, against the 72 MiB that moved.
    report = meter.describe()
    assert meter.total < APP_TRAFFIC_BUDGET, report
    assert max(max(e.body_in, e.declared_in) for e in meter.exchanges) <= SMALL_BODY, report
    media_calls = [e for e in meter.exchanges if e.path.startswith(("/studio/uploads", "/learn/"))]
    assert len(media_calls) == 7, report  # start, parts, complete, and four links to play
    assert all(e.body_out <= SMALL_BODY for e in media_calls), report


# ---------------------------------------------------------------------------
# Local disk: the app serves the bytes itself, streamed from the file
# ---------------------------------------------------------------------------


def write_video(path: Path, size: int) -> str:
    """Write an MP4 head and filler to `path` a mebibyte at a time; returns the file's sha256."""
    digest = hashlib.sha256()
    filler = random.Random(11).randbytes(MiB)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        head = DEMO_VIDEO.read_bytes()
        out.write(head)
        digest.update(head)
        written = len(head)
        while written < size:
            # No two pieces alike: each starts with its offset.
            piece = (written.to_bytes(8, "big") + filler[8:])[: min(MiB, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


def read_range(path: Path, start: int, end: int) -> bytes:
    with path.open("rb") as file:
        file.seek(start)
        return file.read(end - start + 1)


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_local_playback_streams_the_file_from_disk_without_holding_it_in_memory(app, backend, metered):
    base, meter = metered
    world = build_world()
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    size = 50 * MiB + 4321
    key = f"uploads/{world.creator_id}/traffic/long-session.mp4"
    path = storage.path(key)
    expected = write_video(path, size)
    try:
        asset = MediaAsset(
            owner_id=world.creator_id,
            storage_key=key,
            original_name="long-session.mp4",
            content_type="video/mp4",
            size_bytes=size,
            status=MediaStatus.READY,
        )
        db.session.add(asset)
        db.session.flush()
        attach(world, asset.id)

        with requests.Session() as learner:
            log_in(learner, base, world.learner_email)
            location = media_link(learner, base + world.media_path)
            assert location.startswith("/media/")
            meter.reset()

            # Seeking: 206 with exactly the bytes asked for, wherever they are in the file.
            for start, end in [(0, 99), (size // 2, size // 2 + 65_535), (size - 1000, size - 1)]:
                with requests.get(base + location, headers={"Range": f"bytes={start}-{end}"}, timeout=30) as part:
                    assert part.status_code == 206
                    assert part.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
                    assert part.content == read_range(path, start, end)

            # The whole file, while tracing every allocation of this process (both the app's thread
            # and this one, which reads the answer a quarter of a mebibyte at a time).
            whole = hashlib.sha256()
            was_tracing = tracemalloc.is_tracing()
            if not was_tracing:
                tracemalloc.start()
            try:
                status, received, headers = download(base + location, whole)
                streamed = meter.exchanges[-1]
                assert streamed.path == location
                # The client can hold the last byte before the server thread reads the peak.
                assert streamed.finished.wait(30), "the server never closed the streamed body"
                peak_growth = streamed.traced_growth
            finally:
                if not was_tracing:
                    tracemalloc.stop()
    finally:
        path.unlink(missing_ok=True)

    assert (status, received, headers["Content-Type"]) == (200, size, "video/mp4")
    assert whole.hexdigest() == expected
    assert peak_growth is not None
    assert peak_growth < STREAMING_MEMORY_BUDGET, f"serving {size} bytes took {peak_growth} bytes of memory"

    served = [e for e in meter.exchanges if e.path.startswith("/media/")]
    report = meter.describe()
    assert [e.body_kind for e in served] == ["_RangeWrapper"] * 3 + ["FileWrapper"], report
    # The meter does see media bytes when they pass through the app.
    assert [e.body_out for e in served] == [100, 65_536, 1000, size], report
