"""Every playable video gets an HLS ladder (`media.ladder`): 360p, 720p and its own size up to 1080p, H.264
and AAC in segments of about 6 s, with a poster and a thumbnail, stored on local disk or through moto's S3
server. The playlists parse, the segments decode, the Files page shows it, and storage-gc removes the
renditions of deleted videos. A video ffmpeg can't transcode keeps playing as it is."""

from __future__ import annotations

import re
import subprocess

import m3u8
import pytest

from courseplatform.extensions import db
from courseplatform.media.ladder import rungs_for
from courseplatform.models import MediaAsset, MediaStatus

from ..factories import PASSWORD, OfferingFactory
from .samples import make_samples
from .test_upload_forms import Browser, reload


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("ladder-samples"))


def upload(web, client, backend, path, name: str | None = None) -> MediaAsset:
    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(name or path.name, path.read_bytes(), "video/mp4", "video")
    assert uploaded["status"] == "ready", uploaded
    return reload(MediaAsset, uploaded["asset_id"])


def read(backend, key: str) -> bytes:
    with backend.storage.open(key) as stream:
        return stream.read()


def decodes(data: bytes, tmp_path) -> str:
    """What ffprobe finds in a segment's bytes: its streams' codecs, or fails."""
    path = tmp_path / "segment.ts"
    path.write_bytes(data)
    found = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=index,codec_name", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # MPEG-TS lists its streams twice (once more under its program): one line per index.
    streams = dict(line.split(",") for line in found.stdout.split())
    return ",".join(sorted(streams.values()))


def test_the_rungs_follow_the_short_side():
    assert rungs_for(1920, 1080) == [360, 720, 1080]
    assert rungs_for(3840, 2160) == [360, 720, 1080]
    assert rungs_for(1280, 720) == [360, 720]
    assert rungs_for(360, 640) == [360]  # a portrait phone clip
    assert rungs_for(320, 240) == [240]  # smaller than the lowest rung: its own size


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_a_video_gets_a_ladder_whose_playlists_parse_and_segments_decode(web, client, backend, samples, tmp_path):
    asset = upload(web, client, backend, samples["lecture.mp4"])
    assert (asset.ladder_status, asset.ladder_heights) == ("ready", [360, 720])
    prefix = f"renditions/{asset.id}/"
    master = m3u8.loads(read(backend, prefix + "master.m3u8").decode())
    assert master.is_variant
    variants = {playlist.uri: playlist.stream_info for playlist in master.playlists}
    assert {uri: info.resolution for uri, info in variants.items()} == {
        "360p/index.m3u8": (640, 360),
        "720p/index.m3u8": (1280, 720),
    }
    assert all("avc1" in info.codecs and "mp4a" in info.codecs for info in variants.values())
    assert variants["360p/index.m3u8"].bandwidth < variants["720p/index.m3u8"].bandwidth
    for uri in variants:
        rung = m3u8.loads(read(backend, prefix + uri).decode())
        assert rung.playlist_type == "vod" and rung.is_endlist and rung.target_duration == 6
        assert [round(segment.duration) for segment in rung.segments] == [6, 6, 1]
        folder = uri.split("/")[0]
        assert decodes(read(backend, f"{prefix}{folder}/{rung.segments[1].uri}"), tmp_path) == "aac,h264"
    for name, height in (("poster.jpg", 720), ("thumb.jpg", 180)):
        image = read(backend, prefix + name)
        assert image.startswith(b"\xff\xd8\xff"), name
        path = tmp_path / name
        path.write_bytes(image)
        size = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=height", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        assert size == str(height)
    stored = sum(info.size for key, _ in backend.storage.list_keys(prefix) if (info := backend.storage.head(key)))
    assert asset.ladder_bytes == stored > 0
    files = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    assert "Streams at 360p, 720p" in files


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_portrait_clip_keeps_its_shape_and_sound_only_files_get_no_ladder(web, client, backend, samples):
    portrait = upload(web, client, backend, samples["portrait.mp4"])
    master = m3u8.loads(read(backend, f"renditions/{portrait.id}/master.m3u8").decode())
    assert [playlist.stream_info.resolution for playlist in master.playlists] == [(360, 640)]
    offering = OfferingFactory(creator=portrait.owner.creator_profile)
    voice = Browser(client, backend, offering).upload("voice.m4a", samples["voice.m4a"].read_bytes(), "", "audio")
    assert reload(MediaAsset, voice["asset_id"]).ladder_status is None


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_storage_gc_removes_the_renditions_of_deleted_videos(app, web, client, backend, samples):
    asset = upload(web, client, backend, samples["pattern.mp4"])
    prefix = f"renditions/{asset.id}/"
    assert list(backend.storage.list_keys(prefix))
    offering = OfferingFactory(creator=asset.owner.creator_profile)
    other = Browser(client, backend, offering).upload(
        "clip.mp4", samples["portrait.mp4"].read_bytes(), "video/mp4", "video"
    )
    kept = reload(MediaAsset, other["asset_id"])
    db.session.delete(reload(MediaAsset, asset.id))
    db.session.commit()
    output = app.test_cli_runner().invoke(args=["storage-gc"]).output
    # Its five files (master, rung playlist, segment, poster, thumbnail), and on the shared S3 server those
    # left by earlier tests whose videos were rolled back with them.
    removed = int(re.search(r"Removed (\d+) streaming files of deleted videos", output).group(1))
    assert removed == 5 if backend.name == "local" else removed >= 5, output
    assert list(backend.storage.list_keys(prefix)) == []
    assert list(backend.storage.list_keys(f"renditions/{kept.id}/")), "a video still here keeps its ladder"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_video_ffmpeg_cant_transcode_keeps_playing_as_it_is(app, web, client, backend, samples, monkeypatch):
    monkeypatch.setitem(app.config, "FFMPEG_BINARY", "/bin/false")  # an ffmpeg that always fails
    asset = upload(web, client, backend, samples["pattern.mp4"])
    assert asset.status is MediaStatus.READY and asset.ladder_status == "failed"
    assert asset.ladder_error == "ffmpeg: ffmpeg failed"
    files = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    assert "No streaming versions (ffmpeg: ffmpeg failed); the original plays." in files


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_the_files_page_shows_the_space_each_offering_takes(web, client, backend, samples):
    from courseplatform.formatting import format_size
    from courseplatform.models import LessonKind, Offering

    from ..factories import LessonFactory, SectionFactory

    asset = upload(web, client, backend, samples["lecture.mp4"])
    offering = db.session.query(Offering).filter_by(creator_id=asset.owner.creator_profile.id).one()
    section = SectionFactory(offering=offering)
    for position in range(2):  # one file in two lessons counts once
        LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=asset, position=position)
    db.session.commit()
    page = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    row = re.search(r"Space by offering.*?Grounding Skills</a></th>(.*?)</tr>", page).group(1)
    cells = re.findall(r'<td class="num"[^>]*>([^<]+)</td>', row)
    assert cells == [
        format_size(asset.size_bytes),
        format_size(asset.ladder_bytes),
        format_size(asset.size_bytes + asset.ladder_bytes),
    ]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_no_rung_spends_more_bits_than_the_original(web, client, backend, samples):
    """A small, low-bitrate recording's streaming copy is no larger than the recording itself: the demo's
    welcome video spends 290 kb/s, under the 800 kb/s of the 360p rung (its copy was 3.4 times its size)."""
    from ..helpers import DEMO_VIDEO

    asset = upload(web, client, backend, DEMO_VIDEO)
    assert asset.ladder_status == "ready"
    segments = sum(
        backend.storage.head(key).size for key, _ in backend.storage.list_keys(f"renditions/{asset.id}/360p/")
        if key.endswith(".ts")
    )  # fmt: skip
    assert segments < asset.size_bytes * 1.25, (segments, asset.size_bytes)  # MPEG-TS adds some framing
