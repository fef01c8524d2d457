"""/courses: search, topic and format filters, sort orders and pages that keep the filters."""

from __future__ import annotations

import re
from datetime import timedelta

from courseplatform.models import OfferingKind, OfferingStatus, utcnow

from ..factories import CreatorProfileFactory, OfferingFactory
from ..factories.catalog import topic

CARD_TITLE = re.compile(r'<article class="course-card[^"]*">.*?<h3>(.*?)</h3>', re.S)


def titles(response) -> list[str]:
    assert response.status_code == 200
    return CARD_TITLE.findall(response.get_data(as_text=True))


def days_ago(n: float):
    return utcnow() - timedelta(days=n)


def test_search_finds_title_subtitle_description_and_creator_name(client):
    ana = CreatorProfileFactory(display_name="Dr. Ana Ruiz")
    OfferingFactory(title="Grounding Skills", subtitle="For anxious clients", description="Twelve techniques.")
    OfferingFactory(title="Couples Work", subtitle="Repair after rupture", description="Gottman-informed.")
    OfferingFactory(title="Grief Basics", description="What helps when someone has DIED by suicide.")
    OfferingFactory(title="Sleep", creator=ana)

    assert titles(client.get("/courses?q=grounding")) == ["Grounding Skills"]
    assert titles(client.get("/courses?q=RUPTURE")) == ["Couples Work"]
    assert titles(client.get("/courses?q=died by suicide")) == ["Grief Basics"]
    assert titles(client.get("/courses?q=ana ruiz")) == ["Sleep"]
    # Every word must match somewhere, in any of the fields.
    assert titles(client.get("/courses?q=sleep ruiz")) == ["Sleep"]
    assert titles(client.get("/courses?q=sleep gottman")) == []


def test_percent_and_underscore_are_not_wildcards(client):
    OfferingFactory(title="Save 100% of your energy")
    OfferingFactory(title="Snake_case for clinicians")
    OfferingFactory(title="Ordinary course")

    assert titles(client.get("/courses?q=100%")) == ["Save 100% of your energy"]
    assert titles(client.get("/courses?q=snake_case")) == ["Snake_case for clinicians"]
    for wildcard in ("%", "_"):
        assert "Ordinary course" not in titles(client.get(f"/courses?q={wildcard}"))


def test_filter_by_topic_and_kind_and_topics_menu_lists_only_used_topics(client):
    trauma = topic("Trauma", "trauma")
    couples = topic("Couples", "couples")
    unused = topic("Unused topic", "unused-topic")
    draft_only = topic("Draft only", "draft-only")
    OfferingFactory(title="Trauma course", topics=[trauma])
    OfferingFactory(title="Trauma live", topics=[trauma], kind=OfferingKind.LIVE_WORKSHOP)
    OfferingFactory(title="Couples recorded", topics=[couples], kind=OfferingKind.RECORDED_WORKSHOP)
    OfferingFactory(title="Secret draft", topics=[draft_only], status=OfferingStatus.DRAFT, published_at=None)

    assert sorted(titles(client.get("/courses?topic=trauma"))) == ["Trauma course", "Trauma live"]
    assert titles(client.get("/courses?topic=trauma&kind=live_workshop")) == ["Trauma live"]
    assert titles(client.get("/courses?kind=recorded_workshop")) == ["Couples recorded"]

    html = client.get("/courses").get_data(as_text=True)
    assert '<option value="trauma">Trauma</option>' in html
    assert '<option value="couples">Couples</option>' in html
    assert unused.name not in html and draft_only.name not in html


def test_selected_filters_are_shown_in_the_form(client):
    trauma = topic("Trauma", "trauma")
    OfferingFactory(title="Trauma course", topics=[trauma])
    html = client.get("/courses?q=trauma&topic=trauma&kind=course&sort=title").get_data(as_text=True)
    assert 'value="trauma"' in html and 'name="q"' in html
    assert '<option selected value="trauma">Trauma</option>' in html
    assert '<option selected value="course">Self-paced course</option>' in html
    assert '<option selected value="title">Title A–Z</option>' in html


def test_unknown_filter_values_fall_back_to_everything(client):
    OfferingFactory(title="Only course")
    assert titles(client.get("/courses?topic=nope&kind=painting&sort=random&page=abc")) == ["Only course"]
    assert titles(client.get("/courses?page=-3")) == ["Only course"]
    assert client.get("/courses?page=99999999999999999999999").status_code == 200


def test_each_sort_order(client):
    OfferingFactory(title="banana", price_cents=5000, published_at=days_ago(3))
    OfferingFactory(title="Apple", price_cents=9000, published_at=days_ago(1))
    OfferingFactory(title="cherry", price_cents=0, published_at=days_ago(2))
    # On a sliding scale the lowest price a learner can pay is what counts.
    OfferingFactory(title="Date", price_cents=20000, sliding_scale_min_cents=2000, published_at=days_ago(4))

    assert titles(client.get("/courses")) == ["Apple", "cherry", "banana", "Date"]
    assert titles(client.get("/courses?sort=newest")) == ["Apple", "cherry", "banana", "Date"]
    assert titles(client.get("/courses?sort=price_asc")) == ["cherry", "Date", "banana", "Apple"]
    assert titles(client.get("/courses?sort=price_desc")) == ["Apple", "banana", "Date", "cherry"]
    assert titles(client.get("/courses?sort=title")) == ["Apple", "banana", "cherry", "Date"]


def test_thirty_offerings_make_three_pages_and_links_keep_the_filters(client):
    trauma = topic("Trauma", "trauma")
    for n in range(30):
        OfferingFactory(title=f"Trauma {n:02d}", topics=[trauma], published_at=days_ago(n + 1))
    OfferingFactory(title="Not about it")

    url = "/courses?q=trauma&topic=trauma&sort=title"
    first = client.get(url)
    assert titles(first) == [f"Trauma {n:02d}" for n in range(12)]
    html = first.get_data(as_text=True)
    assert "Showing 1–12 of 30 offerings" in html
    assert "Page 1 of 3" in html
    assert "← Previous" not in html
    next_link = re.search(r'href="([^"]+)">Next →', html).group(1).replace("&amp;", "&")
    assert "q=trauma" in next_link and "topic=trauma" in next_link and "sort=title" in next_link
    assert "page=2" in next_link

    second = client.get(next_link)
    assert titles(second) == [f"Trauma {n:02d}" for n in range(12, 24)]
    html = second.get_data(as_text=True)
    assert "Showing 13–24 of 30 offerings" in html
    prev_link = re.search(r'href="([^"]+)">← Previous', html).group(1).replace("&amp;", "&")
    assert "q=trauma" in prev_link and "page=" not in prev_link

    third = client.get(re.search(r'href="([^"]+)">Next →', html).group(1).replace("&amp;", "&"))
    assert titles(third) == [f"Trauma {n:02d}" for n in range(24, 30)]
    html = third.get_data(as_text=True)
    assert "Showing 25–30 of 30 offerings" in html
    assert "Next →" not in html


def test_a_page_past_the_end_offers_the_first_page(client):
    OfferingFactory(title="Only course")
    html = client.get("/courses?page=5&q=only").get_data(as_text=True)
    assert "There's nothing on page 5" in html
    assert 'href="/courses?q=only"' in html


def test_no_results_say_so_and_offer_to_clear_the_filters(client):
    OfferingFactory(title="Grounding Skills")
    html = client.get("/courses?q=astrology").get_data(as_text=True)
    assert "No offerings match" in html
    assert "“astrology”" in html
    assert '<a class="button" href="/courses">Clear the filters</a>' in html


def test_drafts_and_archived_offerings_are_never_listed_but_archived_pages_open(client):
    OfferingFactory(title="Published one", slug="published-one")
    OfferingFactory(title="A draft", slug="a-draft", status=OfferingStatus.DRAFT, published_at=None)
    OfferingFactory(title="An archived one", slug="an-archived-one", status=OfferingStatus.ARCHIVED)

    for url in ["/courses", "/courses?q=a", "/"]:
        html = client.get(url).get_data(as_text=True)
        assert "Published one" in html
        assert "A draft" not in html and "An archived one" not in html

    assert client.get("/courses/a-draft").status_code == 404
    archived = client.get("/courses/an-archived-one")
    assert archived.status_code == 200
    assert "no longer open to new learners" in archived.get_data(as_text=True)


def test_an_empty_catalog_says_so(client):
    html = client.get("/courses").get_data(as_text=True)
    assert "No courses yet" in html


def test_waitlist_only_offerings_are_listed_as_opening_soon(client):
    OfferingFactory(title="Coming soon", waitlist_only=True)
    html = client.get("/courses").get_data(as_text=True)
    assert "Coming soon" in html and "Opening soon" in html and "Waitlist" in html
