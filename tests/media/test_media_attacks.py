"""Attacks from a hostile review of the media probe, the HLS ladder and its streaming, each a defect found and fixed."""

from __future__ import annotations

import subprocess
import time

import pytest

from courseplatform.models import MediaAsset

from ..factories import PASSWORD, OfferingFactory
from .samples import make_samples
from .test_upload_forms import Browser, reload


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("review-samples"))


def ffprobe_size(path) -> str:
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return found.stdout.strip()


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_crafted_mp3_cannot_make_the_ladder_read_a_file_on_the_server(web, client, backend, tmp_path):
    """An 'MP3' that is an ID3 tag, an HLS playlist naming a file on the server, then a small MPEG-TS video.
    PyAV's FFmpeg (8.x) probes it as the MPEG-TS decoy, so the probe passes and a ladder is queued (for an
    audio file!); the system ffmpeg skips the ID3 tag, detects HLS, and transcodes the server's file."""
    secret = tmp_path / "private-recording.mp4"  # any media file the app can read (another creator's upload...)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=red:size=208x144:rate=25", "-t", "7",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(secret)],
        check=True, timeout=120,
    )  # fmt: skip
    decoy = tmp_path / "decoy.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts", str(decoy)],
        check=True, timeout=120,
    )  # fmt: skip
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:7,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    crafted = b"ID3\x04\x00\x00\x00\x00\x00\x00" + playlist + decoy.read_bytes()

    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload("talk.mp3", crafted, "audio/mpeg", "audio")
    asset = reload(MediaAsset, uploaded["asset_id"])
    # Expected: the ladder never reads anything but the upload itself (and an audio file gets no ladder).
    if asset.ladder_status == "ready":
        rung = f"renditions/{asset.id}/{asset.ladder_heights[0]}p/index.m3u8"
        with backend.storage.open(rung) as stream:
            lengths = [
                float(line[8:].rstrip(",")) for line in stream.read().decode().split() if line.startswith("#EXTINF:")
            ]
        # The upload's own video is 2 s of 320x240; the server's private file is 7 s of 208x144.
        assert sum(lengths) < 3, f"the ladder holds {sum(lengths):.0f} s read from {secret.name} on the server"
    assert asset.ladder_status is None, f"an audio upload got a ladder: {asset.ladder_status} {asset.ladder_heights}"


def upload_video(web, client, backend, samples, name="lecture.mp4", body=None) -> MediaAsset:
    offering = OfferingFactory(title="Grounding Skills", slug="grounding")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(
        name, body if body is not None else samples[name].read_bytes(), "video/mp4", "video"
    )
    assert uploaded["status"] == "ready", uploaded
    return reload(MediaAsset, uploaded["asset_id"])


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_ladder_whose_job_fails_for_good_does_not_stay_queued(app, web, client, backend, samples):
    """Storage refuses every rendition for the job's five attempts (here `renditions` is a file, not a folder,
    so nothing can be written under it): the job fails for good, and the asset said 'queued' for ever, the
    Files page 'Making the streaming versions…'."""
    from pathlib import Path

    import sqlalchemy as sa

    from courseplatform.extensions import db
    from courseplatform.jobs.runner import MAX_ATTEMPTS, run_job
    from courseplatform.models import Job, JobStatus, utcnow

    blocker = Path(app.config["MEDIA_ROOT"]) / "renditions"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    asset = upload_video(web, client, backend, samples, "pattern.mp4")
    job = db.session.scalars(sa.select(Job).where(Job.kind == "media.ladder")).one()
    for _ in range(MAX_ATTEMPTS):
        db.session.execute(sa.update(Job).where(Job.id == job.id).values(run_after=utcnow()))
        db.session.commit()
        run_job(job.id)
    job = reload(Job, job.id)
    assert job.status is JobStatus.FAILED and job.attempts == MAX_ATTEMPTS
    asset = reload(MediaAsset, asset.id)
    assert asset.ladder_status == "failed", "the job failed for good, yet the video was 'queued' for ever"
    page = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    assert "Making the streaming versions" not in page
    assert "No streaming versions (making them failed several times); the original plays." in page


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_long_recordings_ladder_reads_a_link_s3_accepts(app, web, client, backend, samples, tmp_path):
    """A 6-hour workshop recording: the ladder asked for a presigned GET of duration × 30 s = 648,000 s, and
    S3 signs links for at most 604,800 s (7 days), so every long recording's ladder failed (moto doesn't
    enforce the limit). An ffmpeg that writes down its arguments shows the link the ladder reads."""
    from urllib.parse import parse_qs, urlsplit

    from courseplatform.extensions import db
    from courseplatform.media import processing

    asset = upload_video(web, client, backend, samples, "pattern.mp4")
    asset.duration_seconds = 6 * 3600
    seen = tmp_path / "arguments.txt"
    recorder = tmp_path / "ffmpeg"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{seen}"\nexit 1\n')
    recorder.chmod(0o755)
    app.config["FFMPEG_BINARY"] = str(recorder)
    try:
        processing.build_ladder(asset)
    finally:
        app.config["FFMPEG_BINARY"] = ""
        db.session.rollback()
    link = next(line for line in seen.read_text().splitlines() if line.startswith(("http://", "https://")))
    query = parse_qs(urlsplit(link).query)
    if "X-Amz-Expires" in query:  # SigV4: seconds from signing
        expires = int(query["X-Amz-Expires"][0])
    else:  # SigV2 (an S3-compatible endpoint): the moment it ends
        expires = int(query["Expires"][0]) - int(time.time())
    assert expires <= 604_800, f"the link lasts {expires} s: S3 refuses presigned links over 7 days"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_video_too_small_for_a_rung_plays_as_it_is_and_the_smallest_rung_streams(
    web, client, backend, samples, tmp_path
):
    """A 160x90 clip got a '90p' rung the stream route refused (hls.js then failed): below 144p a video now
    gets no ladder and plays as it is; a 256x144 clip gets its own 144p rung, which streams."""
    import sqlalchemy as sa

    from courseplatform.extensions import db
    from courseplatform.models import LessonKind, Offering

    from ..factories import EnrollmentFactory, LessonFactory, SectionFactory, UserFactory

    made = {}
    for size in ("160x90", "256x144"):
        path = tmp_path / f"clip-{size}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", "2",
             "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
            check=True, timeout=120,
        )  # fmt: skip
        made[size] = path
    tiny = upload_video(web, client, backend, samples, "tiny.mp4", made["160x90"].read_bytes())
    assert (tiny.status.value, tiny.ladder_status) == ("ready", None)
    offering = db.session.scalars(sa.select(Offering).where(Offering.slug == "grounding")).one()
    small = Browser(client, backend, offering).upload("small.mp4", made["256x144"].read_bytes(), "video/mp4", "video")
    small = reload(MediaAsset, small["asset_id"])
    assert (small.ladder_status, small.ladder_heights) == ("ready", [144])
    section = SectionFactory(offering=offering)
    tiny_lesson = LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=tiny, position=0)
    small_lesson = LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=small, position=1)
    EnrollmentFactory(user=UserFactory(email="learner@example.org"), offering=offering)
    db.session.commit()
    web.logout()
    web.login("learner@example.org", PASSWORD)
    assert "data-hls" not in client.get(f"/learn/grounding/lessons/{tiny_lesson.id}").get_data(as_text=True)
    base = f"/learn/grounding/lessons/{small_lesson.id}/hls/"
    assert "144p/index.m3u8" in client.get(base + "master.m3u8").get_data(as_text=True)
    assert client.get(base + "144p/index.m3u8").status_code == 200


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_an_ordinary_mp3_upload_is_kept(web, client, backend, tmp_path):
    """PyAV's codec_context.name is the *decoder's* name ('mp3float'), not the codec's ('mp3'): every MP3
    is failed as "MP3FLOAT sound, which browsers can't play" and its bytes deleted."""
    song = tmp_path / "talk.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "libmp3lame", str(song)],
        check=True, timeout=120,
    )  # fmt: skip
    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload("talk.mp3", song.read_bytes(), "audio/mpeg", "audio")
    asset = reload(MediaAsset, uploaded["asset_id"])
    assert asset.failure_reason is None and asset.audio_codec == "mp3"


def test_an_av1_video_is_playable(tmp_path):
    """The same for AV1: PyAV's wheel decodes it with libdav1d, so an AV1 MP4 is refused as 'LIBDAV1D video'."""
    from courseplatform.media.probe import playback_problem, probe

    clip = tmp_path / "av1.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "1",
         "-c:v", "libaom-av1", "-cpu-used", "8", str(clip)],
        check=True, timeout=300,
    )  # fmt: skip
    facts = probe(str(clip))
    assert facts.video_codec == "av1" and playback_problem(facts, "av1.mp4", "video") is None
