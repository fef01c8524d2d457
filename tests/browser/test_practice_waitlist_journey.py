"""A visitor the demo therapist can't see yet joins her practice waitlist, sees the crisis line first and the free
mini-course, takes it; the therapist sees the sign-up and the enrollment in her revenue view's funnel."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from courseplatform.demo.seed import DEMO_PASSWORD, THERAPIST_EMAIL, ZONE, seed_demo
from courseplatform.extensions import db
from courseplatform.models import CreatorProfile, PracticeWaitlistEntry
from courseplatform.revenue.figures import Period, revenue_figures

VISITOR = "sam.rivera@example.org"


def funnel_now() -> tuple[int, int]:
    profile = db.session.scalar(db.select(CreatorProfile).filter_by(slug="maya-okafor"))
    zone = ZoneInfo(ZONE)
    period = Period.ending(datetime.now(UTC).astimezone(zone).date())
    figures = revenue_figures(profile, period, zone).funnel
    return figures.signups, figures.enrolled


def test_a_visitor_joins_the_waitlist_takes_the_free_course_and_the_therapist_sees_it(page: Page, mailbox):
    seed_demo()
    db.session.commit()
    signups, enrolled = funnel_now()
    assert signups > 0, "the demo has people on the list already"

    # The storefront says she is full, and leads to the waitlist page.
    page.goto("/t/maya-okafor")
    page.get_by_role("link", name="Join the waitlist, and find help while you wait").click()
    expect(page).to_have_url(re.compile(r"/t/maya-okafor/waitlist$"))
    crisis = page.get_by_role("complementary", name="If you are in crisis")
    expect(crisis).to_contain_text("Call or text 988")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Dr. Maya Okafor isn't taking new clients right now")
    assert crisis.bounding_box()["y"] < heading.bounding_box()["y"], "the crisis line comes first"

    # An address and consent: nothing else is asked.
    page.get_by_label("Your e-mail").fill(VISITOR)
    page.get_by_label("E-mail me when a place opens").check()
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.locator(".flashes")).to_contain_text(f"{VISITOR} is on Dr. Maya Okafor's waitlist")
    assert "You're on Dr. Maya Okafor's waitlist" in [m["Subject"] for m in mailbox.messages]

    # The free mini-course, offered while she waits.
    page.get_by_role("link", name=re.compile("While You Wait: Steadying Anxiety")).click()
    expect(page.get_by_role("complementary", name="If you are in crisis")).to_contain_text("988")

    # She makes an account with the same address, and enrols.
    page.goto("/signup")
    page.get_by_label("Your name").fill("Sam Rivera")
    page.get_by_label("E-mail").fill(VISITOR)
    page.get_by_role("button", name="Continue").click()
    link = re.search(r"http://aqueduct\.test(/signup/finish/\S+)", mailbox.last_body())
    page.goto(link.group(1))
    page.get_by_label("Choose a password").fill("quiet harbour lights")
    page.get_by_label("Repeat the password").fill("quiet harbour lights")
    page.get_by_role("button", name="Create my account").click()
    page.goto("/courses/while-you-wait")
    page.get_by_role("button", name="Enroll for free").click()
    expect(page.get_by_role("complementary", name="If you are in crisis").first).to_contain_text("988")
    page.get_by_role("button", name="Log out").click()

    # The therapist sees her on the list, and in the funnel.
    page.goto("/login")
    page.get_by_label("E-mail").fill(THERAPIST_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/studio")
    page.get_by_role("link", name="Practice waitlist").click()
    expect(page.get_by_role("region", name="People on your waitlist")).to_contain_text(VISITOR)

    page.get_by_role("link", name="Revenue", exact=True).click()
    funnel = page.locator("#funnel")
    expect(funnel.get_by_role("heading", name="People helped while you were full")).to_be_visible()
    expect(funnel.locator('[data-figure="funnel-signups"]')).to_have_text(str(signups + 1))
    expect(funnel.locator('[data-figure="funnel-enrolled"]')).to_have_text(str(enrolled + 1))
    this_month = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).strftime("%B %Y")
    expect(funnel.get_by_role("row", name=re.compile(this_month))).to_be_visible()
    assert db.session.scalar(db.select(PracticeWaitlistEntry.email).filter_by(email=VISITOR)) == VISITOR
