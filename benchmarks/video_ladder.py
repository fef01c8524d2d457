"""What the HLS ladder costs and saves: transcoding time per minute of 1080p source on this machine, the
bytes a learner downloads for 5 minutes at 360p against the original, and the video bytes that pass
through the web process in S3 mode while a learner streams (there should be none).

Run from the project root:

    .venv/bin/python benchmarks/video_ladder.py               # a 5-minute 1080p source
    .venv/bin/python benchmarks/video_ladder.py --seconds 60  # a shorter one

What it does, all on this machine and all thrown away at the end:

* makes a 1080p30 source with ffmpeg: a moving test pattern with film grain (so it doesn't compress
  to nothing) and a tone, H.264 at 8 Mb/s as a phone or a screen recorder writes it;
* times `FfmpegTranscoder.make_ladder` (the job's own code) on it: 360p, 720p and 1080p rungs,
  poster and thumbnail, and reports seconds per minute of source and the ratio to real time;
* adds up the 360p rung's playlists and segments for the whole source against the original file;
* starts moto's S3 server and the app in S3 mode behind a traffic meter (as `media_traffic.py`
  does), stores the source in the bucket, runs the app's own probe and ladder jobs, and has an
  enrolled learner stream the 360p rung through /learn/<slug>/lessons/<id>/hls/: every playlist
  from the app, every segment by the app's redirect to the bucket. It prints the bytes the app
  sent, playlists and segments apart, and exits with status 1 if any segment byte went through
  the app (status 2 when the journey itself failed).

Timings are this run on this machine (2 cores here, shared with other work), not production.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_support import throwaway_database
from benchmarks.media_traffic import (
    attach_video,
    build_app,
    build_schema_and_people,
    dispose_engine,
    human,
    log_in,
    serve,
    start_moto,
    storage_url,
)
from benchmarks.traffic_meter import TrafficMeter
from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.jobs import dispatch_committed
from courseplatform.media.ladder import FfmpegTranscoder, Source
from courseplatform.media.processing import start_probe
from courseplatform.models import MediaAsset, MediaStatus


def make_source(path: Path, seconds: int, binary: str) -> float:
    """A 1080p30 recording of `seconds`, H.264 at 8 Mb/s with AAC sound; returns how long making it took."""
    began = time.perf_counter()
    subprocess.run(
        [binary, "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-maxrate", "8M",
         "-bufsize", "16M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        check=True, timeout=seconds * 20 + 120,
    )  # fmt: skip
    return time.perf_counter() - began


def rung_bytes(folder: Path, rung: str) -> int:
    return sum(path.stat().st_size for path in (folder / rung).iterdir()) + (folder / "master.m3u8").stat().st_size


def stream_through_app(source: Path, seconds: int, stack: ExitStack) -> tuple[int, int, int, int]:
    """Stream the 360p rung through the app in S3 mode: (segments, bytes from the bucket, playlist bytes
    the app sent, segment bytes the app sent)."""
    scratch = Path(tempfile.mkdtemp(prefix="aqueduct_bench_ladder_"))
    stack.callback(shutil.rmtree, scratch, ignore_errors=True)
    moto_url = start_moto(stack)
    database_url, _database = throwaway_database(stack)
    app = build_app(database_url, moto_url, scratch)
    app.config["JOB_RUNNER"] = "inline"
    stack.callback(dispose_engine, app)
    world = build_schema_and_people(app)
    with app.app_context():
        from courseplatform.models import User

        owner = db.session.query(User).filter_by(email=world.creator_email).one()
        key = f"uploads/{owner.id}/bench/recording.mp4"
        with source.open("rb") as stream:
            size = get_storage().save(key, stream, "video/mp4")
        asset = MediaAsset(
            owner_id=owner.id, storage_key=key, original_name="recording.mp4", content_type="video/mp4",
            size_bytes=size, status=MediaStatus.READY,
        )  # fmt: skip
        db.session.add(asset)
        db.session.flush()
        start_probe(asset)
        db.session.commit()
        dispatch_committed()  # the probe, then the ladder it queues, in this process
        asset_id = asset.id
        ready = db.session.get(MediaAsset, asset_id).ladder_status
        db.session.remove()
    if ready != "ready":
        raise RuntimeError(f"the ladder wasn't made ({ready})")
    attach_video(app, world.lesson_id, asset_id)
    meter = TrafficMeter(app.wsgi_app)
    app.wsgi_app = meter
    base = serve(app, stack)
    with requests.Session() as learner:
        log_in(learner, base, world.learner_email)
        stream_path = f"/learn/{world.slug}/lessons/{world.lesson_id}/hls/"
        meter.reset()
        master = learner.get(base + stream_path + "master.m3u8", timeout=30)
        master.raise_for_status()
        rung = learner.get(base + stream_path + "360p/index.m3u8", timeout=30)
        rung.raise_for_status()
        segments = [line for line in rung.text.splitlines() if line and not line.startswith("#")]
        fetched = 0
        for name in segments:
            hop = learner.get(base + stream_path + "360p/" + name, allow_redirects=False, timeout=30)
            if hop.status_code != 302:
                raise RuntimeError(f"segment {name}: {hop.status_code}")
            with requests.get(storage_url(base, hop.headers["Location"]), timeout=60) as answer:
                answer.raise_for_status()
                fetched += len(answer.content)
    playlists = sum(e.body_out for e in meter.exchanges if e.path.endswith(".m3u8"))
    segment_bytes = sum(e.media_bytes for e in meter.exchanges if e.path.endswith(".ts"))
    return len(segments), fetched, playlists, segment_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="length of the 1080p source; 300")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    binary = shutil.which("ffmpeg") or __import__("imageio_ffmpeg").get_ffmpeg_exe()
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="aqueduct_bench_ladder_"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        source = work / "recording.mp4"
        print(f"Aqueduct HLS ladder: a {args.seconds} s 1080p30 source, ffmpeg {binary}")
        made_in = make_source(source, args.seconds, binary)
        ladder_folder = work / "ladder"
        ladder_folder.mkdir()
        began = time.perf_counter()
        ladder = FfmpegTranscoder(binary).make_ladder(
            Source(str(source), 1920, 1080, args.seconds, True), ladder_folder, lambda done: None
        )
        took = time.perf_counter() - began
        original = source.stat().st_size
        low = rung_bytes(ladder_folder, "360p")
        minutes = args.seconds / 60
        try:
            segments, fetched, playlists, through_app = stream_through_app(source, args.seconds, stack)
        except (RuntimeError, requests.RequestException, subprocess.SubprocessError) as error:
            print(f"the journey failed: {error}", file=sys.stderr)
            return 2
        rows = [
            ("source", f"{human(original)} ({original * 8 / args.seconds / 1e6:.1f} Mb/s), made in {made_in:.1f} s"),
            ("rungs", ", ".join(f"{height}p" for height in ladder.heights)),
            ("transcoding (3 rungs, poster, thumbnail)", f"{took:.1f} s: {took / minutes:.1f} s per minute of source"),
            ("transcoding speed", f"{args.seconds / took:.2f}x real time"),
            (f"learner's bytes for {args.seconds / 60:g} min at 360p", f"{human(low)} ({low:,} B)"),
            (f"learner's bytes for {args.seconds / 60:g} min, original", f"{human(original)} ({original:,} B)"),
            ("360p / original", f"{low / original:.1%} ({original / low:.1f}x fewer bytes)"),
            ("S3 mode: segments streamed", f"{segments} ({human(fetched)} from the bucket)"),
            ("S3 mode: playlist bytes from the app", f"{playlists:,} B"),
            ("S3 mode: segment bytes through the app", f"{through_app:,} B"),
        ]
        width = max(len(label) for label, _ in rows)
        print()
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        if through_app:
            print(f"FAILED: {through_app:,} segment bytes went through the app", file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
