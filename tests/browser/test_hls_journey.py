"""An enrolled learner plays a lesson video's HLS ladder in Chromium through hls.js: the quality menu lists
the rungs and switches to one, the lesson's captions show over the stream, seeking works, and watching to
the end completes the lesson; a stranger's request for the playlist or a segment is refused. The player
answers the keyboard shortcuts its help lists."""

from __future__ import annotations

import io
import re

from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.jobs import dispatch_committed
from courseplatform.media.processing import start_probe
from courseplatform.models import LessonKind, LessonProgress, MediaAsset, MediaStatus

from ..factories import EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..media.samples import make_samples
from .test_media_journey import log_in, log_out

CAPTIONS = b"WEBVTT\n\n00:00.000 --> 00:05.000\nWelcome to the lecture.\n"


def streamed_lesson(tmp_path):
    """A course whose video lesson (13 s, with captions) has its ladder; (lesson, the learner's enrollment)."""
    samples = make_samples(tmp_path)
    offering = OfferingFactory(title="Grounding Skills", slug="grounding")
    owner = offering.creator.user
    key = f"uploads/{owner.id}/hls/lecture.mp4"
    with samples["lecture.mp4"].open("rb") as source:
        size = get_storage().save(key, source, "video/mp4")
    asset = MediaAsset(
        owner_id=owner.id, storage_key=key, original_name="lecture.mp4", content_type="video/mp4",
        size_bytes=size, status=MediaStatus.READY,
    )  # fmt: skip
    captions_key = f"uploads/{owner.id}/hls/lecture.vtt"
    get_storage().save(captions_key, io.BytesIO(CAPTIONS), "text/vtt")
    captions = MediaAsset(
        owner_id=owner.id, storage_key=captions_key, original_name="lecture.vtt", content_type="text/vtt",
        size_bytes=len(CAPTIONS), status=MediaStatus.READY,
    )  # fmt: skip
    db.session.add_all([asset, captions])
    db.session.flush()
    start_probe(asset)
    lesson = LessonFactory(
        section=SectionFactory(offering=offering),
        title="Lecture",
        kind=LessonKind.VIDEO,
        media_asset=asset,
        captions_asset=captions,
    )
    learner = UserFactory(email="learner@example.org")
    enrollment = EnrollmentFactory(user=learner, offering=offering)
    UserFactory(email="stranger@example.org")
    db.session.commit()
    dispatch_committed()  # the probe, then the ladder it queues
    db.session.expire_all()
    assert db.session.get(MediaAsset, asset.id).ladder_status == "ready"
    return lesson, enrollment


def test_a_learner_streams_switches_quality_seeks_and_completes(page: Page, live_url: str, tmp_path):
    lesson, enrollment = streamed_lesson(tmp_path)
    log_in(page, "learner@example.org")
    page.goto(f"/learn/grounding/lessons/{lesson.id}")
    # hls.js attaches a MediaSource: the element plays a blob: URL, not the original file.
    page.wait_for_function("() => document.querySelector('video').currentSrc.startsWith('blob:')", timeout=15_000)
    quality = page.get_by_label("Quality")
    expect(quality).to_be_visible(timeout=15_000)
    expect(quality.locator("option")).to_have_text([re.compile(r"^Auto"), "720p", "360p"])

    quality.select_option(label="360p")
    page.evaluate("document.querySelector('video').muted = true")
    page.evaluate("document.querySelector('video').play()")
    page.wait_for_function("() => document.querySelector('[data-player]').hls.currentLevel === 0", timeout=15_000)
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=15_000)
    # The page's own captions play over the stream.
    page.wait_for_function(
        """() => {
          const track = document.querySelector('video').textTracks[0];
          return track && track.mode === 'showing' && track.activeCues && track.activeCues.length > 0
            && track.activeCues[0].text === 'Welcome to the lecture.';
        }""",
        timeout=15_000,
    )

    # Seek into the last segment, then play to the end: about 90 % completes the lesson.
    page.evaluate("document.querySelector('video').currentTime = 11.5")
    page.wait_for_function("() => document.querySelector('video').currentTime >= 12", timeout=20_000)
    expect(page.locator("[data-player-status]")).to_have_text("Lesson complete", timeout=20_000)
    db.session.expire_all()
    done = db.session.query(LessonProgress).filter_by(enrollment_id=enrollment.id, lesson_id=lesson.id).one()
    assert done.completed_at is not None

    log_out(page)
    log_in(page, "stranger@example.org")
    for name in ("master.m3u8", "720p/index.m3u8", "720p/seg_000.ts"):
        answer = page.request.get(f"/learn/grounding/lessons/{lesson.id}/hls/{name}", max_redirects=0)
        assert answer.status == 403, name


def test_the_player_answers_its_keyboard_shortcuts(page: Page, live_url: str, tmp_path):
    lesson, _enrollment = streamed_lesson(tmp_path)
    log_in(page, "learner@example.org")
    page.goto(f"/learn/grounding/lessons/{lesson.id}")
    page.wait_for_function("() => document.querySelector('video').currentSrc.startsWith('blob:')", timeout=15_000)
    page.wait_for_function("() => document.querySelector('video').readyState >= 1", timeout=15_000)
    video = page.locator("video")
    status = page.locator("[data-player-status]")

    def state(expression: str):
        return page.evaluate(f"() => {{ const v = document.querySelector('video'); return {expression}; }}")

    page.keyboard.press("Tab")  # from wherever focus is, reach the video as a keyboard user would
    video.focus()
    page.keyboard.press("m")
    assert state("v.muted") is True
    expect(status).to_have_text("Muted")
    page.keyboard.press("l")
    expect(status).to_have_text("Forward 10 s · 0:10")
    # hls.js may settle a seek a few frames off, at the nearest point it can play.
    assert abs(state("v.currentTime") - 10) < 0.5
    page.keyboard.press("ArrowLeft")
    assert abs(state("v.currentTime") - 5) < 0.5
    page.keyboard.press("j")
    assert state("v.currentTime") < 0.5
    page.keyboard.press("k")
    page.wait_for_function(
        "() => !document.querySelector('video').paused && document.querySelector('video').currentTime > 0.3"
    )
    page.keyboard.press("k")
    assert state("v.paused") is True
    page.keyboard.press(">")
    expect(page.get_by_label("Speed")).to_have_value("1.25")
    assert state("v.playbackRate") == 1.25
    page.keyboard.press("c")
    assert state("v.textTracks[0].mode") == "hidden"
    expect(status).to_have_text("Captions off")
    page.keyboard.press("ArrowDown")
    expect(status).to_have_text("Volume 90 %")
    assert state("v.muted") is False
    # Keys typed into the player's own controls stay theirs.
    page.get_by_label("Speed").focus()
    page.keyboard.press("k")
    assert state("v.paused") is True
    page.get_by_text("Keyboard shortcuts").click()
    expect(page.locator(".player-keys dl")).to_contain_text("Back or forward 10 s")
