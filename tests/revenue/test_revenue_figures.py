"""Every figure of the revenue view, checked against numbers worked out by hand.

The creator lives in New York (EST is UTC−5, EDT UTC−4 from March 9, 2025). The period is
January to April 2025; "now" is May 10, 2025, noon UTC, so the last four weeks run from
April 12, noon UTC.

Sales (amount / Stripe's fee / platform fee → net to the creator):
  S1  Grounding  $100 / 3.20 / 10  → 86.80   Jan 10, 10:00 EST                        January
  S2  Grounding  $100 / 3.20 / 10  → 86.80   Jan 31, 23:30 EST (Feb 1, 04:30 UTC)      January
  S3  Grief       $50 / 1.75 /  5  → 43.25   Feb 14; fully refunded Feb 20 ($50, $5 fee back: −45)
  S4  Grounding  $200 / 6.10 / 20  → 173.90  Mar 9, 01:30 EST (just before the clocks go forward);
                                              $80 refunded Apr 15 ($8 fee back: −72) in April
  S5  Grief       $50 / 1.75 /  5  → 43.25   Apr 1, 00:30 EDT (Apr 1, 04:30 UTC)        April
  Outside the period: Dec 31, 23:30 EST (Jan 1 UTC) $100; May 1 $50 (43.25) and May 9 $100 (86.80),
  both in the last four weeks. Not counted at all: a pending order, a failed one, another
  creator's sale.

Passive income per month: Jan 86.80 + 86.80 = 173.60; Feb 43.25 − 45 = −1.75;
Mar 173.90; Apr 43.25 − 72 = −28.75. Period: 317.00.
Last four weeks (from Apr 12 noon UTC): −72 + 43.25 + 86.80 = 58.05.

Session income: Jan 15 (10 × 50 min, $1,500) and Jan 31 (2 × 50 min, $300) → Jan $1,800, 12 sessions,
600 min; Feb 1 (4 × 60 min, $480); Mar 31 (5 × 50 min, $750); Apr 30 (1 × 90 min, $120).
Outside: Dec 31, May 1, and another creator's. Period: $3,150, 22 sessions, 1,180 min.

Passive share: Jan 173.60 / 1,973.60 = 8.796%; Feb 0 (refunds outweighed sales); Mar 173.90 / 923.90
= 18.822%; Apr 0; period 317 / 3,467 = 9.143%.
Average session fee $3,150 / 22 = $143.18; sessions replaced 317 × 22 / 3,150 = 2.2140.
Session income an hour: 3,150 / (1,180 / 60) = $160.17. Authoring: 10 h + 5 h (the other
creator's 20 h don't count) → passive an authoring hour 317 / 15 = $21.13.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from courseplatform.models import EnrollmentStatus, OfferingStatus, OrderStatus
from courseplatform.revenue.figures import Period, month_edges, revenue_figures

from ..factories import CreatorProfileFactory, OfferingFactory, OrderFactory, SessionIncomeFactory
from ..factories.orders import refund, sale
from ..factories.revenue import learner

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2025, 1, 1), date(2025, 4, 1))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def books(app):
    """The creator of the module docstring, their offerings, sales, refunds, learners and sessions."""
    creator = CreatorProfileFactory(user__time_zone="America/New_York", default_session_fee_cents=15000)
    grounding = OfferingFactory(creator=creator, title="Grounding", authoring_minutes=600)
    grief = OfferingFactory(creator=creator, title="Grief", authoring_minutes=300)
    OfferingFactory(creator=creator, title="Draft idea", status=OfferingStatus.DRAFT, authoring_minutes=0)
    elsewhere = OfferingFactory(title="Someone else's", authoring_minutes=1200)

    fees = {"processor_fee": 320, "platform_fee": 1000}
    small = {"processor_fee": 175, "platform_fee": 500}
    sale(grounding, 10000, utc(2025, 1, 10, 15, 0), **fees)  # S1
    sale(grounding, 10000, utc(2025, 2, 1, 4, 30), **fees)  # S2: Jan 31, 23:30 in New York
    s3 = sale(grief, 5000, utc(2025, 2, 14, 12, 0), **small)
    refund(s3, 5000, 500, utc(2025, 2, 20, 15, 0))
    s4 = sale(grounding, 20000, utc(2025, 3, 9, 6, 30), processor_fee=610, platform_fee=2000)
    refund(s4, 8000, 800, utc(2025, 4, 15, 14, 0))
    sale(grief, 5000, utc(2025, 4, 1, 4, 30), **small)  # S5: 00:30 EDT on April 1
    sale(grounding, 10000, utc(2025, 1, 1, 4, 30), **fees)  # Dec 31, 23:30 EST: before the period
    sale(grief, 5000, utc(2025, 5, 1, 12, 0), **small)  # after the period, in the last four weeks
    sale(grounding, 10000, utc(2025, 5, 9, 12, 0), **fees)  # after the period, in the last four weeks
    OrderFactory(offering=grounding, amount_cents=10000, status=OrderStatus.PENDING, paid_at=None)
    OrderFactory(offering=grounding, amount_cents=10000, status=OrderStatus.FAILED, paid_at=None)
    sale(elsewhere, 30000, utc(2025, 2, 10, 12, 0), processor_fee=900, platform_fee=3000)

    for when, count, minutes, cents in [
        (date(2025, 1, 15), 10, 50, 150000),
        (date(2025, 1, 31), 2, 50, 30000),
        (date(2025, 2, 1), 4, 60, 48000),
        (date(2025, 3, 31), 5, 50, 75000),
        (date(2025, 4, 30), 1, 90, 12000),
        (date(2024, 12, 31), 3, 50, 45000),
        (date(2025, 5, 1), 2, 50, 30000),
    ]:
        SessionIncomeFactory(
            creator=creator, session_date=when, sessions=count, minutes_each=minutes, amount_cents=cents
        )
    SessionIncomeFactory(session_date=date(2025, 2, 10), sessions=20, amount_cents=300000)  # another creator

    learner(grounding, completed=utc(2025, 3, 1))
    learner(grounding)
    learner(grounding)
    learner(grounding, completed=utc(2025, 2, 1), status=EnrollmentStatus.REVOKED)
    learner(grief, completed=utc(2025, 3, 1))
    learner(grief, completed=utc(2025, 4, 1))
    learner(elsewhere)
    return creator


def test_every_monthly_figure_matches_the_hand_computed_books(books):
    figures = revenue_figures(books, PERIOD, NEW_YORK, NOW)

    assert [m.month for m in figures.months] == [date(2025, m, 1) for m in (1, 2, 3, 4)]
    assert [m.passive_cents for m in figures.months] == [17360, -175, 17390, -2875]
    assert [m.session_cents for m in figures.months] == [180000, 48000, 75000, 12000]
    assert [m.sessions for m in figures.months] == [12, 4, 5, 1]
    assert [m.session_minutes for m in figures.months] == [600, 240, 250, 90]
    assert [m.session_hours for m in figures.months] == pytest.approx([10, 4, 250 / 60, 1.5])
    assert [m.passive_share for m in figures.months] == pytest.approx([0.087961, 0.0, 0.188224, 0.0], abs=1e-6)


def test_every_headline_figure_matches_the_hand_computed_books(books):
    figures = revenue_figures(books, PERIOD, NEW_YORK, NOW)

    assert figures.passive_cents == 31700
    assert figures.session_cents == 315000
    assert figures.sessions == 22
    assert figures.session_minutes == 1180
    assert figures.passive_share == pytest.approx(0.091433, abs=1e-6)
    assert figures.average_session_fee_cents == pytest.approx(14318.18, abs=0.01)
    assert figures.sessions_replaced == pytest.approx(2.2140, abs=1e-4)
    assert figures.session_income_per_hour_cents == 16017
    assert figures.authoring_minutes == 900
    assert figures.passive_per_authoring_hour_cents == 2113
    assert figures.last_four_weeks_cents == 5805


def test_every_offering_figure_matches_the_hand_computed_books(books):
    figures = revenue_figures(books, PERIOD, NEW_YORK, NOW)

    rows = {o.title: o for o in figures.offerings}
    assert [o.title for o in figures.offerings] == ["Grounding", "Grief", "Draft idea"]  # best earner first
    grounding, grief, draft = rows["Grounding"], rows["Grief"], rows["Draft idea"]
    assert (grounding.sales, grounding.gross_cents, grounding.refunds, grounding.refunded_cents) == (3, 40000, 1, 8000)
    assert grounding.net_cents == 27550
    assert (grounding.learners, grounding.completed) == (3, 1)
    assert grounding.completion_rate == pytest.approx(1 / 3)
    assert (grief.sales, grief.gross_cents, grief.refunds, grief.refunded_cents) == (2, 10000, 1, 5000)
    assert grief.net_cents == 4150
    assert (grief.learners, grief.completed, grief.completion_rate) == (2, 2, 1.0)
    assert (draft.sales, draft.net_cents, draft.learners, draft.completion_rate) == (0, 0, 0, None)
    assert sum(o.net_cents for o in figures.offerings) == figures.passive_cents


def test_months_follow_the_creators_calendar_across_dst_and_month_edges(app):
    creator = CreatorProfileFactory(user__time_zone="America/New_York")
    offering = OfferingFactory(creator=creator)
    sale(offering, 1000, utc(2025, 4, 1, 3, 59))  # Mar 31, 23:59 EDT
    sale(offering, 2000, utc(2025, 4, 1, 4, 0))  # Apr 1, 00:00 EDT
    sale(offering, 4000, utc(2025, 11, 1, 3, 59))  # Oct 31, 23:59 EDT
    sale(offering, 8000, utc(2025, 12, 1, 4, 59))  # Nov 30, 23:59 EST (after the clocks went back)
    sale(offering, 16000, utc(2025, 12, 1, 5, 0))  # Dec 1, 00:00 EST

    months = revenue_figures(creator, Period(date(2025, 3, 1), date(2025, 12, 1)), NEW_YORK, NOW).months

    by_month = {m.month.month: m.passive_cents for m in months}
    assert (by_month[3], by_month[4]) == (1000, 2000)
    assert (by_month[10], by_month[11], by_month[12]) == (4000, 8000, 16000)
    assert month_edges(Period(date(2025, 3, 1), date(2025, 3, 1)), NEW_YORK) == [
        utc(2025, 3, 1, 5, 0),  # EST
        utc(2025, 4, 1, 4, 0),  # EDT
    ]


def test_a_one_month_period_counts_only_that_month(books):
    figures = revenue_figures(books, Period(date(2025, 1, 1), date(2025, 1, 1)), NEW_YORK, NOW)

    assert [(m.passive_cents, m.session_cents, m.sessions) for m in figures.months] == [(17360, 180000, 12)]


def test_another_creators_sales_and_sessions_are_never_counted(books):
    other = CreatorProfileFactory(user__time_zone="America/New_York")
    offering = OfferingFactory(creator=other)
    sale(offering, 99900, utc(2025, 2, 10, 12, 0))
    SessionIncomeFactory(creator=other, session_date=date(2025, 2, 10), sessions=30, amount_cents=450000)

    mine = revenue_figures(books, PERIOD, NEW_YORK, NOW)
    theirs = revenue_figures(other, PERIOD, NEW_YORK, NOW)

    assert (mine.passive_cents, mine.session_cents) == (31700, 315000)
    assert "Someone else's" not in [o.title for o in mine.offerings]
    assert (theirs.passive_cents, theirs.session_cents, theirs.sessions) == (99900, 450000, 30)
    assert [o.title for o in theirs.offerings] == [offering.title]


def test_without_sessions_the_profile_fee_prices_the_sessions_replaced(app):
    creator = CreatorProfileFactory(default_session_fee_cents=20000)
    sale(OfferingFactory(creator=creator), 50000, utc(2025, 2, 10, 12, 0))

    figures = revenue_figures(creator, PERIOD, NEW_YORK, NOW)

    assert figures.average_fee_is_default
    assert figures.sessions_replaced == 2.5
    assert figures.session_income_per_hour_cents is None
    assert figures.passive_share == 1.0
