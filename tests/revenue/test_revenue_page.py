"""The revenue view as the creator meets it: /studio/revenue and its CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import OfferingStatus, PracticeWaitlistEntry, SessionIncomeKind, utcnow

from ..factories import (
    PASSWORD,
    CreatorProfileFactory,
    EnrollmentFactory,
    OfferingFactory,
    SessionIncomeFactory,
    UserFactory,
)
from ..factories.orders import refund, sale
from ..factories.revenue import learner
from .test_revenue_figures import books  # noqa: F401  (the hand-computed books)

BOOKS_PERIOD = "/studio/revenue?from=2025-01&to=2025-04"


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def keeper(web, books):  # noqa: F811
    """The creator of the hand-computed books, logged in."""
    web.login(books.user.email, PASSWORD)
    return books


def page(client, url: str = "/studio/revenue") -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    return response.get_data(as_text=True)


def text(html: str) -> str:
    """The page's words, tags and runs of spaces removed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</dd>|data-figure="{name}">(.*?)</p>', html, re.S)
    assert match, f"no {name} figure on the page"
    return text(match.group(1) or match.group(2))


def month_rows(html: str) -> list[str]:
    table = html.split('class="data-table card-table revenue-months-table"', 1)[1].split("</tbody>", 1)[0]
    return [text(row) for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]


def chart_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="revenue-chart-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def this_month(zone: str = "America/New_York") -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date().replace(day=1)


def last_months(count: int) -> list[str]:
    month = this_month()
    months = []
    for _ in range(count):
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return [m.strftime("%B %Y") for m in reversed(months)]


# ---------------------------------------------------------------------------
# What the page shows
# ---------------------------------------------------------------------------


def test_the_page_shows_the_hand_computed_figures(client, keeper):
    html = page(client, BOOKS_PERIOD)

    assert "Jan 2025 – Apr 2025" in html
    assert figure(html, "passive") == "$317"
    assert figure(html, "session") == "$3,150"
    assert figure(html, "share") == "9%"
    assert figure(html, "replaced") == "2.2"
    assert figure(html, "session-per-hour") == "$160.17 an hour"
    assert figure(html, "passive-per-hour") == "$21.13 an hour"
    assert "22 sessions, 19.7 h in the chair" in text(html)
    assert month_rows(html) == [
        "January 2025 $1,800 $173.60 9% 12 10 h",
        "February 2025 $480 -$1.75 0% 4 4 h",
        "March 2025 $750 $173.90 19% 5 4.2 h",
        "April 2025 $120 -$28.75 0% 1 1.5 h",
    ]
    offerings = text(html.split('id="offerings-heading"', 1)[1])
    assert "Grounding 3 $400 −$80 (1) $275.50 3 33% (1 of 3)" in offerings
    assert "Grief 2 $100 −$50 (1) $41.50 2 100% (2 of 2)" in offerings
    assert "Someone else's" not in html


def test_the_chart_gets_the_same_months_as_the_table(client, keeper):
    data = chart_data(page(client, BOOKS_PERIOD))

    assert data == {
        "currency": "USD",
        "labels": ["Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025"],
        "session": [1800.0, 480.0, 750.0, 120.0],
        "passive": [173.6, -1.75, 173.9, -28.75],
    }


def test_the_default_is_the_last_twelve_months_including_this_one(client, creator):
    offering = OfferingFactory(creator=creator)
    sale(offering, 4900, utcnow() - timedelta(minutes=5), processor_fee=172, platform_fee=490)
    SessionIncomeFactory(creator=creator, session_date=date.today() - timedelta(days=400), amount_cents=99900)

    html = page(client)

    assert [row.split(" $")[0] for row in month_rows(html)] == last_months(12)
    assert figure(html, "passive") == "$42.38"
    assert figure(html, "last-four-weeks") == "$42.38"
    assert figure(html, "session") == "$0"  # 400 days ago is before the period
    assert 'aria-current="true">Last 12 months' in html


def test_a_shortcut_shows_six_months(client, creator):
    SessionIncomeFactory(creator=creator, session_date=date.today())
    html = page(client)
    link = re.search(r'href="([^"]+)">Last 6 months', html).group(1).replace("&amp;", "&")

    rows = month_rows(page(client, link))

    assert [row.split(" $")[0] for row in rows] == last_months(6)


def test_the_creator_chooses_any_whole_months(client, keeper):
    html = page(client, "/studio/revenue?from=2025-02&to=2025-03")

    assert [row.split(" $")[0] for row in month_rows(html)] == ["February 2025", "March 2025"]
    assert figure(html, "passive") == "$172.15"
    assert 'value="2025-02"' in html and 'value="2025-03"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=March&to=2025-04", "Enter a month like 2025-03."),
        ("from=2025-13", "Enter a month like 2025-03."),
        ("from=2025-05&to=2025-01", "The first month must come before the last."),
        ("from=2019-01&to=2025-01", "Choose at most 60 months (5 years)."),
        ("to=2999-01", "or earlier: months to come have no income yet."),
    ],
)
def test_a_period_that_cant_be_used_says_why_and_shows_the_default(client, creator, query, message):
    SessionIncomeFactory(creator=creator, session_date=date.today())

    html = page(client, f"/studio/revenue?{query}")

    assert message in html
    assert "That period couldn't be shown, so here are the last 12 months." in html
    assert len(month_rows(html)) == 12


def test_sixty_months_is_the_most_a_period_may_hold(client, creator):
    SessionIncomeFactory(creator=creator, session_date=date(2021, 1, 4))

    html = page(client, "/studio/revenue?from=2021-01&to=2025-12")

    assert "couldn't be shown" not in html
    assert len(month_rows(html)) == 60
    assert month_rows(html)[0].startswith("January 2021 $150")


# ---------------------------------------------------------------------------
# Empty states
# ---------------------------------------------------------------------------


def test_a_new_creator_is_told_how_to_fill_each_half(client, creator):
    html = text(page(client))

    assert "No sales yet" in html and "Publish an offering" in html
    assert "No session income logged" in html and "Log session income" in html
    assert 'href="/studio/sessions"' in page(client)
    assert "Month by month" not in html  # nothing to chart yet


def test_published_but_unsold_points_to_the_storefront(client, creator):
    OfferingFactory(creator=creator, status=OfferingStatus.PUBLISHED)
    SessionIncomeFactory(creator=creator, session_date=date.today())

    html = text(page(client))

    assert "No sales in" in html and "Open your storefront" in html
    assert "No session income logged" not in html
    assert "Month by month" in html


def test_sales_without_session_income_invite_logging_sessions(client, creator):
    sale(OfferingFactory(creator=creator), 4900, utcnow() - timedelta(days=3))

    html = text(page(client))

    assert "No session income logged for" in html and "Log session income" in html
    assert "No sales" not in html
    assert "your usual session fee of $150" in html  # sessions replaced, priced at the profile's fee


def test_a_refund_alone_in_the_period_still_shows_the_months(client, creator):
    offering = OfferingFactory(creator=creator)
    order = sale(offering, 10000, datetime(2024, 1, 10, tzinfo=UTC), platform_fee=1000)
    refund(order, 10000, 1000, utcnow() - timedelta(days=1))

    html = page(client)

    assert figure(html, "passive") == "-$90"
    assert "No sales" not in text(html)
    assert "Month by month" in html


# ---------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------


def test_a_learner_is_invited_to_become_a_creator(web, client):
    UserFactory(email="lee@example.org")
    web.login("lee@example.org", PASSWORD)

    response = client.get("/studio/revenue")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/become-a-creator")


def test_nobody_logged_in_goes_to_the_login_page(client):
    for url in ("/studio/revenue", "/studio/revenue.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_studio_dashboard_links_to_revenue_and_sessions(client, creator):
    html = client.get("/studio").get_data(as_text=True)

    assert 'href="/studio/revenue"' in html
    assert 'href="/studio/sessions"' in html


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def test_the_csv_holds_the_monthly_table(client, keeper):
    response = client.get("/studio/revenue.csv?from=2025-01&to=2025-04")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert 'filename="revenue-2025-01-to-2025-04.csv"' in response.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == [
        [
            "month",
            "currency",
            "session_income",
            "passive_income",
            "passive_share_percent",
            "sessions",
            "session_hours",
            "missed_appointment_fees",
            "self_pay_income",
            "insurance_income",
            "sliding_scale_income",
        ],
        ["2025-01", "USD", "1800.00", "173.60", "8.8", "12", "10", "0.00", "1800.00", "0.00", "0.00"],
        ["2025-02", "USD", "480.00", "-1.75", "0.0", "4", "4", "0.00", "480.00", "0.00", "0.00"],
        ["2025-03", "USD", "750.00", "173.90", "18.8", "5", "4.17", "0.00", "750.00", "0.00", "0.00"],
        ["2025-04", "USD", "120.00", "-28.75", "0.0", "1", "1.5", "0.00", "120.00", "0.00", "0.00"],
    ]


def test_the_csv_cells_are_numbers_or_plain_text_never_formulas(client, keeper):
    rows = list(
        csv.reader(io.StringIO(client.get("/studio/revenue.csv?from=2025-01&to=2025-04").get_data(as_text=True)))
    )

    number = re.compile(r"^-?\d+(\.\d+)?$")
    for row in rows[1:]:
        month, currency, *numbers = row
        assert re.fullmatch(r"\d{4}-\d{2}", month) and currency == "USD"
        # A refund month is negative: written as a number a spreadsheet sums, never as text or a formula.
        assert all(number.match(cell) or cell == "" for cell in numbers), row
    assert "-1.75" in rows[2]


def test_the_page_links_the_csv_of_the_period_shown(client, keeper):
    html = page(client, BOOKS_PERIOD)

    assert 'href="/studio/revenue.csv?from=2025-01&amp;to=2025-04"' in html


def test_a_csv_for_a_period_that_cant_be_used_says_why(client, creator):
    response = client.get("/studio/revenue.csv?from=2025-05&to=2025-01")

    assert response.status_code == 400
    assert "The first month must come before the last." in response.get_data(as_text=True)


def test_the_csv_defaults_to_the_last_twelve_months(client, creator):
    rows = list(csv.reader(io.StringIO(client.get("/studio/revenue.csv").get_data(as_text=True))))

    assert len(rows) == 13
    assert rows[-1][0] == this_month().strftime("%Y-%m")


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


def test_the_page_and_csv_run_a_constant_number_of_queries(client, creator, count_queries):
    offerings = [OfferingFactory(creator=creator, authoring_minutes=60)]
    counts = []
    for size in (2, 30):
        while len(offerings) < size // 2:
            offerings.append(OfferingFactory(creator=creator, authoring_minutes=60))
        for n in range(size):
            offering = offerings[n % len(offerings)]
            order = sale(offering, 5000, utcnow() - timedelta(days=n * 11), processor_fee=175, platform_fee=500)
            if n % 3 == 0:
                refund(order, 1000, 100, utcnow() - timedelta(days=n * 5))
            learner(offering, completed=utcnow() if n % 2 else None)
            SessionIncomeFactory(creator=creator, session_date=date.today() - timedelta(days=n * 9))
            joined = utcnow() - timedelta(days=n * 7)
            db.session.add(
                PracticeWaitlistEntry(creator_id=creator.id, email=f"w{size}-{n}@example.org", created_at=joined)
            )
            EnrollmentFactory(user=UserFactory(email=f"w{size}-{n}@example.org"), offering=offering, enrolled_at=joined)
        with count_queries() as counter:
            html = page(client)
        with count_queries() as csv_counter:
            client.get("/studio/revenue.csv")
        assert html.count('<th scope="row"><a href="/studio/courses/') == len(offerings)
        counts.append((counter.count, csv_counter.count))
    assert counts[0] == counts[1], f"{counts[0]} queries with a little data, {counts[1]} with more"
    assert counts[1][0] <= 7, counts


def test_a_refused_period_keeps_what_the_creator_typed(client, creator):
    html = page(client, "/studio/revenue?from=2019-01&to=2025-01")

    assert 'value="2019-01"' in html and 'value="2025-01"' in html
    assert 'aria-invalid="true"' in html


def test_url_building_words_in_the_address_reach_no_pager_link(client, creator):
    """`?_anchor=x` (or `_external`, `_method`…) is someone else's text, not an argument for building links."""
    for n in range(21):
        OfferingFactory(creator=creator, slug=f"offering-{n}", status=OfferingStatus.PUBLISHED)

    html = page(client, "/studio/revenue?from=2026-01&_anchor=x&_external=1&_method=POST&_scheme=javascript")

    assert "Page 1 of 2" in html
    next_link = re.search(r'href="([^"]*)"[^>]*>Next', html)
    assert next_link is not None
    assert next_link.group(1).startswith("/studio/revenue?"), next_link.group(1)
    assert "from=2026-01" in next_link.group(1) and "#offerings-heading" in next_link.group(1)
    assert "_anchor" not in html and "_external" not in html and "javascript" not in html


def test_missed_appointment_fees_and_refunds_keep_the_hourly_and_per_session_figures_honest(client, creator):
    month = this_month()
    day = month.replace(day=2)
    SessionIncomeFactory(creator=creator, session_date=day, sessions=4, minutes_each=60, amount_cents=60000)
    # A no-show fee is income but no session; a refund takes money back in its month, no session either.
    SessionIncomeFactory(
        creator=creator, session_date=day, sessions=0, minutes_each=0, amount_cents=7500, kind=SessionIncomeKind.MISSED
    )
    SessionIncomeFactory(
        creator=creator,
        session_date=day,
        sessions=0,
        minutes_each=0,
        amount_cents=-15000,
        kind=SessionIncomeKind.ADJUSTMENT,
    )
    html = page(client)
    assert figure(html, "session") == "$450"  # four sessions, less the refund
    assert "4 sessions, 4 h in the chair" in text(html)
    assert figure(html, "missed-fees") == "and $75 in late-cancel and no-show fees, not counted as sessions"
    assert figure(html, "session-per-hour") == "$112.50 an hour"  # $450 over 4 hours, the fee left out
    rows = list(csv.reader(io.StringIO(client.get("/studio/revenue.csv").get_data(as_text=True))))
    assert rows[-1][2] == "450.00" and rows[-1][5:8] == ["4", "4", "75.00"]


def test_a_line_of_session_income_can_not_be_a_session_without_length_nor_a_negative_fee(app):
    profile = CreatorProfileFactory()
    for bad in (
        {"sessions": 0, "minutes_each": 0},  # a session line with no session
        {"kind": SessionIncomeKind.MISSED, "sessions": 1},  # a fee counted as a session
        {"kind": SessionIncomeKind.MISSED, "sessions": 0, "minutes_each": 0, "amount_cents": -100},
    ):
        with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
            SessionIncomeFactory(creator=profile, **bad)


def test_refunds_beyond_a_months_sessions_never_make_the_passive_share_exceed_all_of_it(client, creator):
    day = this_month().replace(day=2)
    SessionIncomeFactory(creator=creator, session_date=day, sessions=1, minutes_each=60, amount_cents=10000)
    SessionIncomeFactory(
        creator=creator,
        session_date=day,
        sessions=0,
        minutes_each=0,
        amount_cents=-70000,
        kind=SessionIncomeKind.ADJUSTMENT,
    )
    sale(OfferingFactory(creator=creator, status=OfferingStatus.PUBLISHED), amount=80000, paid_at=utcnow())
    html = page(client)
    assert figure(html, "share") == "100%"
    assert figure(html, "session-per-hour") == "$0 an hour"
