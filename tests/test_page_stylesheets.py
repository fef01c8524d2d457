"""Each page links app.css and only the area stylesheets it uses; every one of them is served."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from courseplatform.extensions import db

from .factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    LessonFactory,
    OfferingFactory,
    SectionFactory,
    UserFactory,
)

STATIC_CSS = Path(__file__).resolve().parent.parent / "static" / "css"
STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="(/static/css/(?P<name>[\w-]+)\.[0-9a-f]{12}\.css)">')
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
COMMENT = re.compile(r"/\*.*?\*/", re.S)


@pytest.fixture
def site():
    """A creator with a published offering (two lessons, one a free preview), a learner in it, and an operator."""
    creator = CreatorProfileFactory(user=UserFactory(email="creator@example.org"), slug="ruth-adeyemi")
    offering = OfferingFactory(creator=creator, slug="steady-hands")
    section = SectionFactory(offering=offering, title="Basics")
    preview = LessonFactory(section=section, title="Breath", is_preview=True)
    lesson = LessonFactory(section=section, title="Window")
    EnrollmentFactory(user=UserFactory(email="learner@example.org"), offering=offering)
    UserFactory(email="operator@example.org", is_admin=True)
    db.session.flush()
    return {"offering": offering, "preview": preview, "lesson": lesson, "creator": creator}


def pages(site) -> dict[str, list[str]]:
    """The pages each person sees, one or more of every area."""
    offering, slug = site["offering"], site["offering"].slug
    return {
        "": ["/", "/courses", f"/courses/{slug}", f"/courses/{slug}/preview/{site['preview'].id}", "/t/ruth-adeyemi",
             "/login", "/signup", "/certificates"],
        "learner@example.org": ["/learn", f"/learn/{slug}", f"/learn/{slug}/lessons/{site['lesson'].id}", "/account",
                                "/account/orders"],
        "creator@example.org": ["/studio", f"/studio/courses/{offering.id}",
                                f"/studio/courses/{offering.id}/curriculum", f"/studio/courses/{offering.id}/learners",
                                f"/studio/courses/{offering.id}/edit",
                                "/studio/revenue", "/studio/sessions", "/studio/payouts", "/studio/files"],
        "operator@example.org": ["/admin", "/admin/orders", "/admin/creators", "/admin/jobs"],
    }  # fmt: skip


def visit_all(client, web, site) -> dict[str, str]:
    """Each page's HTML, fetched as the person who sees it."""
    html = {}
    for email, urls in pages(site).items():
        if email:
            web.login(email, PASSWORD)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
            html[url] = response.get_data(as_text=True)
        if email:
            web.logout()
    return html


def linked(html: str) -> list[str]:
    return [match["name"] for match in STYLESHEET_LINK.finditer(html)]


def classes_styled_by(name: str) -> set[str]:
    css = COMMENT.sub("", (STATIC_CSS / f"{name}.css").read_text())
    selectors = re.findall(r"([^{}]+)\{", css)
    rules = [selector for selector in selectors if not selector.lstrip().startswith("@")]
    return {cls for selector in rules for cls in CLASS_SELECTOR.findall(selector)}


def test_every_stylesheet_a_page_links_is_served(client, web, site):
    seen = set()
    for url, html in visit_all(client, web, site).items():
        names = linked(html)
        assert names and names[0] == "app", f"{url} should link app.css first, not {names}"
        assert len(names) == len(set(names)), f"{url} links a stylesheet twice: {names}"
        for address in STYLESHEET_LINK.findall(html):
            href = address[0]
            if href in seen:
                continue
            seen.add(href)
            with client.get(href) as response:
                assert response.status_code == 200, f"{href} (linked from {url}) answered {response.status_code}"
                assert response.mimetype == "text/css"
    assert {name for href in seen for name in re.findall(r"/css/([\w-]+)\.", href)} == {
        "app", "catalog", "player", "learn", "studio", "revenue", "revenue-sessions", "admin",
    }  # fmt: skip


def test_each_area_loads_its_own_stylesheets_and_not_the_others(client, web, site):
    html = visit_all(client, web, site)
    offering = site["offering"]
    assert linked(html["/login"]) == ["app"]
    assert linked(html["/courses"]) == ["app", "catalog"]
    assert linked(html[f"/learn/{offering.slug}/lessons/{site['lesson'].id}"]) == ["app", "player", "learn"]
    assert linked(html[f"/studio/courses/{offering.id}/curriculum"]) == ["app", "studio"]
    assert linked(html["/studio/revenue"]) == ["app", "studio", "revenue"]
    assert linked(html["/admin/orders"]) == ["app", "admin"]
    for url, page in html.items():
        names = linked(page)
        if url.startswith("/studio"):
            assert "admin" not in names and "catalog" not in names, f"{url} links {names}"
        if not url.startswith(("/studio", "/admin")):
            assert "studio" not in names and "admin" not in names, f"{url} links {names}"


def test_no_class_on_a_page_is_styled_only_by_a_stylesheet_it_leaves_out(client, web, site):
    """A class on the page that only an unlinked stylesheet styles means the page lost that styling."""
    areas = [path.stem for path in STATIC_CSS.glob("*.css")]
    styled = {name: classes_styled_by(name) for name in areas}
    problems = []
    for url, html in visit_all(client, web, site).items():
        names = set(linked(html))
        on_page = {cls for attribute in CLASS_ATTRIBUTE.findall(html) for cls in attribute.split()}
        available = set().union(*(styled[name] for name in names))
        for cls in sorted(on_page - available):
            elsewhere = [name for name in areas if cls in styled[name]]
            if elsewhere:
                problems.append(f"{url}: .{cls} is styled only in {', '.join(sorted(elsewhere))}.css")
    assert not problems, "\n".join(problems)


def test_an_unknown_stylesheet_name_is_an_error_not_a_page_without_styles(app):
    source = '{% from "_macros/styles.html" import stylesheets %}{{ stylesheets("studoi") }}'
    template = app.jinja_env.from_string(source)
    with app.test_request_context(), pytest.raises(UndefinedError):
        template.render()
