"""Markdown creators write: rendered once when saved, in time linear in its length, and never able to run script."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from markupsafe import Markup

from courseplatform.demo.seed import seed_demo
from courseplatform.extensions import db
from courseplatform.markdown_render import render_markdown
from courseplatform.models import CreatorProfile, Lesson, LessonKind, Offering, QuizQuestion, Section
from courseplatform.studio.offerings.services import duplicate_offering

from .factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from .factories.player import add_quiz, learner_in, lesson_url, page_token
from .markup import assert_no_live_script, elements, links

# The longest Markdown any form accepts (a lesson's text); the others are shorter.
LONGEST = 100_000
# How many times longer than ordinary lesson text of the same length hostile text may take to render,
# both measured in this run, so that the machine's speed and load cancel out. The slowest input below
# takes about 10 times as long; a parser whose time grows with the square of the length takes thousands
# of times as long at this size (python-markdown needed 17 s for just 12,000 "[").
# benchmarks/markdown.py prints each case's figures.
RENDER_BUDGET_RATIO = 40

ORDINARY_PARAGRAPHS = (
    "## Grounding\n\nLearn **twelve** techniques, *gently*. See [the handout](https://example.org/h) "
    "and `box breathing`.\n\n- one\n- two\n\n> Said a client\n\n"
)
ORDINARY = (ORDINARY_PARAGRAPHS * (LONGEST // len(ORDINARY_PARAGRAPHS) + 1))[:LONGEST]


N = LONGEST
_PATHOLOGICAL = {
    "open brackets": "[" * N,
    "image openers": "![" * (N // 2),
    "unclosed links": "[a](" * (N // 4),
    "empty unclosed links": "[](" * (N // 3),
    "reference openers": "[a][" * (N // 4),
    "nested links": "[" * (N // 5) + "a" + "](b)" * (N // 5),
    "escaped brackets": "\\[" * (N // 2),
    "deep blockquote": ">" * N,
    "deep spaced blockquote": "> " * (N // 2),
    "deep bullet lists": "- " * (N // 2),
    "deep ordered lists": "1. " * (N // 3),
    "deep indented lists": "".join("  " * depth + "- a\n" for depth in range(300)),
    "tab lists": "-\t" * (N // 2),
    "emphasis run": "*" * N,
    "emphasis pairs": "*a **a " * (N // 7),
    "nested emphasis": "*a " * (N // 6) + "b" + " a*" * (N // 6),
    "underscore run": "_" * N,
    "mixed delimiters": "**_" * (N // 3),
    "strikethrough": "~~a" * (N // 3),
    "backtick run": "`" * N,
    "growing backtick runs": "".join("`" * k + "a" for k in range(1, 450)),
    "less-than run": "<" * N,
    "unclosed tags": "<a href='" * (N // 9),
    "html comments": "<!--" * (N // 4),
    "unclosed autolinks": "<http://" * (N // 8),
    "entities": "&#" * (N // 2),
    "backslashes": "\\" * N,
    "link reference definitions": "".join(f"[r{i}]: http://x.org/{i}\n" for i in range(N // 50)) + "[r1] " * (N // 10),
    "half reference definitions": "[a]:" * (N // 4),
    "wide table": "|" + "a|" * (N // 4 - 1) + "\n|" + "-|" * (N // 4 - 1) + "\n",
    "wide table with empty rows": "|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + "|\n" * (N // 2 - 1000),
    "many small tables": "|a|b|\n|-|-|\n|c|d|\n\n" * (N // 20),
    "setext headings": "a\n=\n" * (N // 4),
    "fences": "```\n" * (N // 4),
    "hashes": "#" * N,
    "blank lines": "\n" * N,
    "everything at once": "*_~`[<!>" * (N // 8),
}
PATHOLOGICAL = {name: text[:LONGEST] for name, text in _PATHOLOGICAL.items()}


def render_seconds(text: str) -> tuple[float, Markup]:
    """CPU seconds (so that other work on a shared machine doesn't count) to render `text`, and the HTML."""
    started = time.process_time()
    html = render_markdown(text)
    return time.process_time() - started, html


@pytest.fixture(scope="module")
def ordinary_seconds() -> float:
    """The time ordinary lesson text of the longest length takes to render here, the best of three."""
    return min(render_seconds(ORDINARY)[0] for _ in range(3))


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_markdown_renders_in_bounded_time_and_stays_inert(name, ordinary_seconds):
    text = PATHOLOGICAL[name]

    elapsed, html = render_seconds(text)

    ratio = elapsed / ordinary_seconds
    assert ratio < RENDER_BUDGET_RATIO, (
        f"{name}: {len(text):,} characters took {elapsed:.1f} s, "
        f"{ratio:.0f} times ordinary text's {ordinary_seconds:.2f} s"
    )
    assert len(html) < 10 * len(text) + 100, f"{name}: {len(text):,} characters became {len(html):,} of HTML"
    assert_no_live_script(html)


# ---------------------------------------------------------------------------
# What creators write keeps rendering as before


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("Learn **twelve** techniques, *gently*.", "<p>Learn <strong>twelve</strong> techniques, <em>gently</em>.</p>"),
        ("## Why\n\n### How", "<h2>Why</h2>\n<h3>How</h3>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("1. first\n2. second", "<ol>\n<li>first</li>\n<li>second</li>\n</ol>"),
        ("- a\n  - nested", "<ul>\n<li>a\n<ul>\n<li>nested</li>\n</ul>\n</li>\n</ul>"),
        ("Intro:\n- a list right after a line", "<p>Intro:</p>\n<ul>\n<li>a list right after a line</li>\n</ul>"),
        ("> Said a client", "<blockquote>\n<p>Said a client</p>\n</blockquote>"),
        ("Use `grounding` daily", "<p>Use <code>grounding</code> daily</p>"),
        ("```\n<b>kept as text</b>\n```", "<pre><code>&lt;b&gt;kept as text&lt;/b&gt;\n</code></pre>"),
        ("first line  \nsecond", "<p>first line<br>\nsecond</p>"),
        ("---", "<hr>"),
        ("~~old~~ new", "<p><s>old</s> new</p>"),
        (
            "| Skill | Minutes |\n|:--|--:|\n| Breathing | 5 |",
            "<table>\n<thead>\n<tr>\n<th>Skill</th>\n<th>Minutes</th>\n</tr>\n</thead>\n"
            "<tbody>\n<tr>\n<td>Breathing</td>\n<td>5</td>\n</tr>\n</tbody>\n</table>",
        ),
    ],
)
def test_creators_markdown_renders_as_they_expect(markdown, html):
    assert render_markdown(markdown).strip() == html


def test_links_open_safely_and_keep_their_titles():
    html = render_markdown(
        '[Board](https://board.example.org "CE board") · <https://example.org/a> · <help@example.org> · '
        "[ref][r]\n\n[r]: http://example.org/r"
    )
    assert links(html) == {
        "https://board.example.org": "noopener nofollow ugc",
        "https://example.org/a": "noopener nofollow ugc",
        "mailto:help@example.org": "noopener nofollow ugc",
        "http://example.org/r": "noopener nofollow ugc",
    }
    assert 'title="CE board"' in html


# ---------------------------------------------------------------------------
# Nothing a creator writes can run script


@pytest.mark.parametrize(
    "markdown",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1) )",
        "[click](java\tscript:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](javascript&colon;alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click][r]\n\n[r]: javascript:alert(1)",
        "<javascript:alert(1)>",
        '<http://x.org/"onmouseover="alert(1)>',
        "[a](http://x.org/\"onmouseover='alert(1)')",
        '[a](http://x.org "title" onmouseover="alert(1)")',
        "![x](javascript:alert(1))",
        '![x" onerror="alert(1)](http://x.org/a.png)',
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">raw</a>',
        "<svg onload=alert(1)>",
        "<iframe src=//evil.example>",
        "<style>body{display:none}</style>",
        "<div onmouseover=alert(1)>hover</div>",
        "| a |\n|---|\n| <script>alert(1)</script> |",
        "```\n</code><script>alert(1)</script>\n```",
        "`</code><script>alert(1)</script>`",
    ],
)
def test_no_markdown_can_run_script(markdown):
    html = render_markdown(markdown)
    assert_no_live_script(html)
    assert not [tag for tag, _attrs in elements(html) if tag in {"script", "img", "style", "div", "iframe"}]
    for href in links(html):
        assert href.startswith(("http://", "https://", "mailto:")), href


def test_raw_html_is_shown_as_the_text_it_is():
    html = render_markdown("Hello <b>there</b> & <marquee>you</marquee>")
    assert html == Markup("<p>Hello &lt;b&gt;there&lt;/b&gt; &amp; &lt;marquee&gt;you&lt;/marquee&gt;</p>\n")


# ---------------------------------------------------------------------------
# Rendered when saved, never when viewed


def test_every_way_of_writing_markdown_stores_its_html(app):
    profile = CreatorProfileFactory(bio="I am **kind**.")
    offering = OfferingFactory(creator=profile, description="A *gentle* course.")
    lesson = LessonFactory(section=SectionFactory(offering=offering), body="# Read\n\nthen `breathe`")
    quiz = add_quiz(lesson.section, [("Which?", [("This", True)])])
    question = quiz.questions[0]
    question.explanation = "Because **grounding**."
    db.session.flush()

    assert profile.bio_html == Markup("<p>I am <strong>kind</strong>.</p>\n")
    assert offering.description_html == Markup("<p>A <em>gentle</em> course.</p>\n")
    assert lesson.body_html == Markup("Read\n<p>then <code>breathe</code></p>\n"), "h1 is not allowed: text only"
    assert question.explanation_html == Markup("<p>Because <strong>grounding</strong>.</p>\n")

    copy = duplicate_offering(offering)
    copied_lesson = next(lsn for lsn in copy.sections[0].lessons if lsn.title == lesson.title)
    copied_question = next(q for section in copy.sections for lsn in section.lessons for q in lsn.questions)
    assert copy.description_html == offering.description_html
    assert copied_lesson.body_html == lesson.body_html
    assert copied_question.explanation_html == question.explanation_html

    db.session.expire_all()
    stored = db.session.get(Offering, offering.id)
    assert isinstance(stored.description_html, Markup), "read back as Markup, ready for templates"
    assert stored.description_html == Markup("<p>A <em>gentle</em> course.</p>\n")


def test_duplicating_an_offering_of_long_lessons_renders_none_of_them_again(web):
    """Each lesson may hold 100,000 characters that take a second or two to render: a copy carries the
    stored HTML, so duplicating a long course can't run past the web server's 30 s timeout."""
    profile = CreatorProfileFactory(user__email="maya@example.org")
    offering = OfferingFactory(creator=profile, slug="long-course")
    section = SectionFactory(offering=offering)
    text = PATHOLOGICAL["image openers"]
    # Saved earlier, by a renderer whose output differs from today's: a copy that rendered the text again
    # would hold today's HTML instead of this.
    stored_html = Markup("<p>Rendered when it was saved.</p>\n")
    assert render_markdown(text[:1000]) != stored_html
    lessons = [LessonFactory(section=section, kind=LessonKind.TEXT, position=n) for n in range(12)]
    ids = [lesson.id for lesson in lessons]
    db.session.execute(sa.update(Lesson).where(Lesson.id.in_(ids)).values(body=text, body_html=stored_html))
    web.login("maya@example.org", PASSWORD)

    answer = web.submit(f"/studio/courses/{offering.id}/duplicate", {}, form_url=f"/studio/courses/{offering.id}")

    assert "Duplicated as" in answer.get_data(as_text=True)
    copy = db.session.scalar(sa.select(Offering).filter_by(slug="long-course-copy"))
    copied = db.session.execute(
        sa.select(Lesson.body, Lesson.body_html).join(Lesson.section).where(Section.offering_id == copy.id)
    ).all()
    assert copied == [(text, stored_html)] * 12


def test_the_demo_seed_stores_html_for_all_its_markdown(app):
    seed_demo()
    db.session.flush()
    for model, source, html in [
        (CreatorProfile, CreatorProfile.bio, CreatorProfile.bio_html),
        (Offering, Offering.description, Offering.description_html),
        (Lesson, Lesson.body, Lesson.body_html),
        (QuizQuestion, QuizQuestion.explanation, QuizQuestion.explanation_html),
    ]:
        rows = db.session.execute(sa.select(source, html)).all()
        assert any(text for text, _ in rows), model
        for text, stored in rows:
            assert stored == render_markdown(text), f"{model.__name__}: {text[:40]!r}"


def test_only_sanitized_html_can_be_stored(app):
    offering = OfferingFactory()
    offering.description_html = "<script>alert(1)</script>"
    with pytest.raises(sa.exc.StatementError, match="only HTML made by render_markdown"):
        db.session.flush()
    db.session.rollback()


def test_pages_print_the_html_stored_when_the_text_was_saved(client, web):
    """A page shows the stored HTML: proof that it renders no Markdown of its own."""
    profile = CreatorProfileFactory(slug="stored", bio="bio text")
    offering = OfferingFactory(creator=profile, slug="stored-course", description="description text")
    preview = LessonFactory(section=SectionFactory(offering=offering), body="body text", is_preview=True)
    quiz = add_quiz(
        preview.section, [("Which?", [("This", True), ("That", False)])], quiz_max_attempts=1, quiz_reveal_answers=True
    )
    profile.bio_html = Markup("<p>stored bio</p>")
    offering.description_html = Markup("<p>stored description</p>")
    preview.body_html = Markup("<p>stored body</p>")
    quiz.questions[0].explanation_html = Markup("<p>stored explanation</p>")
    db.session.flush()

    assert "<p>stored bio</p>" in client.get("/t/stored").get_data(as_text=True)
    offering_page = client.get("/courses/stored-course").get_data(as_text=True)
    assert "<p>stored description</p>" in offering_page and "<p>stored bio</p>" in offering_page
    assert "<p>stored body</p>" in client.get(f"/courses/stored-course/preview/{preview.id}").get_data(as_text=True)

    learner_in(offering, web)
    assert "<p>stored body</p>" in client.get(lesson_url(offering, preview)).get_data(as_text=True)
    question = quiz.questions[0]
    wrong = next(c.id for c in question.choices if not c.is_correct)
    token = page_token(client, lesson_url(offering, quiz))
    answered = client.post(
        lesson_url(offering, quiz, "/quiz"), data={"csrf_token": token, f"q{question.id}": wrong}, follow_redirects=True
    )
    assert "<p>stored explanation</p>" in answered.get_data(as_text=True)


def test_anonymous_view_of_a_pathological_free_preview_answers_fast(client):
    """The review's attack: 12,000 "[" in a free-preview lesson took 36 s per anonymous view."""
    offering = OfferingFactory(slug="brackets")
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.TEXT, body="[" * 12_000)
    lesson.is_preview = True
    db.session.flush()

    for _ in range(2):
        started = time.process_time()  # CPU the view spends, however busy the machine is (36 s before)
        response = client.get(f"/courses/brackets/preview/{lesson.id}")
        elapsed = time.process_time() - started
        assert response.status_code == 200
        assert "[" * 12_000 in response.get_data(as_text=True)
        assert elapsed < 1.0, f"the view took {elapsed:.2f} s"


def test_every_markdown_field_has_a_length_limit_and_saves_nothing_beyond_it(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", slug="maya", bio="old bio")
    offering = OfferingFactory(creator=profile, description="old description")
    lesson = LessonFactory(section=SectionFactory(offering=offering), body="old body")
    quiz = add_quiz(lesson.section, [])
    web.login("maya@example.org", PASSWORD)
    profile_form = {
        "display_name": "Maya",
        "credentials": "",
        "slug": "maya",
        "currency": "USD",
        "time_zone": "UTC",
        "default_session_fee_cents": "150",
        "default_session_minutes": "50",
    }
    offering_form = {"kind": "course", "title": "T", "slug": offering.slug, "price_kind": "free", "price_cents": ""}
    lesson_form = {"title": "L", "kind": "text", "available_after_days": "0"}
    quiz_url = f"/studio/courses/{offering.id}/lessons/{quiz.id}/quiz"
    question_form = {"prompt": "Which?", "choices-0-text": "This", "choices-0-is_correct": "y"}
    cases = [
        ("/become-a-creator", None, profile_form, "bio", 5_000),
        (f"/studio/courses/{offering.id}/edit", None, offering_form, "description", 20_000),
        (f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit", None, lesson_form, "body", 100_000),
        (quiz_url + "/questions", quiz_url, question_form, "explanation", 5_000),
    ]
    for url, form_url, data, field, limit in cases:
        html = web.submit(url, {**data, field: "a" * (limit + 1)}, form_url=form_url).get_data(as_text=True)
        assert f"Field cannot be longer than {limit} characters." in html, field

    db.session.expire_all()
    assert (profile.bio, offering.description, lesson.body) == ("old bio", "old description", "old body")
    assert quiz.questions == []
