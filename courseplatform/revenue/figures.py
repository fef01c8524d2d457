"""The revenue view's numbers: aqueduct (passive) income against bucket (session) income, month by month.

Everything is summed in SQL, in the same few statements whatever the number of orders, sessions or people:

- sales and refunds per offering and month, plus the last four weeks: the monthly passive
  income and the per-offering figures are both added up from these few rows;
- session income per month;
- one row per offering with its learners and completions (and a count for the pager);
- memberships and payment plans;
- the practice waitlist's funnel: sign-ups per month, how many enrolled since, the income from them
  (`practice.funnel_by_month`; never joined to session income).

Months are calendar months in the creator's zone. Their edges are computed here as UTC
instants with zoneinfo (so DST is right), and SQL sorts each sale or refund into a month
with a CASE over those edges: the same SQL on PostgreSQL and SQLite, and a plain range
condition the indexes on `paid_at` and `created_at` can serve. Session income is already
dated by the creator's calendar, so its months are compared as dates.

Passive income is what reaches the creator, the two halves of the net defined in
models/commerce.py: a sale counts in the month it was paid as `Order.sale_net_cents`; a
counted refund counts in the month it was made as −`Refund.refund_net_cents`. Only orders
in the creator's currency count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from ..downloads import spreadsheet_safe
from ..extensions import db
from ..formatting import decimal_amount, minor_units
from ..models import (
    BillingInterval,
    CreatorProfile,
    Offering,
    OfferingStatus,
    Order,
    PayerKind,
    PaymentPlan,
    PlanStatus,
    Refund,
    SessionIncome,
    SessionIncomeKind,
)
from ..models.base import whole_sum
from ..models.commerce import SETTLED_STATUSES, counted_refunds
from ..models.plans import RUNNING_STATUSES
from ..pagination import Page
from ..practice import funnel_by_month
from ..stats import offering_completed, offering_learners

DEFAULT_MONTHS = 12
MAX_MONTHS = 60
LAST_WEEKS_DAYS = 28
OFFERINGS_PER_PAGE = 20  # the table's top earners; the pager shows the rest


def add_months(month: date, months: int) -> date:
    """The first day of the month `months` after (or before) `month`'s."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole calendar months, from `first` to `last` (both the first day of their month) inclusive."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, months: int = DEFAULT_MONTHS) -> Period:
        last = last.replace(day=1)
        return cls(add_months(last, 1 - months), last)

    @property
    def months(self) -> list[date]:
        return [add_months(self.first, i) for i in range(self.length)]

    @property
    def length(self) -> int:
        return (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.last, 1)

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.strftime("%B %Y")
        return f"{self.first.strftime('%b %Y')} – {self.last.strftime('%b %Y')}"

    def args(self) -> dict[str, str]:
        """The period as the query string of the page and its CSV."""
        return {"from": self.first.strftime("%Y-%m"), "to": self.last.strftime("%Y-%m")}


def month_edges(period: Period, zone: ZoneInfo) -> list[datetime]:
    """Midnight on the first of each month of the period in `zone`, and after the last, as UTC instants."""
    return [datetime(month.year, month.month, 1, tzinfo=zone).astimezone(UTC) for month in [*period.months, period.end]]


# A column or a model's attribute: what a statement groups or compares by.
ColumnLike = sa.ColumnElement[Any] | QueryableAttribute[Any]


def _month_index(column: ColumnLike, edges: list) -> sa.ColumnElement[int]:
    """Which month of the period a timestamp (or date) in [edges[0], edges[-1]) falls in: 0, 1, 2...

    A CASE that halves the months at each step, so a row is compared with about log2(months)
    edges rather than with every one of them (60 months: 6 comparisons, not up to 59).
    """

    def months(first: int, last: int) -> sa.ColumnElement[int]:
        if first == last:
            return _constant(first)
        middle = (first + last + 1) // 2  # months [first, middle) are before edges[middle]
        return sa.case((column < edges[middle], months(first, middle - 1)), else_=months(middle, last))

    return months(0, len(edges) - 2)


def _constant(value: int) -> sa.ColumnElement[int]:
    """A number written into the SQL (not a parameter), so a branch of a UNION has one type everywhere."""
    return sa.literal_column(str(int(value)), sa.Integer)


def _grouped(statement: sa.Select, *keys: ColumnLike) -> sa.Select:
    """GROUP BY the keys, leaving out a constant one (GROUP BY 0 would name a column by its position)."""
    return statement.group_by(*[key for key in keys if not getattr(key, "is_literal", False)])


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _passive_share(passive_cents: int, session_cents: int) -> float | None:
    # A month where refunds outweighed sales (or sessions) brought nothing on that side: 0%, not a negative
    # share, nor one over 100%.
    passive = max(passive_cents, 0)
    return _ratio(passive, passive + max(session_cents, 0))


@dataclass(frozen=True)
class MonthFigures:
    """One month of the period: what the sessions and the offerings brought."""

    month: date
    session_cents: int = 0
    passive_cents: int = 0
    sessions: int = 0
    session_minutes: int = 0
    # Late-cancel and no-show fees: 1:1 income, but not sessions held (so not in the hourly or per-session figures).
    missed_fee_cents: int = 0
    # Of all that 1:1 income (bucket_cents), what insurers and sliding-scale clients paid; the rest is self-pay.
    insurance_cents: int = 0
    sliding_scale_cents: int = 0

    @property
    def bucket_cents(self) -> int:
        """All the month's 1:1 income: sessions, refunds and adjustments, and missed-appointment fees."""
        return self.session_cents + self.missed_fee_cents

    @property
    def self_pay_cents(self) -> int:
        return self.bucket_cents - self.insurance_cents - self.sliding_scale_cents

    @property
    def passive_share(self) -> float | None:
        return _passive_share(self.passive_cents, self.bucket_cents)

    @property
    def session_hours(self) -> float:
        return self.session_minutes / 60


@dataclass(frozen=True)
class OfferingFigures:
    """One offering over the period: its sales, refunds and net; its learners and completions today."""

    offering_id: int
    title: str
    status: OfferingStatus
    authoring_minutes: int
    sales: int
    gross_cents: int  # what learners paid
    discount_cents: int  # what coupons took off the list price (list price = gross + discount, both without tax)
    refunds: int
    refunded_cents: int
    net_cents: int
    learners: int
    completed: int

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.completed, self.learners)


@dataclass(frozen=True)
class RecurringFigures:
    """Memberships and payment plans beside one-off sales: what recurs now, and what the period collected.

    MRR is the monthly value of the memberships running now (a yearly one counts a twelfth), before
    fees; churn is the share of the members at the period's start whose membership ended in it (one that
    began and ended inside the period is neither). The
    collections are what learners paid in the period, before refunds and fees, by kind of sale.
    """

    mrr_cents: int = 0
    members: int = 0  # memberships running now (a renewal being retried included)
    members_at_start: int = 0
    ended_in_period: int = 0
    one_off_cents: int = 0
    plan_cents: int = 0  # payment plans' instalments paid in the period
    membership_cents: int = 0  # memberships' payments in the period
    plans_running: int = 0
    plans_owed_cents: int = 0  # what running payment plans still have to collect

    @property
    def churn(self) -> float | None:
        return _ratio(self.ended_in_period, self.members_at_start)

    @property
    def has_any(self) -> bool:
        return bool(
            self.members or self.ended_in_period or self.plan_cents or self.membership_cents or self.plans_running
        )


@dataclass(frozen=True)
class FunnelMonthFigures:
    """Of the people who joined the practice waitlist in a month: how many, how many have enrolled since, and
    what their purchases brought."""

    month: date
    signups: int = 0
    enrolled: int = 0
    income_cents: int = 0


@dataclass(frozen=True)
class FunnelFigures:
    """People helped while the practice was full: the practice waitlist's sign-ups per month and what followed."""

    months: list[FunnelMonthFigures]
    waitlist_open: bool

    @property
    def signups(self) -> int:
        return sum(m.signups for m in self.months)

    @property
    def enrolled(self) -> int:
        return sum(m.enrolled for m in self.months)

    @property
    def income_cents(self) -> int:
        return sum(m.income_cents for m in self.months)

    @property
    def shown(self) -> bool:
        return self.waitlist_open or self.signups > 0


@dataclass(frozen=True)
class RevenueFigures:
    """Everything the revenue view shows for one creator and one period."""

    period: Period
    currency: str
    months: list[MonthFigures]
    offerings_page: Page[OfferingFigures]  # best earners first
    authoring_minutes: int  # hours spent making every offering, not only the page shown
    last_four_weeks_cents: int
    default_session_fee_cents: int
    recurring: RecurringFigures = RecurringFigures()
    funnel: FunnelFigures = field(default_factory=lambda: FunnelFigures([], False))

    @property
    def passive_cents(self) -> int:
        return sum(m.passive_cents for m in self.months)

    @property
    def session_cents(self) -> int:
        return sum(m.session_cents for m in self.months)

    @property
    def sessions(self) -> int:
        return sum(m.sessions for m in self.months)

    @property
    def session_minutes(self) -> int:
        return sum(m.session_minutes for m in self.months)

    @property
    def session_hours(self) -> float:
        return self.session_minutes / 60

    @property
    def missed_fee_cents(self) -> int:
        return sum(m.missed_fee_cents for m in self.months)

    @property
    def bucket_cents(self) -> int:
        return self.session_cents + self.missed_fee_cents

    @property
    def by_payer(self) -> list[tuple[PayerKind, int]]:
        """The period's 1:1 income by who paid it, self-pay first; kinds that paid nothing are left out."""
        paid = {
            PayerKind.SELF_PAY: sum(m.self_pay_cents for m in self.months),
            PayerKind.INSURANCE: sum(m.insurance_cents for m in self.months),
            PayerKind.SLIDING_SCALE: sum(m.sliding_scale_cents for m in self.months),
        }
        return [(kind, cents) for kind, cents in paid.items() if cents]

    @property
    def passive_share(self) -> float | None:
        return _passive_share(self.passive_cents, self.bucket_cents)

    @property
    def average_session_fee_cents(self) -> float:
        """What a session brought on average in the period; the profile's fee if none was logged."""
        if self.sessions:
            return max(self.session_cents, 0) / self.sessions  # refunds beyond the sessions' income: $0
        return self.default_session_fee_cents

    @property
    def average_fee_is_default(self) -> bool:
        return not self.sessions

    @property
    def sessions_replaced(self) -> float | None:
        """How many sessions' fees the passive income stands in for."""
        return _ratio(self.passive_cents, self.average_session_fee_cents)

    @property
    def session_income_per_hour_cents(self) -> int | None:
        rate = _ratio(max(self.session_cents, 0) * 60, self.session_minutes)
        return None if rate is None else round(rate)

    @property
    def offerings(self) -> list[OfferingFigures]:
        """The page of offerings shown."""
        return self.offerings_page.items

    @property
    def authoring_hours(self) -> float:
        return self.authoring_minutes / 60

    @property
    def passive_per_authoring_hour_cents(self) -> int | None:
        rate = _ratio(self.passive_cents * 60, self.authoring_minutes)
        return None if rate is None else round(rate)

    @property
    def sales(self) -> int:
        return sum(o.sales for o in self.offerings)

    @property
    def has_published(self) -> bool:
        return any(o.status is OfferingStatus.PUBLISHED for o in self.offerings)

    @property
    def has_passive(self) -> bool:
        """Anything sold or refunded in the period."""
        return any(o.sales or o.refunds for o in self.offerings)

    @property
    def has_sessions(self) -> bool:
        return self.sessions > 0

    def chart_data(self) -> dict:
        """The monthly bars as the chart script reads them (money in major units)."""
        return {
            "currency": self.currency,
            "labels": [m.month.strftime("%b %Y") for m in self.months],
            "session": [m.session_cents / minor_units(self.currency) for m in self.months],
            "passive": [m.passive_cents / minor_units(self.currency) for m in self.months],
        }


@dataclass
class _Money:
    """Sales and refunds summed for one offering in one month (or over the last four weeks)."""

    sales: int = 0
    gross: int = 0
    discount: int = 0
    sale_net: int = 0
    refunds: int = 0
    refunded: int = 0
    refund_net: int = 0  # what the refunds took back from the creator

    @property
    def net(self) -> int:
        return self.sale_net - self.refund_net


RECENT = -1  # the bucket of the last four weeks


def sold_between(profile: CreatorProfile, start, end) -> list[sa.ColumnElement[bool]]:
    """The creator's sales in their currency paid in [start, end) (the query joins Offering to Order)."""
    return [
        Offering.creator_id == profile.id,
        Order.currency == profile.currency,
        Order.status.in_(SETTLED_STATUSES),
        Order.paid_at >= start,
        Order.paid_at < end,
    ]


def sales_and_refunds_statement(profile: CreatorProfile, edges: list[datetime], now: datetime) -> sa.CompoundSelect:
    """Rows of (is_refund, offering, bucket, count, amount, net, discount): sales and refunds per month index of
    the period and per RECENT (a refund's discount is 0).

    One pass over the period's orders and refunds serves both the months and the offerings; each
    offering's sales are read off its orders-by-payment-date index.
    """

    def sales(bucket, start, end):
        return _grouped(
            sa.select(
                _constant(0).label("is_refund"),
                Order.offering_id,
                bucket.label("bucket"),
                sa.func.count(Order.id),
                whole_sum(Order.revenue_cents),
                whole_sum(Order.sale_net_cents),
                whole_sum(Order.revenue_discount_cents),
            )
            .join(Offering, Order.offering_id == Offering.id)
            .where(*sold_between(profile, start, end)),
            Order.offering_id,
            bucket,
        )

    def refunds(bucket, start, end):
        return _grouped(
            sa.select(
                _constant(1).label("is_refund"),
                Order.offering_id,
                bucket.label("bucket"),
                sa.func.count(Refund.id),
                whole_sum(Refund.revenue_cents),
                whole_sum(Refund.refund_net_cents),
                _constant(0),
            )
            .join(Order, Refund.order_id == Order.id)
            .join(Offering, Order.offering_id == Offering.id)
            .where(
                Offering.creator_id == profile.id,
                Order.currency == profile.currency,
                counted_refunds(),
                Refund.created_at >= start,
                Refund.created_at < end,
            ),
            Order.offering_id,
            bucket,
        )

    # A sale may be both in the period and in the last four weeks: those are branches of their own.
    recent = (now - timedelta(days=LAST_WEEKS_DAYS), now)
    return sa.union_all(
        sales(_month_index(Order.paid_at, edges), edges[0], edges[-1]),
        refunds(_month_index(Refund.created_at, edges), edges[0], edges[-1]),
        sales(_constant(RECENT), *recent),
        refunds(_constant(RECENT), *recent),
    )


def _sales_and_refunds(profile: CreatorProfile, edges: list[datetime], now: datetime) -> dict[tuple[int, int], _Money]:
    """Sales and refunds per (offering, month index of the period), and per (offering, RECENT), in one statement."""
    money: dict[tuple[int, int], _Money] = {}
    statement = sales_and_refunds_statement(profile, edges, now)
    rows: Iterable[tuple[int, int, int, int, int, int, int]] = db.session.execute(statement)
    for is_refund, offering_id, bucket, count, amount, net, discount in rows:
        cell = money.setdefault((offering_id, bucket), _Money())
        if is_refund:
            cell.refunds, cell.refunded, cell.refund_net = int(count), int(amount), int(net)
        else:
            cell.sales, cell.gross, cell.sale_net, cell.discount = int(count), int(amount), int(net), int(discount)
    return money


def _sessions_by_month(profile: CreatorProfile, period: Period) -> dict[int, tuple[int, ...]]:
    """(income, missed-appointment fees, sessions, minutes, paid by insurers, paid on a sliding scale) per
    month index of the period, from the logged session income; refunds and adjustments count in the income
    of their month."""
    days = [*period.months, period.end]
    bucket = _month_index(SessionIncome.session_date, days)
    missed = SessionIncome.kind == SessionIncomeKind.MISSED
    rows: Iterable[tuple[int, ...]] = db.session.execute(
        _grouped(
            sa.select(
                bucket,
                whole_sum(sa.case((missed, 0), else_=SessionIncome.amount_cents)),
                whole_sum(sa.case((missed, SessionIncome.amount_cents), else_=0)),
                whole_sum(SessionIncome.sessions),
                whole_sum(sa.cast(SessionIncome.sessions, sa.BigInteger) * SessionIncome.minutes_each),
                *(
                    whole_sum(sa.case((SessionIncome.payer_kind == kind, SessionIncome.amount_cents), else_=0))
                    for kind in (PayerKind.INSURANCE, PayerKind.SLIDING_SCALE)
                ),
            ).where(
                SessionIncome.creator_id == profile.id,
                SessionIncome.currency == profile.currency,
                SessionIncome.session_date >= days[0],
                SessionIncome.session_date < days[-1],
            ),
            bucket,
        )
    )
    return {index: tuple(int(value) for value in values) for index, *values in rows}


def _offerings(
    profile: CreatorProfile, money: dict[tuple[int, int], _Money], page: int
) -> tuple[Page[OfferingFigures], int]:
    """One page of the creator's offerings, best earners in the period first, with learners and completions today.

    Every offering is ranked (by the period's net, then title) from its id and title alone; only
    the page's offerings are read in full, their learners off the running totals.
    """
    totals: dict[int, _Money] = {}
    for (offering_id, bucket), cell in money.items():
        if bucket != RECENT:
            total = totals.setdefault(offering_id, _Money())
            total.sales += cell.sales
            total.gross += cell.gross
            total.discount += cell.discount
            total.sale_net += cell.sale_net
            total.refunds += cell.refunds
            total.refunded += cell.refunded
            total.refund_net += cell.refund_net
    ranked = db.session.execute(
        sa.select(Offering.id, Offering.authoring_minutes)
        .where(Offering.creator_id == profile.id)
        .order_by(Offering.title, Offering.id)
    ).all()
    # Best earners first; offerings with nothing in the period keep their alphabetical order.
    order = sorted(range(len(ranked)), key=lambda i: -totals.get(ranked[i][0], _Money()).net)
    found: Page[OfferingFigures] = Page.at(page, OFFERINGS_PER_PAGE, len(ranked))
    shown = [ranked[i][0] for i in order[found.offset : found.offset + found.per_page]]
    rows = (
        {
            row[0]: row
            for row in db.session.execute(
                sa.select(
                    Offering.id,
                    Offering.title,
                    Offering.status,
                    Offering.authoring_minutes,
                    offering_learners(),
                    offering_completed(),
                ).where(Offering.id.in_(shown))
            )
        }
        if shown
        else {}
    )
    offerings = []
    for offering_id in shown:
        _id, title, status, authoring_minutes, learner_count, completed = rows[offering_id]
        total = totals.get(offering_id, _Money())
        offerings.append(
            OfferingFigures(
                offering_id=offering_id,
                title=title,
                status=status,
                authoring_minutes=authoring_minutes or 0,
                sales=total.sales,
                gross_cents=total.gross,
                discount_cents=total.discount,
                refunds=total.refunds,
                refunded_cents=total.refunded,
                net_cents=total.net,
                learners=int(learner_count),
                completed=int(completed),
            )
        )
    return found.with_items(offerings), sum(minutes or 0 for _id, minutes in ranked)


def _recurring(profile: CreatorProfile, edges: list[datetime]) -> RecurringFigures:
    """Memberships and payment plans for the revenue view, in one query."""
    start, end = edges[0], edges[-1]
    membership = PaymentPlan.instalments.is_(None)
    running = PaymentPlan.status.in_((PlanStatus.ACTIVE, PlanStatus.PAST_DUE))
    monthly = sa.case(
        (PaymentPlan.interval == BillingInterval.YEAR, PaymentPlan.revenue_per_payment_cents / 12),
        else_=PaymentPlan.revenue_per_payment_cents,
    )
    ended = PaymentPlan.status == PlanStatus.CANCELED

    def count(*conditions) -> sa.ColumnElement[int]:
        return whole_sum(sa.case((sa.and_(*conditions), 1), else_=0))

    plans = (
        sa.select(
            whole_sum(sa.case((sa.and_(membership, running), monthly), else_=0)).label("mrr"),
            count(membership, running).label("members"),
            count(
                membership,
                PaymentPlan.started_at < start,
                sa.or_(PaymentPlan.ended_at.is_(None), PaymentPlan.ended_at >= start),
            ).label("at_start"),
            # Churn: of the members at the start, those whose membership ended in the period.
            count(
                membership,
                ended,
                PaymentPlan.started_at < start,
                PaymentPlan.ended_at >= start,
                PaymentPlan.ended_at < end,
            ).label("ended"),
            count(~membership, PaymentPlan.status.in_(RUNNING_STATUSES)).label("plans"),
            whole_sum(
                sa.case(
                    (
                        sa.and_(~membership, PaymentPlan.status.in_(RUNNING_STATUSES)),
                        PaymentPlan.unpaid_revenue_cents,
                    ),
                    else_=0,
                )
            ).label("owed"),
        )
        .join(Offering, PaymentPlan.offering_id == Offering.id)
        .where(
            Offering.creator_id == profile.id,
            PaymentPlan.currency == profile.currency,
            PaymentPlan.status != PlanStatus.PENDING,
            PaymentPlan.status != PlanStatus.ABANDONED,
        )
        .subquery()
    )

    def collected(*conditions) -> sa.ScalarSelect[int]:
        """What learners paid in the period for this kind of sale (one-off, membership, plan instalment)."""
        return (
            sa.select(whole_sum(Order.revenue_cents))
            .join(Offering, Order.offering_id == Offering.id)
            .outerjoin(PaymentPlan, Order.plan_id == PaymentPlan.id)
            .where(*sold_between(profile, start, end), *conditions)
            .scalar_subquery()
        )

    row = db.session.execute(
        sa.select(
            plans,
            collected(Order.plan_id.is_(None)).label("one_off"),
            collected(Order.plan_id.is_not(None), PaymentPlan.instalments.is_(None)).label("membership_paid"),
            collected(PaymentPlan.instalments.is_not(None)).label("plan_paid"),
        )
    ).one()
    return RecurringFigures(
        mrr_cents=int(row.mrr),
        members=int(row.members),
        members_at_start=int(row.at_start),
        ended_in_period=int(row.ended),
        one_off_cents=int(row.one_off),
        plan_cents=int(row.plan_paid),
        membership_cents=int(row.membership_paid),
        plans_running=int(row.plans),
        plans_owed_cents=int(row.owed),
    )


def revenue_figures(
    profile: CreatorProfile, period: Period, zone: ZoneInfo, now: datetime | None = None, page: int = 1
) -> RevenueFigures:
    """The creator's passive and session income per month of `period` (months in `zone`), a page of the
    offerings ranked by the period's net, memberships and payment plans, and the practice waitlist's
    funnel, in six queries."""
    now = now or datetime.now(UTC)
    edges = month_edges(period, zone)
    money = _sales_and_refunds(profile, edges, now)
    sessions = _sessions_by_month(profile, period)
    passive: dict[int, int] = {}
    for (_offering, bucket), cell in money.items():
        passive[bucket] = passive.get(bucket, 0) + cell.net
    offerings_page, authoring_minutes = _offerings(profile, money, page)
    months = []
    for index, month in enumerate(period.months):
        income, fees, count, minutes, insured, sliding = sessions.get(index, (0, 0, 0, 0, 0, 0))
        months.append(MonthFigures(month, income, passive.get(index, 0), count, minutes, fees, insured, sliding))
    return RevenueFigures(
        period=period,
        currency=profile.currency,
        months=months,
        offerings_page=offerings_page,
        authoring_minutes=authoring_minutes,
        last_four_weeks_cents=passive.get(RECENT, 0),
        default_session_fee_cents=profile.default_session_fee_cents,
        recurring=_recurring(profile, edges),
        funnel=_funnel(profile, period, edges),
    )


def _funnel(profile: CreatorProfile, period: Period, edges: list[datetime]) -> FunnelFigures:
    """The practice waitlist's months, in one query (see `practice.funnel_by_month`)."""
    by_month = funnel_by_month(profile, edges, _month_index)
    months = [
        FunnelMonthFigures(month, by_month[i].signups, by_month[i].enrolled, by_month[i].income_cents)
        if i in by_month
        else FunnelMonthFigures(month)
        for i, month in enumerate(period.months)
    ]
    return FunnelFigures(months, profile.practice_waitlist_open)


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------

CSV_COLUMNS = [
    "month",
    "currency",
    "session_income",
    "passive_income",
    "passive_share_percent",
    "sessions",
    "session_hours",
    "missed_appointment_fees",  # late-cancel and no-show fees: 1:1 income, not sessions (after the first seven)
    # All the month's 1:1 income (session income and missed fees) by who paid it.
    "self_pay_income",
    "insurance_income",
    "sliding_scale_income",
]


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def revenue_csv(figures: RevenueFigures) -> str:
    """The monthly table as CSV: one row a month, money like 1234.50, shares in percent, hours in hours."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for month in figures.months:
        share = month.passive_share
        writer.writerow(
            [
                # Text goes through spreadsheet_safe; the numbers are written by us and stay numbers.
                spreadsheet_safe(month.month.strftime("%Y-%m")),
                spreadsheet_safe(figures.currency),
                decimal_amount(month.session_cents, figures.currency),
                decimal_amount(month.passive_cents, figures.currency),
                "" if share is None else f"{share * 100:.1f}",
                str(month.sessions),
                _hours(month.session_minutes),
                decimal_amount(month.missed_fee_cents, figures.currency),
                decimal_amount(month.self_pay_cents, figures.currency),
                decimal_amount(month.insurance_cents, figures.currency),
                decimal_amount(month.sliding_scale_cents, figures.currency),
            ]
        )
    return out.getvalue()
