"""Catalog search: word forms, partly typed words, phrases and exclusions, best match first,
renamed creators, hostile text, and the index that serves it on PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.catalog.search import text_match
from courseplatform.extensions import db
from courseplatform.models import Offering, OfferingStatus, utcnow

from ..factories import CreatorProfileFactory, OfferingFactory
from .test_course_list import titles


@pytest.fixture
def full_text(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("word forms, phrases and exclusions are PostgreSQL's full-text search")


def searchable(title: str, *, subtitle: str = "", description: str = "", days_old: float = 1, **kw) -> Offering:
    return OfferingFactory(
        title=title,
        subtitle=subtitle,
        description=description,
        published_at=utcnow() - timedelta(days=days_old),
        **kw,
    )


def test_other_forms_of_a_word_find_it(client, full_text):
    searchable("Supporting grieving parents")
    searchable("Grounding", description="Twelve techniques for the first session.")
    searchable("Couples work")

    assert titles(client.get("/courses?q=grieve")) == ["Supporting grieving parents"]
    assert titles(client.get("/courses?q=grieved parent")) == ["Supporting grieving parents"]
    assert titles(client.get("/courses?q=technique")) == ["Grounding"]


def test_a_partly_typed_last_word_finds_the_whole_word(client):
    searchable("Mindfulness for anxious teens")
    searchable("Minimal interventions")
    searchable("Sleep hygiene")

    assert titles(client.get("/courses?q=mindf")) == ["Mindfulness for anxious teens"]
    assert titles(client.get("/courses?q=mindful")) == ["Mindfulness for anxious teens"]
    assert titles(client.get("/courses?q=anxious mindf")) == ["Mindfulness for anxious teens"]
    assert sorted(titles(client.get("/courses?q=min"))) == ["Mindfulness for anxious teens", "Minimal interventions"]


def test_only_the_last_word_is_read_as_a_prefix(client, full_text):
    searchable("Mindfulness for anxious teens")
    assert titles(client.get("/courses?q=mindf teens")) == []


def test_descriptions_match_whole_words_in_any_form(client, full_text):
    searchable("Calm", description="Short mindfulness practices.")
    assert titles(client.get("/courses?q=mindful")) == ["Calm"]
    assert titles(client.get("/courses?q=practice")) == ["Calm"]
    assert titles(client.get("/courses?q=mindf")) == []


def test_a_title_match_comes_before_a_description_match(client):
    searchable("Notes on supervision", description="Includes a chapter on burnout.", days_old=1)
    searchable("Burnout in clinicians", description="How it starts and what helps.", days_old=30)
    searchable("Another course", subtitle="Preventing burnout", days_old=2)

    searched = client.get("/courses?q=burnout")
    assert titles(searched) == ["Burnout in clinicians", "Another course", "Notes on supervision"]
    # Newest first stays one choice away, and the pager keeps it.
    assert titles(client.get("/courses?q=burnout&sort=newest")) == [
        "Notes on supervision",
        "Another course",
        "Burnout in clinicians",
    ]
    html = searched.get_data(as_text=True)
    assert '<option selected value="relevance">Best match</option>' in html


def test_best_match_is_offered_only_for_a_search(client):
    searchable("Couples work", days_old=2)
    searchable("Burnout", days_old=1)

    html = client.get("/courses").get_data(as_text=True)
    assert "Best match" not in html
    assert '<option selected value="newest">Newest</option>' in html
    assert titles(client.get("/courses?sort=relevance")) == ["Burnout", "Couples work"]


def test_pages_of_a_search_keep_its_order_in_their_links(client):
    for n in range(13):
        searchable(f"Trauma {n:02d}", days_old=n + 1)

    def next_link(url: str) -> str:
        html = client.get(url).get_data(as_text=True)
        return re.search(r'href="([^"]+)">Next →', html).group(1).replace("&amp;", "&")

    assert "sort=" not in next_link("/courses?q=trauma")  # best match, the default for a search
    assert "sort=title" in next_link("/courses?q=trauma&sort=title")
    assert "sort=newest" in next_link("/courses?q=trauma&sort=newest")


def test_quotes_or_and_minus_work_as_on_web_search_engines(client, full_text):
    searchable("Grief work with children")
    searchable("Work on grief", description="For adults.")
    searchable("Insomnia basics")

    assert titles(client.get('/courses?q="grief work"')) == ["Grief work with children"]
    assert titles(client.get("/courses?q=grief -children")) == ["Work on grief"]
    assert sorted(titles(client.get("/courses?q=insomnia or children"))) == [
        "Grief work with children",
        "Insomnia basics",
    ]
    assert sorted(titles(client.get("/courses?q=children or insom"))) == [
        "Grief work with children",
        "Insomnia basics",
    ]


def test_a_renamed_creator_is_found_by_the_new_name_only(client):
    ana = CreatorProfileFactory(display_name="Ana Ruiz")
    searchable("Sleep", creator=ana)
    searchable("Couples work")
    assert titles(client.get("/courses?q=ruiz")) == ["Sleep"]

    ana.display_name = "Ana Okafor"
    db.session.flush()

    assert titles(client.get("/courses?q=okafor")) == ["Sleep"]
    assert titles(client.get("/courses?q=ana okafor sleep")) == ["Sleep"]
    assert titles(client.get("/courses?q=ruiz")) == []


def test_an_edited_offering_is_found_by_its_new_words(client):
    offering = searchable("Sleep", description="Insomnia.")
    offering.title = "Rest"
    offering.description = "Nightmares."
    db.session.flush()

    assert titles(client.get("/courses?q=nightmares")) == ["Rest"]
    assert titles(client.get("/courses?q=insomnia")) == []


def test_drafts_archived_and_suspended_creators_offerings_are_never_found(client):
    suspended = CreatorProfileFactory(display_name="Sam Lee", suspended_at=utcnow())
    OfferingFactory(title="Trauma draft", status=OfferingStatus.DRAFT, published_at=None)
    searchable("Trauma archived", status=OfferingStatus.ARCHIVED)
    searchable("Trauma by a suspended creator", creator=suspended)
    searchable("Trauma listed")

    assert titles(client.get("/courses?q=trauma")) == ["Trauma listed"]
    assert titles(client.get("/courses?q=sam lee")) == []


HOSTILE = [
    "&|!():*'\\",
    "'",
    "\\",
    ":*",
    "!",
    "-",
    '"',
    '""',
    "a & b | !c",
    "grief:*",
    "grief:* | ",
    "(grief",
    "<->",
    "or",
    "-grief",
    "trauma " * 150,
    "x" * 1000,
    "9" * 1000,
    "ünïcödé 名前 😀",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_searches_answer_with_a_page(client, text):
    searchable("Trauma basics", description="Grief and loss.")
    response = client.get("/courses", query_string={"q": text})
    assert response.status_code == 200
    # Nothing typed widens a search past the offerings that hold its words.
    assert set(titles(response)) <= {"Trauma basics"}


@pytest.mark.parametrize("text", [*HOSTILE, "grief\x00loss", "\x00", "y" * 5000])
def test_hostile_text_given_to_the_search_itself_never_raises(app, text):
    searchable("Trauma basics", description="Grief and loss.")
    match = text_match(text)
    if match is not None:
        statement = sa.select(Offering.id).join(Offering.creator).where(match.condition)
        db.session.execute(statement.order_by(*match.relevance)).all()


def test_a_nul_in_the_search_is_refused_with_a_message(client):
    response = client.get("/courses?q=grief%00")
    assert response.status_code == 400
    assert "a control character" in response.get_data(as_text=True)
