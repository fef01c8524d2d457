"""A creator builds an offering in the studio, publishes it, and a visitor finds it in the catalog."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from courseplatform.extensions import db
from courseplatform.models import Offering, OfferingStatus

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory

TITLE = "Calm Nervous Systems"
FIRST_SECTION = "Getting grounded"
SECOND_SECTION = "Practice between sessions"
BREATH = "Noticing the breath"
WINDOW = "The window of tolerance"
ORIENTING = "Orienting to the room"


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def flashes(page: Page):
    return page.locator(".flashes")


def lessons_in(page: Page, section_title: str):
    """The lesson rows of one section of the curriculum editor, in the order shown."""
    return page.get_by_role("list", name=f"Lessons in {section_title}").locator(".curriculum-lesson")


def lesson_row(page: Page, title: str):
    return page.locator(".curriculum-lesson").filter(has=page.get_by_role("link", name=title, exact=True))


def add_section(page: Page, title: str) -> None:
    form = page.locator("form").filter(has=page.get_by_role("button", name="Add section"))
    form.get_by_label("Section title").fill(title)
    form.get_by_role("button", name="Add section").click()
    expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()


def add_text_lesson(page: Page, section_title: str, title: str, body: str) -> None:
    page.get_by_role("link", name=f"Add a lesson to {section_title}").click()
    expect(page.get_by_role("heading", name="New lesson")).to_be_visible()
    page.get_by_label("Lesson title").fill(title)
    page.get_by_label("Kind of lesson").select_option("text")
    page.get_by_label("Lesson text").fill(body)
    page.get_by_role("button", name="Add lesson").click()
    expect(page).to_have_url(re.compile(r"/curriculum"))
    expect(lessons_in(page, section_title).filter(has_text=title)).to_have_count(1)


def test_creator_builds_publishes_and_a_visitor_finds_it(page: Page):
    creator = CreatorProfileFactory(user=UserFactory(name="Ruth Adeyemi", email="ruth@example.org"))
    db.session.flush()

    # Log in through the real form.
    page.goto("/")
    main_nav(page).get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail").fill("ruth@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(flashes(page)).to_contain_text("You're logged in.")

    # Create a self-paced course.
    page.goto("/studio")
    page.get_by_role("link", name="New self-paced course").click()
    expect(page.get_by_role("heading", name="New offering")).to_be_visible()
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Subtitle").fill("Grounding skills you can teach a client in one session.")
    page.get_by_label("Description").fill(
        "Short, practical lessons on **regulation**:\n\n- noticing the breath\n- orienting\n- the window of tolerance"
    )
    page.get_by_label("Fixed price").check()
    page.get_by_label("Price", exact=True).fill("89")
    page.get_by_role("button", name="Create draft").click()

    expect(flashes(page)).to_contain_text("Your offering is saved as a draft")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    overview_url = page.url
    assert re.search(r"/studio/courses/\d+$", overview_url)

    # Publishing too early says what is missing.
    page.get_by_role("button", name="Publish").click()
    expect(flashes(page)).to_contain_text("Not published yet.")
    expect(page.get_by_role("list", name="What is missing")).to_contain_text("Add at least one lesson")
    expect(page.locator(".studio-course-header .status")).to_have_text("Draft")

    # Build the curriculum with the real forms.
    page.get_by_role("navigation", name="This offering").get_by_role("link", name="Curriculum").click()
    expect(page.get_by_role("heading", name="Start with your first section")).to_be_visible()
    add_section(page, FIRST_SECTION)
    add_section(page, SECOND_SECTION)
    add_text_lesson(page, FIRST_SECTION, BREATH, "Rest a hand on the belly and count five breaths.")
    add_text_lesson(page, FIRST_SECTION, WINDOW, "Between too much and too little lies the window.")
    add_text_lesson(page, SECOND_SECTION, ORIENTING, "Name five things you can see, slowly.")
    expect(page.locator(".curriculum-lesson-title")).to_have_text([BREATH, WINDOW, ORIENTING])

    # Reorder without JavaScript's help: the up arrow is a form that posts and reloads.
    page.get_by_role("button", name=f"Move lesson “{WINDOW}” up").click()
    expect(lessons_in(page, FIRST_SECTION).locator(".curriculum-lesson-title")).to_have_text([WINDOW, BREATH])

    # Reorder by drag and drop: "Noticing the breath" goes to the top of the second section.
    handle = lesson_row(page, BREATH).locator(".drag-handle")
    expect(handle).to_be_visible()
    handle.drag_to(lesson_row(page, ORIENTING), target_position={"x": 40, "y": 3})
    expect(page.get_by_text("New order saved.")).to_be_visible()

    page.reload()
    expect(lessons_in(page, FIRST_SECTION).locator(".curriculum-lesson-title")).to_have_text([WINDOW])
    expect(lessons_in(page, SECOND_SECTION).locator(".curriculum-lesson-title")).to_have_text([BREATH, ORIENTING])
    expect(page.get_by_role("button", name=f"Move lesson “{WINDOW}” up")).to_be_disabled()
    expect(page.get_by_role("button", name=f"Move lesson “{ORIENTING}” down")).to_be_disabled()

    # Publish from the overview.
    page.get_by_role("navigation", name="This offering").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Ready to publish")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(flashes(page)).to_contain_text("Published: your offering is in the catalog.")
    expect(page.get_by_role("heading", name="Published", exact=True)).to_be_visible()
    expect(page.locator(".studio-course-header .status")).to_have_text("Published")

    # A visitor finds it in the catalog.
    main_nav(page).get_by_role("button", name="Log out").click()
    expect(flashes(page)).to_contain_text("You're logged out.")
    page.goto("/courses")
    search = page.get_by_role("search", name="Find a course")
    search.get_by_label("Search").fill("nervous")
    search.get_by_role("button", name="Show results").click()
    expect(page).to_have_url(re.compile(r"/courses\?.*q=nervous"))
    card = page.locator(".course-card").filter(has=page.get_by_role("heading", name=TITLE))
    expect(card).to_have_count(1)
    expect(card).to_contain_text("$89")
    card.get_by_role("link").click()

    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.locator(".buy-price")).to_have_text("$89")
    expect(page.get_by_role("heading", name="What's inside")).to_be_visible()
    outline = page.locator(".outline")
    expect(outline.get_by_role("heading", level=3)).to_have_text([FIRST_SECTION, SECOND_SECTION])
    expect(outline.locator(".lesson-title")).to_have_text([WINDOW, BREATH, ORIENTING])

    # And the database agrees.
    db.session.expire_all()
    offering = db.session.scalar(db.select(Offering).filter_by(creator_id=creator.id))
    assert offering.title == TITLE
    assert offering.status is OfferingStatus.PUBLISHED
    assert offering.price_cents == 8900
    assert [s.title for s in offering.sections] == [FIRST_SECTION, SECOND_SECTION]
    assert [s.position for s in offering.sections] == [0, 1]
    assert [[lesson.title for lesson in s.lessons] for s in offering.sections] == [[WINDOW], [BREATH, ORIENTING]]
    assert [[lesson.position for lesson in s.lessons] for s in offering.sections] == [[0], [0, 1]]
