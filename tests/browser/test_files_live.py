"""The Files page follows a video whose streaming versions are being made: its row takes the new state
from the server every few seconds, and the row's "Delete…" confirmation keeps working after it does
(Escape closes it), as does a keyboard user's focus on it. The file's type stays the small line under
its name."""

from __future__ import annotations

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.models import MediaAsset

from ..factories import CreatorProfileFactory, UserFactory
from ..factories.media import probed_video
from .test_media_journey import log_in


def test_a_row_follows_the_transcode_and_its_confirmation_still_closes_on_escape(page: Page):
    creator = CreatorProfileFactory(user=UserFactory(email="creator@example.org"))
    asset = probed_video(creator.user, ladder_status="making", ladder_percent=10)
    db.session.commit()

    log_in(page, "creator@example.org")
    page.goto("/studio/files")
    row = page.locator(f"#file-{asset.id}")
    expect(row).to_contain_text("Making the streaming versions: 10 %")
    kind = row.locator(".file-type")
    assert kind.evaluate("e => [getComputedStyle(e).fontWeight, getComputedStyle(e).fontSize]") == ["400", "13px"]
    details = row.locator("details.popover")
    row.get_by_text("Delete…").click()
    expect(details).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(details).not_to_have_attribute("open", "", timeout=2_000)

    row.locator("summary").focus()  # a keyboard user has tabbed to "Delete…"
    db.session.execute(sa.update(MediaAsset).where(MediaAsset.id == asset.id).values(ladder_percent=60))
    db.session.commit()
    expect(row).to_contain_text("Making the streaming versions: 60 %", timeout=10_000)
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "60")
    assert page.evaluate("() => document.activeElement.textContent").startswith("Delete…"), "the refresh took the focus"

    row.get_by_text("Delete…").click()
    details = row.locator("details.popover")
    expect(details).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(details).not_to_have_attribute("open", "", timeout=2_000)
    page.mouse.click(5, 5)  # a click elsewhere closes it too

    db.session.execute(
        sa.update(MediaAsset)
        .where(MediaAsset.id == asset.id)
        .values(ladder_status="ready", ladder_percent=None, ladder_heights=[360, 720], ladder_bytes=5_000_000)
    )
    db.session.commit()
    expect(row).to_contain_text("Streams at 360p, 720p", timeout=10_000)
    expect(row).not_to_have_attribute("data-live-row", "")
