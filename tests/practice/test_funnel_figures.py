"""The revenue view's "people helped while you were full", checked against figures worked out by hand.

The creator lives in New York (EST, UTC−5). The period is January to April 2025; months are theirs.
Each sale is $100 with $3.20 Stripe fee and $10 platform fee (net $86.80), or $50 with $1.75 and $5
(net $43.25). People on the practice waitlist, by the month they joined:

  E1  a@  Jan 5              enrolled in the free course Jan 6, bought Grounding Feb 2: 86.80    January
  E2  b@  Feb 1, 03:00 UTC   (Jan 31, 22:00 in New York) enrolled and bought *before* joining:    January
                             neither counts
  E3  c@  Feb 10             bought Grounding Feb 11, $40 refunded Feb 15 with $4 fee back:       February
                             86.80 − 36 = 50.80
  E4  d@  Mar 3              no account: joined, nothing since                                   March
  E5  (left Apr 1)  Mar 20   had enrolled, and their purchases had brought 43.25 when they left  March
  E6  e@  Mar 25             enrolled in and bought another therapist's course only              March
  E7  f@  Apr 2              enrolled in the free course Apr 3; a purchase in EUR isn't counted  April
  Outside: E8 joined Dec 20, 2024 (enrolled Jan 2); another therapist's sign-up in February.

Per month (joined / enrolled since / income): Jan 2 / 1 / 86.80; Feb 1 / 1 / 50.80; Mar 3 / 1 / 43.25;
Apr 1 / 1 / 0. Period: 7 joined, 4 enrolled, $180.85.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from courseplatform.extensions import db
from courseplatform.models import PracticeWaitlistEntry
from courseplatform.practice import leave
from courseplatform.revenue.figures import Period, revenue_figures

from ..factories import PASSWORD, CreatorProfileFactory, EnrollmentFactory, OfferingFactory, UserFactory
from ..factories.orders import refund, sale
from ..markup import text_of

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2025, 1, 1), date(2025, 4, 1))
FEES = {"processor_fee": 320, "platform_fee": 1000}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def joined(creator, email, when, **fields) -> PracticeWaitlistEntry:
    entry = PracticeWaitlistEntry(creator_id=creator.id, email=email, created_at=when, **fields)
    db.session.add(entry)
    db.session.flush()
    return entry


@pytest.fixture
def funnel(app):
    creator = CreatorProfileFactory(user__time_zone="America/New_York", practice_waitlist_open=True)
    free = OfferingFactory(creator=creator, title="While You Wait", price_cents=0)
    grounding = OfferingFactory(creator=creator, title="Grounding", price_cents=10000)
    elsewhere = OfferingFactory(title="Someone else's", price_cents=10000)
    a, b, c, e, f, g = (UserFactory(email=f"{x}@example.org") for x in "abcefg")

    joined(creator, "a@example.org", utc(2025, 1, 5, 15))
    EnrollmentFactory(user=a, offering=free, enrolled_at=utc(2025, 1, 6, 15))
    sale(grounding, 10000, utc(2025, 2, 2, 15), learner=a, **FEES)

    joined(creator, "b@example.org", utc(2025, 2, 1, 3))
    EnrollmentFactory(user=b, offering=free, enrolled_at=utc(2025, 1, 20))
    sale(grounding, 10000, utc(2025, 1, 25), learner=b, **FEES)

    joined(creator, "c@example.org", utc(2025, 2, 10, 15))
    bought = sale(grounding, 10000, utc(2025, 2, 11, 15), learner=c, **FEES)
    EnrollmentFactory(user=c, offering=grounding, order=bought, enrolled_at=utc(2025, 2, 11, 15))
    refund(bought, 4000, 400, utc(2025, 2, 15, 15))

    joined(creator, "d@example.org", utc(2025, 3, 3, 15))
    joined(
        creator,
        None,
        utc(2025, 3, 20, 15),
        left_at=utc(2025, 4, 1, 15),
        enrolled_before_leaving=True,
        income_before_leaving_cents=4325,
    )

    joined(creator, "e@example.org", utc(2025, 3, 25, 15))
    EnrollmentFactory(user=e, offering=elsewhere, enrolled_at=utc(2025, 3, 26))
    sale(elsewhere, 10000, utc(2025, 3, 26), learner=e, **FEES)

    joined(creator, "f@example.org", utc(2025, 4, 2, 15))
    EnrollmentFactory(user=f, offering=free, enrolled_at=utc(2025, 4, 3, 15))
    euro = sale(grounding, 10000, utc(2025, 4, 3, 16), learner=f, **FEES)
    euro.currency = "EUR"

    joined(creator, "g@example.org", utc(2024, 12, 20, 15))
    EnrollmentFactory(user=g, offering=free, enrolled_at=utc(2025, 1, 2, 15))
    joined(elsewhere.creator, "a@example.org", utc(2025, 2, 5))
    db.session.flush()
    return creator


def test_the_funnel_per_month_matches_the_hand_computed_list(funnel):
    figures = revenue_figures(funnel, PERIOD, NEW_YORK, NOW).funnel

    assert [m.month for m in figures.months] == [date(2025, m, 1) for m in (1, 2, 3, 4)]
    assert [(m.signups, m.enrolled, m.income_cents) for m in figures.months] == [
        (2, 1, 8680),
        (1, 1, 5080),
        (3, 1, 4325),
        (1, 1, 0),
    ]
    assert (figures.signups, figures.enrolled, figures.income_cents) == (7, 4, 18085)


def test_someone_leaving_erases_their_address_and_keeps_the_months_as_they_were(funnel):
    entry = db.session.scalar(db.select(PracticeWaitlistEntry).filter_by(email="a@example.org", creator_id=funnel.id))
    assert leave(entry) is True
    db.session.flush()
    assert (entry.email, entry.enrolled_before_leaving, entry.income_before_leaving_cents) == (None, True, 8680)
    assert leave(entry) is False, "leaving twice changes nothing"

    figures = revenue_figures(funnel, PERIOD, NEW_YORK, NOW).funnel
    assert next((m.signups, m.enrolled, m.income_cents) for m in figures.months) == (2, 1, 8680)
    assert (
        db.session.scalar(
            db.select(db.func.count())
            .select_from(PracticeWaitlistEntry)
            .where(PracticeWaitlistEntry.email == "a@example.org")
        )
        == 1
    ), "only the other therapist's list still has the address"


def test_the_revenue_page_shows_the_funnel(funnel, web):
    web.login(funnel.user.email, PASSWORD)
    page = web.client.get("/studio/revenue?from=2025-01&to=2025-04").get_data(as_text=True)
    text = text_of(page)
    assert "People helped while you were full" in text
    assert "Joined your waitlist 7" in text and "Enrolled in an offering 4" in text and "$180.85" in text
    assert "January 2025 2 1 $86.80" in text and "March 2025 3 1 $43.25" in text
