"""A creator uploads a lesson video in the studio, straight to storage in parts, and an
enrolled learner plays it back in the lesson player."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaStatus

from ..factories import PASSWORD, EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory

DEMO_VIDEO = Path(__file__).resolve().parents[2] / "courseplatform" / "demo" / "welcome.mp4"


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()


def test_creator_uploads_a_video_and_an_enrolled_learner_plays_it(page: Page, app, monkeypatch):
    # Small parts, so the 215 KB demo video travels as a multipart upload of four parts.
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 64 * 1024)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 64 * 1024)
    offering = OfferingFactory(title="Grounding Skills", slug="grounding")
    lesson = LessonFactory(section=SectionFactory(offering=offering), title="Welcome", kind=LessonKind.VIDEO)
    learner = UserFactory(email="learner@example.org")
    EnrollmentFactory(user=learner, offering=offering)
    db.session.flush()

    log_in(page, offering.creator.user.email)
    page.goto(f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit")
    upload = page.locator("[data-upload]").filter(has=page.get_by_label("Upload the file"))
    # Record every value the progress bar shows, to see it move rather than jump.
    page.evaluate(
        """() => {
          window.progressSeen = [];
          const bar = document.querySelector("[data-upload-progress]");
          const native = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
          Object.defineProperty(bar, "value", {
            get() { return native.get.call(this); },
            set(v) { window.progressSeen.push(v); native.set.call(this, v); },
          });
        }"""
    )
    page.get_by_label("Upload the file").set_input_files(DEMO_VIDEO)

    expect(upload).to_have_attribute("data-state", "ready", timeout=20_000)
    expect(upload.locator("[data-upload-percent]")).to_have_text("100%")
    expect(upload.locator("[data-upload-progress]")).to_have_js_property("value", 100)
    expect(upload.get_by_role("status")).to_have_text("Uploaded and checked. Save to use it.")
    expect(upload.locator("[data-upload-name]")).to_have_text("welcome.mp4 · 215 KB")
    seen = page.evaluate("window.progressSeen")
    assert seen[0] == 0 and seen[-1] == 100 and len(set(seen)) > 2, seen

    page.get_by_role("button", name="Save lesson").click()
    expect(page.locator(".flashes")).to_contain_text("Lesson “Welcome” saved.")
    db.session.expire_all()
    saved = db.session.get(Lesson, lesson.id)
    assert saved.media_asset.status is MediaStatus.READY
    assert saved.media_asset.size_bytes == DEMO_VIDEO.stat().st_size

    log_out(page)
    log_in(page, "learner@example.org")
    page.goto(f"/learn/grounding/lessons/{lesson.id}")
    expect(page.get_by_role("heading", name="Welcome", level=1)).to_be_visible()
    player = page.locator("[data-player]")
    expect(player).to_have_attribute("data-duration", re.compile(r"^\d+(\.\d+)?$"), timeout=20_000)
    duration = float(player.get_attribute("data-duration"))
    assert 5.5 < duration < 6.5, duration
    video = player.locator("video")
    assert video.evaluate("v => v.readyState") >= 1
    # Speed control: the choice applies to the video and is remembered for the next lesson.
    player.get_by_label("Speed").select_option("1.5")
    assert video.evaluate("v => v.playbackRate") == 1.5
    page.reload()
    expect(page.locator("[data-player]").get_by_label("Speed")).to_have_value("1.5")
