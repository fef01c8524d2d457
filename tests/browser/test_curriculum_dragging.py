"""The curriculum editor's drag and drop (SortableJS), by mouse and by touch: the new order is saved and stays.

The pages run under the site's Content-Security-Policy (no inline style or script): SortableJS sets styles
through the DOM, which the policy allows, and a violation would show as a console error and fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from courseplatform.extensions import db
from courseplatform.models import Section

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory

PHONE = {"width": 390, "height": 844}
VIEWPORT_HEIGHT = 900  # the `page` fixture's


@pytest.fixture
def offering():
    """An offering with three sections: 'Basics' (three lessons), 'Practice' (one) and 'Extras' (none)."""
    creator = CreatorProfileFactory(user=UserFactory(email="dragger@example.org"))
    offering = OfferingFactory(creator=creator, title="Steady Hands")
    basics = SectionFactory(offering=offering, title="Basics", position=1)
    practice = SectionFactory(offering=offering, title="Practice", position=2)
    SectionFactory(offering=offering, title="Extras", position=3)
    for position, title in enumerate(["Breath", "Window", "Orienting"], start=1):
        LessonFactory(section=basics, title=title, position=position)
    LessonFactory(section=practice, title="Homework", position=1)
    db.session.flush()
    return offering


def log_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill("dragger@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flashes")).to_contain_text("You're logged in.")


def titles_in(page: Page, section_title: str) -> Locator:
    return page.get_by_role("list", name=f"Lessons in {section_title}").locator(".curriculum-lesson-title")


def lesson_row(page: Page, title: str) -> Locator:
    return page.locator(".curriculum-lesson").filter(has=page.get_by_role("link", name=title, exact=True))


def section_card(page: Page, title: str) -> Locator:
    return page.locator(".curriculum-section").filter(has=page.get_by_role("heading", name=title, level=2))


def saved_order(offering) -> list[tuple[str, list[str]]]:
    """The order the database holds, read afresh."""
    db.session.expire_all()
    sections = db.session.scalars(db.select(Section).filter_by(offering_id=offering.id).order_by(Section.position))
    return [(section.title, [lesson.title for lesson in section.lessons]) for section in sections]


def centre(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box, "the element is not on the page"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def mouse_drag(page: Page, handle: Locator, target: Locator, *, follow: bool = False) -> None:
    """Hold the handle with the mouse, move onto the target in steps, rest there a moment, let go.

    SortableJS moves the dragged row into the place of each row it passes over, so it ends in the target's
    place (or, over an empty section's note, in that section). Rows it passed on the way may have pushed the
    target down: with `follow`, the pointer moves onto the target where it now is (only for a target that
    is no row itself, such as an empty section's note, which taking twice changes nothing).
    """
    target.evaluate("element => element.scrollIntoView({block: 'end'})")
    x, y = centre(handle)
    assert 0 < y < VIEWPORT_HEIGHT, "the handle and the target don't fit on one screen"
    page.mouse.move(x, y)
    page.mouse.down()
    to_x, to_y = centre(target)
    page.mouse.move(x, y + (5 if to_y > y else -5), steps=2)
    page.mouse.move(to_x, to_y, steps=12)
    page.wait_for_timeout(300)  # the rows slide for 150 ms
    if follow:
        page.mouse.move(*centre(target), steps=6)
        page.wait_for_timeout(300)
    page.mouse.up()


def touch_drag(page: Page, handle: Locator, target: Locator) -> None:
    """A finger on the handle, held past SortableJS's delay, slid onto the target, lifted: real touch input.

    The target is scrolled to the bottom of the screen; the handle must then be on the screen too.
    """
    target.evaluate("element => element.scrollIntoView({block: 'end'})")
    session = page.context.new_cdp_session(page)
    x, y = centre(handle)
    assert 0 < y < PHONE["height"], "the handle and the target don't fit on one screen"
    to_x, to_y = centre(target)

    def touch(kind: str, px: float, py: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": px, "y": py}]
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", x, y)
    page.wait_for_timeout(400)  # longer than the 150 ms a finger must rest on the handle
    steps = 15
    for step in range(1, steps + 1):
        touch("touchMove", x + (to_x - x) * step / steps, y + (to_y - y) * step / steps)
        page.wait_for_timeout(30)
    page.wait_for_timeout(300)  # the rows slide for 150 ms
    touch("touchEnd", to_x, to_y)
    session.detach()


def test_creator_reorders_lessons_and_sections_with_a_mouse(page: Page, offering):
    log_in(page)
    page.goto(f"/studio/courses/{offering.id}/curriculum")
    expect(page.get_by_text("Drag a section or lesson by its handle")).to_be_visible()

    # Within a section: "Orienting" goes to the top of "Basics".
    mouse_drag(page, lesson_row(page, "Orienting").locator(".drag-handle"), lesson_row(page, "Breath"))
    expect(page.get_by_text("New order saved.")).to_be_visible()
    expect(titles_in(page, "Basics")).to_have_text(["Orienting", "Breath", "Window"])

    # Across sections: "Window" goes into the empty "Extras", onto its "No lessons yet" note.
    page.evaluate("document.querySelector('.curriculum-status').textContent = ''")
    mouse_drag(
        page,
        lesson_row(page, "Window").locator(".drag-handle"),
        section_card(page, "Extras").locator(".curriculum-no-lessons"),
        follow=True,
    )
    expect(page.get_by_text("New order saved.")).to_be_visible()

    # A whole section: "Practice" goes above "Basics".
    page.evaluate("document.querySelector('.curriculum-status').textContent = ''")
    mouse_drag(
        page,
        section_card(page, "Practice").locator(".drag-handle[data-drag='section']"),
        section_card(page, "Basics").locator(".curriculum-section-header"),
    )
    expect(page.get_by_text("New order saved.")).to_be_visible()

    page.reload()
    expect(page.locator(".curriculum-section h2")).to_have_text(["Practice", "Basics", "Extras"])
    expect(titles_in(page, "Practice")).to_have_text(["Homework"])
    expect(titles_in(page, "Basics")).to_have_text(["Orienting", "Breath"])
    expect(titles_in(page, "Extras")).to_have_text(["Window"])
    expect(page.get_by_role("button", name="Move section “Practice” up")).to_be_disabled()
    expect(page.get_by_role("button", name="Move lesson “Homework” up")).to_be_disabled()
    expect(page.get_by_role("button", name="Move lesson “Window” down")).to_be_disabled()
    assert saved_order(offering) == [
        ("Practice", ["Homework"]),
        ("Basics", ["Orienting", "Breath"]),
        ("Extras", ["Window"]),
    ]


@pytest.fixture
def phone(browser: Browser, live_url: str) -> Iterator[Page]:
    """A page on a touch screen the size of a phone, failing the test on any console error (as `page` does)."""
    errors: list[str] = []
    context = browser.new_context(base_url=live_url, viewport=PHONE, has_touch=True, is_mobile=True)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console error: {message.text}")

    try:
        new_page = context.new_page()
        new_page.on("console", on_console)
        new_page.on("pageerror", lambda error: errors.append(f"uncaught exception: {error.message}"))
        yield new_page
    finally:
        context.close()
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def test_creator_reorders_lessons_by_touch_on_a_phone(phone: Page, offering):
    log_in(phone)
    response = phone.goto(f"/studio/courses/{offering.id}/curriculum")
    assert response and "style-src 'self';" in response.headers["content-security-policy"], "under the strict policy"
    assert phone.evaluate("matchMedia('(pointer: coarse)').matches"), "the page should see a touch screen"
    expect(phone.get_by_text("Drag a section or lesson by its handle")).to_be_visible()

    # "Window" goes to the top of "Basics".
    touch_drag(phone, lesson_row(phone, "Window").locator(".drag-handle"), lesson_row(phone, "Breath"))
    expect(phone.get_by_text("New order saved.")).to_be_visible()
    expect(titles_in(phone, "Basics")).to_have_text(["Window", "Breath", "Orienting"])

    # "Homework" goes from "Practice" into the empty "Extras" section, onto its "No lessons yet" note.
    phone.evaluate("document.querySelector('.curriculum-status').textContent = ''")
    touch_drag(
        phone,
        lesson_row(phone, "Homework").locator(".drag-handle"),
        section_card(phone, "Extras").locator(".curriculum-no-lessons"),
    )
    expect(phone.get_by_text("New order saved.")).to_be_visible()

    phone.reload()
    expect(titles_in(phone, "Basics")).to_have_text(["Window", "Breath", "Orienting"])
    expect(titles_in(phone, "Extras")).to_have_text(["Homework"])
    expect(section_card(phone, "Extras").locator(".curriculum-no-lessons")).to_be_hidden()
    expect(section_card(phone, "Practice").locator(".curriculum-no-lessons")).to_be_visible()
    assert saved_order(offering) == [
        ("Basics", ["Window", "Breath", "Orienting"]),
        ("Practice", []),
        ("Extras", ["Homework"]),
    ]


def test_a_finger_that_slides_off_a_handle_at_once_scrolls_instead_of_dragging(phone: Page, offering):
    log_in(phone)
    phone.goto(f"/studio/courses/{offering.id}/curriculum")
    handle = lesson_row(phone, "Window").locator(".drag-handle")
    handle.scroll_into_view_if_needed()
    session = phone.context.new_cdp_session(phone)
    x, y = centre(handle)
    # No pause on the handle: SortableJS's touch delay is not met, so nothing is picked up.
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 8):
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - 20 * step}]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    phone.wait_for_timeout(300)
    expect(titles_in(phone, "Basics")).to_have_text(["Breath", "Window", "Orienting"])
    expect(phone.locator(".curriculum-status")).to_have_text("")
    assert saved_order(offering)[0] == ("Basics", ["Breath", "Window", "Orienting"])
