"""How many bytes pass through the web app when a creator uploads a large video and a learner plays it, in S3 mode.

Run from the project root:

    .venv/bin/python benchmarks/media_traffic.py                  # a 200 MB video
    .venv/bin/python benchmarks/media_traffic.py --size-mb 1000   # any size (1 MB = 1,000,000 bytes)

What it does, all on this machine and all thrown away at the end:

* starts moto's S3 server on a free loopback port, with a bucket;
* creates a database `aqueduct_bench_<random>` on the PostgreSQL server of BENCH_DATABASE_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres), or an SQLite file in a temporary
  folder when no PostgreSQL answers, and builds the schema with the migrations;
* builds the app in S3 mode (STORAGE_BACKEND=s3 at moto, the default part sizes), wraps its
  WSGI callable in a meter counting every request body byte the app reads and every response
  byte it writes (headers included, approximately), and serves it on loopback;
* a creator logs in and uploads the video through the studio's JSON API: the parts are
  generated on the fly (an MP4 head, then filler) and PUT straight to moto, one part in memory
  at a time; the app is asked to complete and check the upload;
* the video is set as a lesson's video, and an enrolled learner plays it through
  /learn/<slug>/lessons/<id>/media: a few seeks (Range requests, each asking the app for a
  fresh link) and then the whole file, every byte checked against the upload's sha256;
* prints the figures, and exits with status 1 when the app's traffic went over 1 MiB or any
  media bytes went through it (status 2 when the journey itself failed).

Timings cover logging in, generating and hashing the file, and moto: an in-process S3 double
on loopback, keeping objects in memory (the process grows to about five times the file's
size). They say how long this run took on this machine, not how fast production is.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from bench_support import free_port, throwaway_database  # this script's folder is on sys.path
from moto.server import ThreadedMotoServer
from traffic_meter import QuietHandler, TrafficMeter
from werkzeug.serving import make_server

from courseplatform import create_app
from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.models import Lesson, MediaAsset

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
KiB = 1024
MiB = 1024**2
APP_TRAFFIC_LIMIT = 1 * MiB
BUCKET = "aqueduct-bench-media"
DEMO_VIDEO = PROJECT_ROOT / "courseplatform" / "demo" / "welcome.mp4"
PASSWORD = secrets.token_urlsafe(16)


# ---------------------------------------------------------------------------
# Throw-away servers and database
# ---------------------------------------------------------------------------


def start_moto(stack: ExitStack) -> str:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    stack.callback(server.stop)
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with requests.put(f"{url}/{BUCKET}", timeout=30) as created:
        created.raise_for_status()
    return url


def serve(app, stack: ExitStack) -> str:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    stack.callback(stop)
    return f"http://127.0.0.1:{server.server_port}"


def build_app(database_url: str, moto_url: str, scratch: Path):
    # Credentials for moto only; a developer's real ones never leave this process.
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ.pop("AWS_SESSION_TOKEN", None)
    return create_app(
        {
            "TESTING": True,  # keeps a developer's .env (real S3, Stripe keys) out of the benchmark
            "ENV_NAME": "benchmark",
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": moto_url,
            "AWS_REGION": "us-east-1",
            "MEDIA_ROOT": str(scratch / "media"),
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(scratch / "mail"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "TRUSTED_PROXY_HOPS": 0,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        }
    )


def dispose_engine(app) -> None:
    with app.app_context():
        db.engine.dispose()


@dataclass
class World:
    creator_email: str
    learner_email: str
    slug: str
    lesson_id: int

    @property
    def media_path(self) -> str:
        return f"/learn/{self.slug}/lessons/{self.lesson_id}/media"


def build_schema_and_people(app) -> World:
    """The schema (by the migrations), then a creator's published offering and an enrolled learner."""
    from flask_migrate import upgrade

    from courseplatform.accounts.services import hash_password
    from courseplatform.models import (
        CreatorProfile,
        Enrollment,
        EnrollmentSource,
        LessonKind,
        Offering,
        OfferingKind,
        OfferingStatus,
        Section,
        User,
        utcnow,
    )

    with app.app_context():
        logging.disable(logging.INFO)  # the migrations' progress lines
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        password_hash = hash_password(PASSWORD)
        creator = User(email="creator@bench.test", name="Bench Creator", password_hash=password_hash)
        learner = User(email="learner@bench.test", name="Bench Learner", password_hash=password_hash)
        profile = CreatorProfile(user=creator, slug="bench-creator", display_name="Bench Creator")
        offering = Offering(
            creator=profile,
            kind=OfferingKind.COURSE,
            title="Long sessions",
            slug="long-sessions",
            price_cents=0,
            status=OfferingStatus.PUBLISHED,
            published_at=utcnow(),
        )
        section = Section(offering=offering, title="Recordings", position=0)
        lesson = Lesson(section=section, title="A long session", kind=LessonKind.VIDEO, position=0)
        db.session.add_all([creator, learner, profile, offering, section, lesson])
        db.session.flush()
        db.session.add(Enrollment(user_id=learner.id, offering_id=offering.id, source=EnrollmentSource.FREE))
        db.session.commit()
        world = World(creator.email, learner.email, offering.slug, lesson.id)
        db.session.remove()
        return world


def attach_video(app, lesson_id: int, asset_id: int) -> None:
    """What the studio's lesson form does once the upload is ready."""
    with app.app_context():
        db.session.get(Lesson, lesson_id).media_asset_id = asset_id
        db.session.commit()
        db.session.remove()


# ---------------------------------------------------------------------------
# The browser's side
# ---------------------------------------------------------------------------


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if match is None:
        raise RuntimeError("the page has no CSRF token")
    return match.group(1)


def log_in(session: requests.Session, base: str, email: str) -> None:
    with session.get(f"{base}/login", timeout=30) as page:
        token = csrf_token(page.text)
    data = {"csrf_token": token, "email": email, "password": PASSWORD}
    with session.post(f"{base}/login", data=data, allow_redirects=False, timeout=30) as answer:
        if answer.status_code != 302:
            raise RuntimeError(f"login as {email} failed: {answer.status_code}")


def post_json(session: requests.Session, url: str, headers: dict, body: dict) -> dict:
    with session.post(url, json=body, headers=headers, timeout=120) as answer:
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"POST {url} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()


class GeneratedVideo:
    """A video of `size` bytes made on demand, one part at a time: an MP4's opening, then filler."""

    def __init__(self, size: int, seed: int = 2024) -> None:
        self.head = DEMO_VIDEO.read_bytes()
        if size < len(self.head):
            raise ValueError(f"the video must be at least {len(self.head)} bytes")
        self.size = size
        self.seed = seed

    def part(self, start: int, length: int) -> bytes:
        """Bytes [start, start + length) of the file; parts always start on a part boundary."""
        filler = random.Random(f"{self.seed}:{start}").randbytes(length)
        if start < len(self.head):
            overlap = self.head[start : start + length]
            return overlap + filler[len(overlap) :]
        return filler


def upload(base: str, world: World, video: GeneratedVideo) -> tuple[int, int, str, int]:
    """The creator's upload, as static/js/uploader.js does it; returns asset id, bytes sent, sha256 and parts."""
    digest, sent, parts = hashlib.sha256(), 0, []
    with requests.Session() as creator:
        log_in(creator, base, world.creator_email)
        with creator.get(f"{base}/account", timeout=30) as page:
            headers = {"X-CSRFToken": csrf_token(page.text)}
        started = post_json(
            creator,
            f"{base}/studio/uploads",
            headers,
            {"filename": "long-session.mp4", "content_type": "video/mp4", "size": video.size, "purpose": "video"},
        )
        asset_id = started["asset_id"]
        if started["method"] == "post":  # at most MULTIPART_THRESHOLD_BYTES: one presigned POST
            body = video.part(0, video.size)
            files = {"file": ("long-session.mp4", body, "video/mp4")}
            url = storage_url(base, started["url"])
            with requests.post(url, data=started["fields"], files=files, timeout=300) as answer:
                answer.raise_for_status()
            digest.update(body)
            sent = len(body)
            confirmed = post_json(creator, f"{base}/studio/uploads/{asset_id}/confirm", headers, {})
        else:
            part_size, part_count = started["part_size"], started["part_count"]
            for first in range(1, part_count + 1, 100):
                numbers = list(range(first, min(first + 100, part_count + 1)))
                asked = {"part_numbers": numbers}
                urls = post_json(creator, f"{base}/studio/uploads/{asset_id}/parts", headers, asked)["urls"]
                for number in numbers:
                    start = (number - 1) * part_size
                    body = video.part(start, min(part_size, video.size - start))
                    with requests.put(storage_url(base, urls[str(number)]), data=body, timeout=300) as answer:
                        answer.raise_for_status()
                        parts.append(number)
                    digest.update(body)
                    sent += len(body)
                    del body
            confirmed = post_json(creator, f"{base}/studio/uploads/{asset_id}/complete", headers, {})
    if confirmed["status"] != "ready":
        raise RuntimeError(f"the upload was not accepted: {confirmed}")
    return asset_id, sent, digest.hexdigest(), len(parts) or 1


def storage_url(base: str, url: str) -> str:
    """A link the app handed out, checked to point at storage rather than back at the app."""
    if urlsplit(url).netloc in ("", urlsplit(base).netloc):
        raise RuntimeError(f"a link points at the app, not at storage: {url[:80]}")
    return url


def fetch(url: str, digest, **headers) -> int:
    """Stream `url` into `digest`; returns the bytes received."""
    received = 0
    with requests.get(url, headers=headers, stream=True, timeout=300) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(MiB):
            digest.update(chunk)
            received += len(chunk)
    return received


def play(base: str, world: World, size: int, seeks: int) -> tuple[int, str, str, float, float]:
    """The learner's playback: `seeks` ranges covering the file, then the whole file."""
    with requests.Session() as learner:
        log_in(learner, base, world.learner_email)

        def link() -> str:
            with learner.get(base + world.media_path, allow_redirects=False, timeout=30) as answer:
                if answer.status_code != 302:
                    raise RuntimeError(f"the lesson's media answered {answer.status_code}")
                return storage_url(base, answer.headers["Location"])

        received, ranged, whole = 0, hashlib.sha256(), hashlib.sha256()
        began = time.perf_counter()
        step = -(-size // seeks)
        for start in range(0, size, step):
            end = min(start + step, size) - 1
            got = fetch(link(), ranged, Range=f"bytes={start}-{end}")
            if got != end - start + 1:
                raise RuntimeError(f"range {start}-{end} brought {got} bytes")
            received += got
        ranges_seconds = time.perf_counter() - began
        began = time.perf_counter()
        received += fetch(link(), whole)
        whole_seconds = time.perf_counter() - began
    return received, ranged.hexdigest(), whole.hexdigest(), ranges_seconds, whole_seconds


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=200, help="size of the video in MB (10^6 bytes); 200")
    parser.add_argument("--seeks", type=int, default=4, help="Range requests covering the file before the full play; 4")
    args = parser.parse_args(argv)
    size = int(args.size_mb * MB)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_bench_files_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        moto_url = start_moto(stack)
        database_url, database = throwaway_database(stack)
        app = build_app(database_url, moto_url, scratch)
        stack.callback(dispose_engine, app)
        world = build_schema_and_people(app)
        meter = TrafficMeter(app.wsgi_app)
        app.wsgi_app = meter
        base = serve(app, stack)
        video = GeneratedVideo(size)
        print(f"Aqueduct media traffic: a {size / MB:,.0f} MB video, S3 mode (moto at {moto_url}), {database}")

        try:
            began = time.perf_counter()
            asset_id, sent, uploaded_sha, part_count = upload(base, world, video)
            upload_seconds = time.perf_counter() - began
            upload_calls = len(meter.exchanges)
            attach_video(app, world.lesson_id, asset_id)
            received, ranged_sha, whole_sha, ranges_seconds, whole_seconds = play(base, world, size, args.seeks)
        except (RuntimeError, requests.RequestException) as error:
            print(f"the journey failed: {error}", file=sys.stderr)
            return 2

        intact = uploaded_sha == ranged_sha == whole_sha and sent == size
        exchanges = meter.exchanges
        bytes_in = sum(e.bytes_in for e in exchanges)
        bytes_out = sum(e.bytes_out for e in exchanges)
        largest_in = max(max(e.body_in, e.declared_in) for e in exchanges)
        largest_out = max(e.body_out for e in exchanges)
        media_through_app = sum(e.media_bytes for e in exchanges)
        moved = sent + received
        with app.app_context():
            storage = get_storage()
            key = db.session.get(MediaAsset, asset_id).storage_key
            stored = storage.head(key)
            storage.delete(key)
            db.session.remove()

        rows = [
            ("file size", f"{size:,} B ({human(size)})"),
            ("bytes uploaded to storage", f"{sent:,} B in {part_count} part(s), straight to the bucket"),
            ("object size in the bucket", f"{stored.size:,} B" if stored else "missing"),
            ("bytes streamed from storage", f"{received:,} B ({args.seeks} ranges + 1 full play)"),
            ("content intact (sha256)", "yes" if intact else "NO"),
            (
                "app requests",
                f"{len(exchanges)} ({upload_calls} to upload, {len(exchanges) - upload_calls} to play)",
            ),
            ("app bytes in", f"{bytes_in:,} B (largest request body {largest_in:,} B)"),
            ("app bytes out", f"{bytes_out:,} B (largest response body {largest_out:,} B)"),
            ("app bytes / media bytes", f"{(bytes_in + bytes_out) / moved:.6%}"),
            ("upload time", f"{upload_seconds:.1f} s ({size / MB / upload_seconds:,.1f} MB/s)"),
            (
                "download time",
                f"{ranges_seconds + whole_seconds:.1f} s (ranges {ranges_seconds:.1f} s, full {whole_seconds:.1f} s, "
                f"{received / MB / (ranges_seconds + whole_seconds):,.1f} MB/s)",
            ),
        ]
        width = max(len(label) for label, _ in rows)
        print()
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        print()
        print("  app requests:")
        for e in exchanges:
            print(f"    {e.method:<5} {e.path[:48]:<48} {e.status[:3]}  in {e.bytes_in:>6,} B  out {e.bytes_out:>6,} B")
        print()
        print(f"media bytes through the app: {media_through_app:,}")

        failures = []
        if not intact or stored is None or stored.size != size:
            failures.append("the bytes that came back are not the bytes that were sent")
        if bytes_in + bytes_out > APP_TRAFFIC_LIMIT:
            failures.append(f"the app's traffic ({bytes_in + bytes_out:,} B) is over {APP_TRAFFIC_LIMIT:,} B")
        if media_through_app:
            failures.append(f"{media_through_app:,} media bytes went through the app")
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
