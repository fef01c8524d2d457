"""A creator makes a code, a learner follows its link to a bundle and buys it for less: in headless Chromium."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.models import OfferingKind, bundle_items

from ..factories import CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from .test_payment_journey import log_in, log_out


def test_a_creators_code_takes_its_discount_off_a_bundle_and_enrols_in_each_offering(
    page: Page, console_errors: list[str]
):
    creator = CreatorProfileFactory(display_name="Dr. Mara Quinn")
    items = []
    for title, price in (("Grounding skills", 6000), ("Sleep and the anxious client", 7000)):
        offering = OfferingFactory(creator=creator, title=title, price_cents=price)
        LessonFactory(section=SectionFactory(offering=offering), title=f"{title}: welcome")
        items.append(offering)
    kit = OfferingFactory(creator=creator, title="The starter kit", kind=OfferingKind.BUNDLE, price_cents=10000)
    db.session.flush()
    db.session.execute(
        sa.insert(bundle_items), [{"bundle_id": kit.id, "item_id": o.id, "position": n} for n, o in enumerate(items)]
    )
    learner = UserFactory(name="Ana Ruiz", email="ana@example.org")
    db.session.commit()

    # The creator makes a code for a quarter off everything, and copies its link.
    log_in(page, creator.user.email)
    page.goto("/studio/coupons")
    page.get_by_label("Code", exact=True).fill("spring25")
    page.get_by_label("Percent off").fill("25")
    page.get_by_role("button", name="Make the code").click()
    expect(page.locator(".flashes")).to_contain_text("The code SPRING25 is ready to share.")
    expect(page.locator(".coupons-table")).to_contain_text("25 % off")
    log_out(page)

    # A learner opens the bundle with the code, sees what it holds and the price less the code, and buys it.
    log_in(page, learner.email)
    page.goto(f"/courses/{kit.slug}?coupon=SPRING25")
    expect(page.locator(".bundle-list")).to_contain_text("Grounding skills")
    expect(page.locator(".bundle-list")).to_contain_text("Sleep and the anxious client")
    expect(page.locator(".buy-price")).to_contain_text("$75")
    expect(page.get_by_role("status")).to_contain_text("SPRING25")
    page.get_by_role("button", name="Buy now").click()
    expect(page).to_have_url(re.compile(r"/checkout/test/\d+$"))
    expect(page.locator(".checkout-summary")).to_contain_text("(code SPRING25)")
    page.get_by_role("button", name="Pay $75 (test)").click()

    # ... and lands on their list of offerings, with both of them there.
    expect(page).to_have_url(re.compile(r"/learn$"))
    expect(page.locator("main")).to_contain_text("Grounding skills")
    expect(page.locator("main")).to_contain_text("Sleep and the anxious client")
    page.goto(f"/courses/{kit.slug}")
    expect(page.get_by_role("link", name="You have everything in this bundle — continue")).to_be_visible()
