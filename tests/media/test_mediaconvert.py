"""TRANSCODER=mediaconvert: the ladder is made by AWS Elemental MediaConvert (here a fake over HTTP that
checks the job against MediaConvert's service model and does it with ffmpeg), reading the original from
moto's S3 bucket and writing the renditions straight back; the worker only follows the job. The ladder
plays as ffmpeg's does, a refused or failed job leaves the original playing with MediaConvert's reason,
and a setup MediaConvert can't work with is refused at start."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import m3u8
import pytest
import sqlalchemy as sa

from courseplatform.config import ConfigError, load_config
from courseplatform.extensions import db
from courseplatform.jobs import run_job
from courseplatform.models import Job, JobStatus, MediaAsset, MediaStatus
from courseplatform.models.base import utcnow

from ..factories import PASSWORD
from ..fakes.mediaconvert import FakeMediaConvert
from ..servers import Loopback
from .conftest import BUCKET
from .samples import make_samples
from .test_ladder import decodes, read, upload
from .test_streaming import streamed_course
from .test_upload_forms import reload

ROLE = "arn:aws:iam::123456789012:role/AqueductMediaConvert"


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("mediaconvert-samples"))


@pytest.fixture
def mediaconvert(app, backend, monkeypatch, moto_url):
    fake = FakeMediaConvert(moto_url)
    with Loopback(fake) as server:
        for name, value in {
            "TRANSCODER": "mediaconvert",
            "MEDIACONVERT_ROLE_ARN": ROLE,
            "MEDIACONVERT_ENDPOINT_URL": server.url,
            "MEDIACONVERT_POLL_SECONDS": 0.2,
        }.items():
            monkeypatch.setitem(app.config, name, value)
        yield fake


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_mediaconvert_makes_the_ladder_in_the_bucket_and_it_streams(
    web, client, backend, mediaconvert, samples, tmp_path
):
    offering, lesson = streamed_course(web, client, backend, samples)
    asset = lesson.media_asset
    assert (asset.ladder_status, asset.ladder_heights) == ("ready", [360, 720])
    request = mediaconvert.created[-1]
    assert (
        request["role"] == ROLE
        and request["settings"]["inputs"][0]["fileInput"] == f"s3://{BUCKET}/{asset.storage_key}"
    )
    prefix = f"renditions/{asset.id}/"
    master = m3u8.loads(read(backend, prefix + "master.m3u8").decode())
    assert {p.uri: p.stream_info.resolution for p in master.playlists} == {
        "master_360p.m3u8": (640, 360),
        "master_720p.m3u8": (1280, 720),
    }
    stored = {key[len(prefix) :]: backend.storage.head(key).size for key, _ in backend.storage.list_keys(prefix)}
    assert asset.ladder_bytes == sum(stored.values())
    assert read(backend, prefix + "poster.jpg").startswith(b"\xff\xd8\xff")
    assert read(backend, prefix + "thumb.jpg").startswith(b"\xff\xd8\xff")

    web.login("learner@example.org", PASSWORD)
    base = f"/learn/{offering.slug}/lessons/{lesson.id}/hls/"
    played = m3u8.loads(client.get(base + "master.m3u8").get_data(as_text=True))
    assert [p.uri for p in played.playlists] == ["master_360p.m3u8", "master_720p.m3u8"]
    rung = m3u8.loads(client.get(base + "master_720p.m3u8").get_data(as_text=True))
    assert [segment.uri for segment in rung.segments][:2] == ["master_720p_00001.ts", "master_720p_00002.ts"]
    segment = client.get(base + rung.segments[1].uri)
    assert segment.status_code == 302
    assert decodes(read(backend, prefix + rung.segments[1].uri), tmp_path) == "aac,h264"
    assert client.get(base + "master_1080p.m3u8").status_code == 404
    assert client.get(base + "poster.jpg").status_code == 302


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_job_mediaconvert_fails_leaves_the_original_playing_with_its_reason(
    web, client, backend, mediaconvert, samples, monkeypatch, app
):
    # A role the bucket doesn't let read: MediaConvert accepts the job, then fails it.
    denied = "arn:aws:iam::123456789012:role/NoBucketAccess"
    mediaconvert.roles_without_access.add(denied)
    monkeypatch.setitem(app.config, "MEDIACONVERT_ROLE_ARN", denied)
    asset = upload(web, client, backend, samples["pattern.mp4"])
    assert asset.status is MediaStatus.READY and asset.ladder_status == "failed"
    assert asset.ladder_error.startswith("MediaConvert: Unable to open input file [s3://")
    files = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    assert "No streaming versions (MediaConvert: Unable to open input file" in files


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_job_mediaconvert_refuses_is_reported_not_retried(
    web, client, backend, mediaconvert, samples, monkeypatch, app
):
    monkeypatch.setitem(app.config, "MEDIACONVERT_ROLE_ARN", "arn:aws:iam::not-an-account")
    asset = upload(web, client, backend, samples["pattern.mp4"])
    assert asset.ladder_status == "failed"
    assert asset.ladder_error == "MediaConvert: /role: The IAM role ARN is not valid."


def test_every_job_aqueduct_sends_is_one_mediaconvert_accepts():
    """The settings for a landscape video with sound, a portrait clip without, and a tiny one, checked
    against MediaConvert's own service model."""
    from courseplatform.media.ladder import Source
    from courseplatform.media.mediaconvert import job_settings
    from tests.fakes.mediaconvert import MODEL, problems

    for source in (
        Source("x", 1920, 1080, 300, True, bitrate=6_000_000),
        Source("x", 720, 1280, 20, False),
        Source("x", 320, 240, 5, True, bitrate=300_000),
    ):
        settings = job_settings(source, "bucket", "uploads/1/a.mp4", "renditions/9/")
        wire = to_wire(MODEL.shape_for("JobSettings"), settings)
        assert problems(MODEL.shape_for("JobSettings"), wire) == []


def to_wire(shape, value):
    """Settings as botocore sends them (member names as their JSON names)."""
    if shape.type_name == "structure":
        return {shape.members[k].serialization.get("name", k): to_wire(shape.members[k], v) for k, v in value.items()}
    if shape.type_name == "list":
        return [to_wire(shape.member, item) for item in value]
    if shape.type_name == "map":
        return {k: to_wire(shape.value, v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"TRANSCODER": "elastic"}, "TRANSCODER must be 'ffmpeg' or 'mediaconvert'"),
        ({"TRANSCODER": "mediaconvert"}, "TRANSCODER=mediaconvert needs STORAGE_BACKEND=s3"),
        ({"TRANSCODER": "mediaconvert", "STORAGE_BACKEND": "s3", "S3_BUCKET": "b"}, "needs MEDIACONVERT_ROLE_ARN"),
    ],
)
def test_a_transcoder_setup_that_cannot_work_is_refused(monkeypatch, tmp_path, settings, message):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


@pytest.fixture(scope="module")
def phone_clip(tmp_path_factory):
    """A phone held upright: recorded 640×360, white above black, with rotation metadata (shown 360×640)."""
    folder = tmp_path_factory.mktemp("phone")
    recorded, phone = folder / "recorded.mp4", folder / "phone.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=white:s=640x360:r=25", "-f", "lavfi",
         "-i", "sine=frequency=440:sample_rate=48000", "-t", "3",
         "-vf", "drawbox=x=0:y=180:w=640:h=180:color=black:t=fill",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(recorded)],
        check=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(recorded), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(phone)],
        check=True, timeout=120,
    )  # fmt: skip
    return phone


def quarters(data: bytes, tmp_path) -> list[int]:
    """A picture's brightness in its four quarters: top left, top right, bottom left, bottom right."""
    path = tmp_path / "picture"
    path.write_bytes(data)
    found = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", "scale=2:2", "-f", "rawvideo",
         "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return list(found.stdout)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_phone_clip_streams_upright(web, client, backend, mediaconvert, phone_clip, tmp_path):
    """MediaConvert applies no rotation unless asked: the job asks, so a clip filmed upright plays upright."""
    asset = upload(web, client, backend, phone_clip)
    assert (asset.width, asset.height, asset.ladder_status) == (360, 640, "ready")
    prefix = f"renditions/{asset.id}/"
    # Shown upright, what was recorded on top is on the left: white left, black right.
    for name in ("master_360p_00001.ts", "poster.jpg"):
        top_left, top_right, bottom_left, bottom_right = quarters(read(backend, prefix + name), tmp_path)
        assert top_left > 128 > top_right and bottom_left > 128 > bottom_right, name


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_a_ladder_job_retried_after_an_outage_follows_the_mediaconvert_job_it_started(
    web, client, backend, mediaconvert, samples
):
    mediaconvert.outage = 1000  # GetJob answers 500 until the outage ends, whatever botocore's own retries
    asset = upload(web, client, backend, samples["pattern.mp4"])
    job = db.session.scalar(sa.select(Job).where(Job.kind == "media.ladder").order_by(Job.id.desc()).limit(1))
    assert job.payload["asset_id"] == asset.id and job.status is JobStatus.PENDING, job.last_error
    assert len(mediaconvert.jobs) == 1
    assert list(backend.storage.list_keys(f"renditions/{asset.id}/mediaconvert-job.json"))

    # Tried again while MediaConvert is still out: it waits again, and starts nothing new.
    job.run_after = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.PENDING
    assert len(mediaconvert.jobs) == 1
    mediaconvert.outage = 0
    job = reload(Job, job.id)
    job.run_after = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.DONE
    assert reload(MediaAsset, asset.id).ladder_status == "ready"
    assert len(mediaconvert.jobs) == 1, "the retry paid for a second MediaConvert job"
    assert not list(backend.storage.list_keys(f"renditions/{asset.id}/mediaconvert-job.json"))
