"""Whatever a creator types, the shop window shows it as text: no script, no event handlers."""

from __future__ import annotations

import pytest

from courseplatform.models import LessonKind, OfferingKind

from ..factories import CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from ..factories.catalog import topic
from ..factories.live import live_session
from ..markup import assert_no_live_script, elements

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
MARKDOWN = (
    f"{SCRIPT}\n\n{ATTRIBUTE}\n\n[click me](javascript:alert(1))\n\n"
    '<a href="javascript:alert(2)">raw link</a>\n\n<p onmouseover="alert(3)">hover</p>'
)
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_ATTRIBUTE = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def hostile():
    """An offering where every field a creator writes carries a payload."""
    creator = CreatorProfileFactory(
        slug="hostile",
        display_name=f"Eve {SCRIPT}",
        credentials=ATTRIBUTE,
        bio=MARKDOWN,
    )
    offering = OfferingFactory(
        creator=creator,
        slug="hostile-course",
        kind=OfferingKind.LIVE_WORKSHOP,
        title=f"Hostile {SCRIPT}",
        subtitle=f"Sub {ATTRIBUTE}",
        description=MARKDOWN,
        ce_minutes=60,
        ce_approval_statement=f"CE {SCRIPT}",
        topics=[topic(SCRIPT, "hostile-topic")],
    )
    section = SectionFactory(offering=offering, title=f"Section {ATTRIBUTE}")
    lesson = LessonFactory(section=section, title=f"Lesson {SCRIPT}", body=MARKDOWN, is_preview=True)
    LessonFactory(section=section, title=f"Other {ATTRIBUTE}", kind=LessonKind.TEXT)
    live_session(offering, title=f"Session {ATTRIBUTE}")
    return offering, lesson


def assert_inert(html: str) -> None:
    assert SCRIPT not in html
    assert "alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert_no_live_script(html)


def test_payloads_are_escaped_on_every_public_page(client, hostile):
    _offering, lesson = hostile
    pages = {
        "/": ["title", "creator"],
        "/courses": ["title", "creator", "subtitle", "topic"],
        "/courses?q=hostile": ["title", "subtitle"],
        "/courses/hostile-course": ["title", "subtitle", "creator", "credentials", "lesson", "section", "topic"],
        "/t/hostile": ["creator", "credentials", "title"],
        f"/courses/hostile-course/preview/{lesson.id}": ["lesson", "title"],
    }
    expected = {
        "title": f"Hostile {ESCAPED_SCRIPT}",
        "subtitle": f"Sub {ESCAPED_ATTRIBUTE}",
        "creator": f"Eve {ESCAPED_SCRIPT}",
        "credentials": ESCAPED_ATTRIBUTE,
        "lesson": f"Lesson {ESCAPED_SCRIPT}",
        "section": f"Section {ESCAPED_ATTRIBUTE}",
        "topic": f">{ESCAPED_SCRIPT}</",
    }
    for url, fields in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert_inert(html)
        for name in fields:
            assert expected[name] in html, f"{url}: {name} is not shown as escaped text"


def test_markdown_fields_keep_their_text_but_lose_scripts_handlers_and_javascript_links(client, hostile):
    _offering, lesson = hostile
    for url in ["/courses/hostile-course", "/t/hostile", f"/courses/hostile-course/preview/{lesson.id}"]:
        html = client.get(url).get_data(as_text=True)
        assert_inert(html)
        assert "[click me](javascript:alert(1))" in html, "a javascript: link stays the text it was"
        assert "&lt;a href=" in html and "raw link" in html, "raw HTML shows as text"
        assert "hover" in html
        assert not [attrs for tag, attrs in elements(html) if tag in {"a", "p"} and "alert" in str(attrs)]


def test_live_session_titles_and_ce_statements_are_escaped(client, hostile):
    html = client.get("/courses/hostile-course").get_data(as_text=True)
    assert f"Session {ESCAPED_ATTRIBUTE}" in html
    assert f"CE {ESCAPED_SCRIPT}" in html
    assert_inert(html)


def test_search_terms_are_escaped_when_shown_back(client):
    html = client.get("/courses", query_string={"q": SCRIPT}).get_data(as_text=True)
    assert_inert(html)
    assert ESCAPED_SCRIPT in html
