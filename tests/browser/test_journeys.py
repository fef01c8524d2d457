"""Whole journeys through the real pages, in headless Chromium."""

from __future__ import annotations

import os
import re
import time

from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.models import CreatorProfile, User

from ..factories import PASSWORD, UserFactory


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def flashes(page: Page):
    return page.locator(".flashes")


def test_visitor_signs_up_becomes_a_creator_and_reaches_the_studio(page: Page, pytestconfig, mailbox):
    page.goto("/")
    main_nav(page).get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()

    page.get_by_label("Your name").fill("Ana Ruiz")
    page.get_by_label("E-mail").fill("ana@example.org")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.locator("main")).to_contain_text("ana@example.org")

    link = re.search(r"http://aqueduct\.test(/signup/finish/\S+)", mailbox.last_body())
    assert link, mailbox.last_body()
    page.goto(link.group(1))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("Choose a password").fill("quiet harbour lights")
    page.get_by_label("Repeat the password").fill("quiet harbour lights")
    page.get_by_role("button", name="Create my account").click()
    expect(flashes(page)).to_contain_text("Welcome to Aqueduct")

    main_nav(page).get_by_role("link", name="Teach on Aqueduct").click()
    expect(page.get_by_role("heading", name="Become a creator")).to_be_visible()
    page.get_by_label("Name shown to learners").fill("Dr. Ana Ruiz")
    page.get_by_label("Credentials").fill("LCSW")
    page.get_by_label("About you").fill("I teach grounding skills to clinicians and their clients.")
    page.get_by_label("Storefront address").fill("ana-ruiz-lcsw")
    page.get_by_label("Currency").select_option("CAD")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Usual fee for a 1:1 session").fill("140.00")
    page.get_by_label("Usual session length (minutes)").fill("50")
    page.get_by_role("button", name="Open my studio").click()

    expect(page).to_have_url(re.compile(r"/studio$"))
    expect(flashes(page)).to_contain_text("Your studio is ready")
    expect(page.get_by_role("heading", name="Your studio is ready")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Studio", exact=True)).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Teach on Aqueduct")).to_have_count(0)

    if os.environ.get("SAVE_SCREENSHOTS"):
        artifacts = pytestconfig.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=artifacts / "studio-after-signup.png", full_page=True)

    user = db.session.scalar(db.select(User).filter_by(email="ana@example.org"))
    assert user is not None
    assert user.time_zone == "America/Chicago"
    profile = db.session.scalar(db.select(CreatorProfile).filter_by(user_id=user.id))
    assert profile is not None
    assert profile.slug == "ana-ruiz-lcsw"
    assert profile.display_name == "Dr. Ana Ruiz"
    assert profile.currency == "CAD"
    assert profile.default_session_fee_cents == 14000
    assert profile.default_session_minutes == 50


def test_learner_logs_in_with_remember_me_and_out_again(page: Page):
    user = UserFactory(name="Sam Okafor")
    db.session.flush()

    page.goto("/")
    main_nav(page).get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Keep me logged in on this device").check()
    page.get_by_role("button", name="Log in").click()

    expect(flashes(page)).to_contain_text("You're logged in.")
    expect(main_nav(page).get_by_role("button", name="Log out")).to_be_visible()
    remembered = [c for c in page.context.cookies() if c["name"] == "remember_token"]
    assert len(remembered) == 1, "logging in with 'Keep me logged in' sets a remember cookie"
    assert remembered[0]["expires"] > time.time() + 24 * 3600, "the remember cookie outlives the browser session"
    assert remembered[0]["httpOnly"]

    main_nav(page).get_by_role("button", name="Log out").click()
    expect(flashes(page)).to_contain_text("You're logged out.")
    expect(main_nav(page).get_by_role("link", name="Log in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "remember_token"], "logging out forgets the device"
