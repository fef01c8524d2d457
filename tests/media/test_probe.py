"""Every video and audio upload is read for what it really is (`media.probe`): its length, codecs and size
as shown, on local storage and through moto's S3 server. Files browsers can't play, and files that aren't
media at all, are refused with a reason the Files page shows; a lesson takes the file's real length."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.media.probe import MediaFacts, ProbeError, playback_problem, probe
from courseplatform.media.services import sniff_content_type
from courseplatform.models import Lesson, MediaAsset, MediaStatus

from ..factories import PASSWORD, SectionFactory
from .samples import make_samples
from .test_upload_forms import Browser, lesson_form, reload

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("samples"))


def test_the_probe_reads_each_files_container_streams_and_shown_size(samples):
    assert probe(str(samples["pattern.mp4"])) == MediaFacts(MP4, 3, "h264", "aac", 640, 360)
    assert probe(str(samples["portrait.mp4"])) == MediaFacts(MP4, 2, "h264", "aac", 360, 640)
    voice = probe(str(samples["voice.m4a"]))
    assert voice == MediaFacts(MP4, 3, None, "aac", None, None) and voice.is_audio_only
    assert probe(str(samples["iphone.mov"])).video_codec == "hevc"


@pytest.mark.parametrize(
    ("name", "category", "reason"),
    [
        ("iphone.mov", "video", "is HEVC (H.265) video, which most browsers can't play"),
        ("voice.m4a", "video", "has sound but no picture: upload it as an audio file"),
        ("pattern.mp4", "video", None),
        ("voice.m4a", "audio", None),
    ],
)
def test_what_browsers_cant_play_is_named(samples, name, category, reason):
    problem = playback_problem(probe(str(samples[name])), name, category)
    assert (problem is None) if reason is None else (reason in problem)


@pytest.mark.parametrize("name", ["notes.mp4", "photo.jpg"])
def test_what_isnt_a_video_is_refused_by_the_probe(samples, name):
    with pytest.raises(ProbeError):
        probe(str(samples[name]))


def test_photos_and_matroska_files_are_not_taken_for_mp4_and_webm(samples):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff_content_type(heic, "IMG_0042.HEIC") is None
    assert sniff_content_type(samples["clip.mkv"].read_bytes()[:64], "clip.mkv") is None
    assert sniff_content_type(samples["iphone.mov"].read_bytes()[:64], "IMG_0042.MOV") == "video/mp4"


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
def test_an_uploaded_video_is_read_and_its_lesson_takes_the_real_length(web, client, backend, samples):
    from ..factories import PASSWORD, OfferingFactory

    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    browser = Browser(client, backend, offering)
    uploaded = browser.upload("welcome.mp4", samples["pattern.mp4"].read_bytes(), "video/mp4", "video")
    assert uploaded["status"] == "ready"
    asset = reload(MediaAsset, uploaded["asset_id"])
    assert asset.probed_at is not None
    facts = (asset.duration_seconds, asset.width, asset.height, asset.video_codec, asset.audio_codec)
    assert facts == (3, 640, 360, "h264", "aac")

    section = SectionFactory(offering=offering)
    web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new",
        lesson_form(media_asset_id=str(asset.id)),
    )
    lesson = db.session.scalar(sa.select(Lesson).filter_by(section_id=section.id))
    assert lesson.duration_seconds == 3, "the lesson shows the video's real length"
    files = " ".join(client.get("/studio/files").get_data(as_text=True).split())
    assert "640×360 · H.264, AAC" in files


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
@pytest.mark.parametrize(
    ("name", "sent_as", "reason"),
    [
        ("iphone.mov", "video/quicktime", "is HEVC (H.265) video, which most browsers can&#39;t play"),
        ("soundtrack.mp4", "video/mp4", "has sound but no picture"),
    ],
)
def test_a_file_browsers_cant_play_fails_with_its_reason_and_its_bytes_go(
    web, client, backend, samples, name, sent_as, reason
):
    from ..factories import PASSWORD, OfferingFactory

    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(name, samples[name].read_bytes(), sent_as, "video")
    asset = reload(MediaAsset, uploaded["asset_id"])
    assert asset.status is MediaStatus.FAILED
    assert not backend.storage.exists(asset.storage_key), "nothing uses it: its bytes are removed"
    assert reason in client.get("/studio/files").get_data(as_text=True)


@pytest.mark.parametrize("backend", ["local", "s3"], indirect=True)
@pytest.mark.parametrize("name", ["notes.mp4", "photo.mp4", "clip.mkv"])
def test_files_that_arent_playable_video_are_refused_on_arrival(web, client, backend, samples, name):
    from ..factories import PASSWORD, OfferingFactory

    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    uploaded = Browser(client, backend, offering).upload(name, samples[name].read_bytes(), "video/mp4", "video")
    assert uploaded["status"] == "failed"
    assert "isn't an MP4, MOV or WebM video" in uploaded["reason"]


def test_the_ce_tab_measures_the_curriculums_videos(web, client, samples):
    """The CE hours of a self-paced program are measured against its recorded runtime, read from the files."""
    from courseplatform.models import LessonKind

    from ..factories import PASSWORD, LessonFactory, OfferingFactory

    offering = OfferingFactory(title="Grounding Skills", ce_minutes=60)
    section = SectionFactory(offering=offering)
    for n, seconds in enumerate((1500, 1260, None)):  # 25 min, 21 min, and one whose file isn't read yet
        LessonFactory(section=section, kind=LessonKind.VIDEO, position=n, duration_seconds=seconds)
    LessonFactory(section=section, kind=LessonKind.TEXT, position=3, duration_seconds=600)
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    page = " ".join(client.get(f"/studio/courses/{offering.id}/ce").get_data(as_text=True).split())
    assert "The curriculum's 3 videos run 46 min (0.5 h in half-hour steps)" in page


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_files_uploaded_before_probing_are_read_by_flask_probe_media(app, backend, samples):
    from ..factories import UserFactory

    owner = UserFactory()
    key = f"uploads/{owner.id}/old/welcome.mp4"
    backend.store(key, samples["pattern.mp4"].read_bytes(), "video/mp4")
    asset = MediaAsset(
        owner_id=owner.id, storage_key=key, original_name="welcome.mp4", content_type="video/mp4",
        size_bytes=1, status=MediaStatus.READY,
    )  # fmt: skip
    db.session.add(asset)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["probe-media"])
    assert "Queued 1 file to be checked." in result.output, result.output
    asset = reload(MediaAsset, asset.id)
    assert (asset.duration_seconds, asset.video_codec) == (3, "h264")
    assert "Queued 0 files" in app.test_cli_runner().invoke(args=["probe-media"]).output


def test_a_playlist_dressed_as_a_video_is_never_followed(app, tmp_path, samples):
    """FFmpeg reads an upload only as the container its first bytes showed, through the file itself: a
    playlist pointing at another file (or host) is refused, not followed."""
    from courseplatform.media.ladder import FfmpegTranscoder, LadderError, Source, ffmpeg_binary

    secret = tmp_path / "secret.mp4"
    secret.write_bytes(samples["pattern.mp4"].read_bytes())
    # Named as a playlist, FFmpeg's guessing would open it as one and play the other file (checked by hand).
    playlist = tmp_path / "lesson.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    with pytest.raises(ProbeError):
        probe(str(playlist), "mov")
    out = tmp_path / "ladder"
    out.mkdir()
    with pytest.raises(LadderError):
        FfmpegTranscoder(ffmpeg_binary()).make_ladder(
            Source(str(playlist), 640, 360, 3, True, "mov"), out, lambda done: None
        )


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_replacing_a_lessons_video_takes_the_new_files_length(web, client, backend, samples):
    """The length the old file gave, still in the form, gives way to the new file's; a typed one stays."""
    from ..factories import OfferingFactory

    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    browser = Browser(client, backend, offering)
    first = browser.upload("first.mp4", samples["pattern.mp4"].read_bytes(), "video/mp4", "video")
    second = browser.upload("second.mp4", samples["lecture.mp4"].read_bytes(), "video/mp4", "video")
    section = SectionFactory(offering=offering)
    web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new",
        lesson_form(media_asset_id=str(first["asset_id"])),
    )
    lesson = db.session.scalar(sa.select(Lesson).filter_by(section_id=section.id))
    assert lesson.duration_seconds == 3
    edit = f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    typed = re.search(r'name="duration_minutes"[^>]*value="([^"]*)"', page).group(1)
    web.submit(edit, lesson_form(media_asset_id=str(second["asset_id"]), duration_minutes=typed))
    assert reload(Lesson, lesson.id).duration_seconds == 13
