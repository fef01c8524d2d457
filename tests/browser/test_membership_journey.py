"""A learner joins the demo therapist's consultation group membership in test mode, sees the group's next
meeting, cancels, keeps access to the end of the period paid for, and loses it when the period ends:
in headless Chromium."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from courseplatform.demo.seed import LEARNER_EMAIL, seed_demo
from courseplatform.extensions import db
from courseplatform.jobs.scheduled import bill_test_plans
from courseplatform.models import PaymentPlan, User

DEMO_PASSWORD = "aqueduct-demo"


def log_in_demo(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(LEARNER_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flashes")).to_contain_text("You're logged in.")


def test_a_learner_joins_the_consultation_circle_cancels_and_keeps_it_to_the_end_of_the_month(
    page: Page, console_errors: list[str]
):
    seed_demo()
    db.session.commit()
    log_in_demo(page)

    # The membership's page: a monthly price, what it gives, and Join.
    page.goto("/courses/consultation-circle")
    expect(page.locator(".buy-price")).to_contain_text("$49")
    expect(page.locator(".buy-price")).to_contain_text("a month")
    expect(page.locator(".bundle-list")).to_contain_text("Case Consultation Group")
    page.get_by_role("button", name="Join for $49 a month").click()
    expect(page).to_have_url(re.compile(r"/checkout/test/\d+$"))
    page.get_by_role("button", name="Pay $49 (test)").click()

    # In My learning, the group and its next meeting.
    expect(page).to_have_url(re.compile(r"/learn$"))
    expect(page.locator("main")).to_contain_text("Case Consultation Group")
    page.get_by_role("link", name=re.compile("Case Consultation Group")).first.click()
    sessions = page.locator(".live-sessions")
    expect(sessions).to_contain_text("Upcoming live sessions")
    expect(sessions.locator(".live-session").first).to_contain_text("Consultation 1")
    expect(sessions.locator(".live-session").first).to_contain_text("Tuesday")

    # Cancel from My orders: it ends with the month paid for, and access stays until then.
    page.goto("/account/orders")
    expect(page.locator(".plan-card")).to_contain_text("Renews on")
    page.get_by_role("button", name="Cancel membership").click()
    expect(page.locator(".flashes")).to_contain_text("Your membership is canceled: it ends on")
    expect(page.locator(".plan-card")).to_contain_text("you keep access until then")
    expect(page.get_by_role("button", name="Keep my membership")).to_be_visible()
    page.goto("/learn/case-consultation-group")
    expect(page.locator(".live-sessions")).to_contain_text("Consultation 1")

    # The month ends: the billing run ends the membership instead of renewing it.
    db.session.expire_all()
    learner = db.session.scalar(sa.select(User).filter_by(email=LEARNER_EMAIL))
    plan = db.session.scalars(sa.select(PaymentPlan).filter_by(learner_id=learner.id)).one()
    assert bill_test_plans(plan.next_charge_at)["ended"] == 1
    page.goto("/courses/case-consultation-group")
    expect(page.locator(".access-note")).to_contain_text("Your membership has ended")
    page.goto("/account/orders")
    expect(page.locator(".plan-card")).to_contain_text("Ended on")
    assert console_errors == []
