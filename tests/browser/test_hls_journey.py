"""An enrolled learner plays a lesson video's HLS ladder in Chromium through hls.js: the quality menu lists
the rungs and switches to one, the lesson's captions show over the stream, seeking works, and watching to
the end completes the lesson; a stranger's request for the playlist or a segment is refused."""

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


def test_a_learner_streams_switches_quality_seeks_and_completes(page: Page, live_url: str, tmp_path):
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
