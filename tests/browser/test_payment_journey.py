"""Buying in test mode, landing in the course, and the creator refunding it: in headless Chromium."""

from __future__ import annotations

import os
import re

from playwright.sync_api import Page, expect

from courseplatform.extensions import db

from ..factories import PASSWORD, LessonFactory, OfferingFactory, SectionFactory, UserFactory


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flashes")).to_contain_text("You're logged in.")


def log_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()


def test_a_learner_buys_in_test_mode_and_loses_access_when_the_creator_refunds(
    page: Page, pytestconfig, console_errors: list[str]
):
    offering = OfferingFactory(title="Grounding skills for clinicians", price_cents=4900)
    lesson = LessonFactory(section=SectionFactory(offering=offering, title="Start here"), title="Welcome to the course")
    learner = UserFactory(name="Ana Ruiz", email="ana@example.org")
    creator_email = offering.creator.user.email
    db.session.commit()

    # The learner buys.
    log_in(page, learner.email)
    page.goto(f"/courses/{offering.slug}")
    page.get_by_role("button", name="Buy now").click()
    expect(page).to_have_url(re.compile(r"/checkout/test/\d+$"))
    expect(page.get_by_role("note")).to_contain_text("Test mode.")
    page.get_by_role("button", name="Pay $49 (test)").click()

    # ... and lands in the course, whose first lesson is one click away.
    expect(page).to_have_url(re.compile(rf"/learn/{offering.slug}$"))
    expect(page.locator(".flashes")).to_contain_text("You're enrolled in Grounding skills for clinicians")
    page.get_by_role("link", name="Start the course").click()
    expect(page).to_have_url(re.compile(rf"/learn/{offering.slug}/lessons/{lesson.id}$"))
    expect(page.get_by_role("heading", name="Welcome to the course")).to_be_visible()
    page.goto("/account/orders")
    expect(page.locator(".orders-table")).to_contain_text("Grounding skills for clinicians")
    expect(page.locator(".orders-table")).to_contain_text("Paid")
    log_out(page)

    # The creator refunds the whole order from the learners page.
    log_in(page, creator_email)
    page.goto(f"/studio/courses/{offering.id}/learners")
    expect(page.get_by_role("rowheader").get_by_text("ana@example.org")).to_be_visible()
    page.get_by_role("link", name="Refund ana@example.org").click()
    expect(page.get_by_label("Amount to refund")).to_have_value("49")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator(".flashes")).to_contain_text("Refunded $49")
    if os.environ.get("SAVE_SCREENSHOTS"):
        artifacts = pytestconfig.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=artifacts / "studio-learners-after-refund.png", full_page=True)
    log_out(page)

    # The learner can no longer open the lesson, and is told why; the offering's page offers to buy again.
    log_in(page, learner.email)
    page.goto(f"/learn/{offering.slug}/lessons/{lesson.id}")
    expect(page.locator("h1")).to_have_text("Your purchase was refunded")
    expect(page.locator("main")).to_contain_text("Your payment was refunded in full on")
    # The page itself answers 403 (it isn't theirs to open), which Chromium logs: that one is expected.
    console_errors[:] = [
        error for error in console_errors if f"/lessons/{lesson.id}:" not in error or "403" not in error
    ]
    page.get_by_role("link", name="See the offering to buy it again").click()
    expect(page).to_have_url(re.compile(rf"/courses/{offering.slug}$"))
    expect(page.get_by_role("button", name="Buy again")).to_be_visible()
    page.goto("/account/orders")
    expect(page.locator(".orders-table")).to_contain_text("Refunded")
