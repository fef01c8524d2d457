"""What the operator's console reads and does: creators, orders, fees and suspensions, each page in a few queries.

Money is summed in SQL with the one definition of net in models/commerce.py, and never
added across currencies. Suspensions only flush and write an audit row; the view commits.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager, selectinload

from ..accounts.services import end_other_login_sessions
from ..checkout.services import withdraw_open_checkouts
from ..extensions import db
from ..ids import parse_id
from ..models import (
    CreatorProfile,
    Offering,
    OfferingSales,
    OfferingStats,
    OfferingStatus,
    Order,
    OrderStatus,
    User,
    utcnow,
)
from ..models.base import like_pattern, whole_sum
from ..pagination import Page, paginate
from ..stats import learners_taught, offering_learners, offering_net_cents, platform_count
from .audit import record

CREATORS_PER_PAGE = 25
ORDERS_PER_PAGE = 30
AUDIT_PER_PAGE = 50
OFFERINGS_SHOWN = 50
RECENT_ORDERS = 10
ORDER_REF_RE = re.compile(r"#?([0-9]{1,18})")


class AdminError(ValueError):
    """An operator action that can't be done; the message says why."""


# ---------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    """Sales in one currency: what learners paid, what went back, what the creator nets, the platform's fee."""

    currency: str
    orders: int
    gross_cents: int
    refunded_cents: int
    net_cents: int
    platform_fee_cents: int
    platform_fee_returned_cents: int


def _money(row) -> Money:
    return Money(row.currency, row.orders, row.gross, row.refunded, row.net, row.fee, row.fee_returned)


def _sales_query() -> sa.Select:
    """The running sales totals (models/stats.py) summed per currency: one row per offering, not per order."""
    orders = whole_sum(OfferingSales.orders)
    return sa.select(
        OfferingSales.currency.label("currency"),
        orders.label("orders"),
        whole_sum(OfferingSales.gross_cents).label("gross"),
        whole_sum(OfferingSales.refunded_cents).label("refunded"),
        whole_sum(OfferingSales.net_cents).label("net"),
        whole_sum(OfferingSales.platform_fee_cents - OfferingSales.platform_fee_returned_cents).label("fee"),
        whole_sum(OfferingSales.platform_fee_returned_cents).label("fee_returned"),
    ).having(orders > 0)


def platform_money() -> list[Money]:
    """The whole platform's sales per currency; `platform_fee_cents` is the fee kept, after fees returned."""
    query = _sales_query().group_by(OfferingSales.currency).order_by(sa.text("orders DESC"), OfferingSales.currency)
    return [_money(row) for row in db.session.execute(query)]


def money_by_creator(creator_ids: list[int]) -> dict[int, list[Money]]:
    """Each of these creators' sales per currency, in one query."""
    if not creator_ids:
        return {}
    query = (
        _sales_query()
        .add_columns(Offering.creator_id.label("creator_id"))
        .join(Offering, Offering.id == OfferingSales.offering_id)
        .where(Offering.creator_id.in_(creator_ids))
        .group_by(Offering.creator_id, OfferingSales.currency)
        .order_by(Offering.creator_id, sa.text("orders DESC"), OfferingSales.currency)
    )
    found: dict[int, list[Money]] = {}
    for row in db.session.execute(query):
        found.setdefault(row.creator_id, []).append(_money(row))
    return found


def fee_percent() -> int:
    """The configured platform fee (PLATFORM_FEE_PERCENT)."""
    return current_app.config["PLATFORM_FEE_PERCENT"]


def platform_counts() -> dict[str, int]:
    """People, creators, listed offerings, active enrollments and suspensions, in one query.

    Accounts and enrollments come from the running totals; creators and offerings are counted (far fewer).
    """
    row = db.session.execute(
        sa.select(
            platform_count("accounts"),
            sa.select(sa.func.count(CreatorProfile.id)).scalar_subquery(),
            sa.select(sa.func.count(Offering.id)).where(Offering.is_listed).scalar_subquery(),
            sa.select(whole_sum(OfferingStats.active)).scalar_subquery(),
            sa.select(sa.func.count(CreatorProfile.id))
            .where(CreatorProfile.suspended_at.is_not(None))
            .scalar_subquery(),
            platform_count("suspended_accounts"),
        )
    ).one()
    keys = ["users", "creators", "listed", "enrollments", "suspended_creators", "suspended_accounts"]
    return dict(zip(keys, row, strict=True))  # type: ignore[arg-type]  # SQLAlchemy 2.1 types a Row of Any as ints


# ---------------------------------------------------------------------------
# Creators
# ---------------------------------------------------------------------------


class PayoutStatus(enum.Enum):
    """Where a creator's Stripe connected account stands, as Stripe last told us."""

    NOT_CONNECTED = "Not connected"
    DETAILS_PENDING = "Details pending"
    CHARGES_ENABLED = "Charges enabled"
    PAYOUTS_ENABLED = "Payouts enabled"

    @classmethod
    def of(cls, profile: CreatorProfile) -> PayoutStatus:
        if not profile.stripe_account_id:
            return cls.NOT_CONNECTED
        if not profile.stripe_charges_enabled:
            return cls.DETAILS_PENDING
        if not profile.stripe_payouts_enabled:
            return cls.CHARGES_ENABLED
        return cls.PAYOUTS_ENABLED

    @property
    def css(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class CreatorRow:
    """A creator in the operator's list: profile and account, offerings, learners, money per currency."""

    profile: CreatorProfile
    offerings: int
    published: int
    learners: int
    money: list[Money] = field(default_factory=list)

    @property
    def payout(self) -> PayoutStatus:
        return PayoutStatus.of(self.profile)


def _creator_figures() -> tuple:
    offerings = sa.select(sa.func.count(Offering.id)).where(Offering.creator_id == CreatorProfile.id).scalar_subquery()
    published = (
        sa.select(sa.func.count(Offering.id))
        .where(Offering.creator_id == CreatorProfile.id, Offering.status == OfferingStatus.PUBLISHED)
        .scalar_subquery()
    )
    learners = learners_taught(CreatorProfile.id)
    return offerings.label("offerings"), published.label("published"), learners.label("learners")


CREATOR_FILTERS = {"": "Every creator", "suspended": "Suspended", "active": "Not suspended"}


def creators_page(query: str, status: str, page: int) -> Page:
    """One page of creators, newest first, matching `query` in name, e-mail or slug; three queries."""
    conditions = []
    for term in query.split()[:8]:
        pattern = like_pattern(term)
        conditions.append(
            sa.or_(
                CreatorProfile.display_name.ilike(pattern, escape="\\"),
                CreatorProfile.slug.ilike(pattern, escape="\\"),
                User.email.ilike(pattern, escape="\\"),
                User.name.ilike(pattern, escape="\\"),
            )
        )
    if status == "suspended":
        conditions.append(CreatorProfile.suspended_at.is_not(None))
    elif status == "active":
        conditions.append(CreatorProfile.suspended_at.is_(None))
    base = sa.select(CreatorProfile).join(CreatorProfile.user).where(*conditions)
    rows = (
        base.add_columns(*_creator_figures())
        .options(contains_eager(CreatorProfile.user))
        .order_by(CreatorProfile.created_at.desc(), CreatorProfile.id.desc())
    )
    count = base.with_only_columns(sa.func.count(CreatorProfile.id)).order_by(None)
    found = paginate(rows, page, CREATORS_PER_PAGE, total=count, rows=True)
    money = money_by_creator([row[0].id for row in found.items])
    items = [
        CreatorRow(row[0], row.offerings, row.published, row.learners, money.get(row[0].id, [])) for row in found.items
    ]
    return found.with_items(items)


@dataclass(frozen=True)
class CreatorDetail:
    """One creator for the operator: the list's figures, their offerings (top N) and recent orders."""

    summary: CreatorRow
    offerings: list
    recent_orders: list[Order]


def creator_or_none(creator_id: int) -> CreatorProfile | None:
    """A creator profile with its account, by id; None for an unknown or out-of-range id."""
    if parse_id(creator_id) is None:
        return None
    return db.session.scalar(
        sa.select(CreatorProfile)
        .join(CreatorProfile.user)
        .where(CreatorProfile.id == creator_id)
        .options(contains_eager(CreatorProfile.user))
    )


def creator_detail(profile: CreatorProfile) -> CreatorDetail:
    """The creator's figures, offerings with learners and net revenue, and newest orders: four queries."""
    figures = db.session.execute(sa.select(*_creator_figures()).where(CreatorProfile.id == profile.id)).one()
    summary = CreatorRow(
        profile,
        figures.offerings,
        figures.published,
        figures.learners,
        money_by_creator([profile.id]).get(profile.id, []),
    )
    offerings = list(
        db.session.execute(
            sa.select(Offering, offering_learners().label("learners"), offering_net_cents().label("net_cents"))
            .where(Offering.creator_id == profile.id)
            .order_by(Offering.updated_at.desc(), Offering.id.desc())
            .limit(OFFERINGS_SHOWN)
        )
    )
    recent = list(
        db.session.scalars(
            _orders_query()
            .where(Offering.creator_id == profile.id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(RECENT_ORDERS)
        )
    )
    return CreatorDetail(summary=summary, offerings=offerings, recent_orders=recent)


# ---------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------


def _orders_query() -> sa.Select:
    """Orders with their learner, offering and creator in the same row."""
    return (
        sa.select(Order)
        .join(Order.learner)
        .join(Order.offering)
        .join(Offering.creator)
        .options(contains_eager(Order.learner), contains_eager(Order.offering).contains_eager(Offering.creator))
    )


def order_search(query: str) -> sa.ColumnElement[bool] | None:
    """Where an order matches what the operator typed: its number, a Stripe id, or the buyer's e-mail."""
    text = query.strip()
    if not text:
        return None
    matches = [
        Order.checkout_id == text,
        Order.payment_intent_id == text,
        Order.charge_id == text,
        User.email.ilike(like_pattern(text.lower()), escape="\\"),
    ]
    number = ORDER_REF_RE.fullmatch(text)
    if number is not None and parse_id(number[1]) is not None:
        matches.append(Order.id == int(number[1]))
    return sa.or_(*matches)


def orders_page(query: str, status: OrderStatus | None, creator_id: int | None, page: int) -> Page:
    """One page of orders, newest first, found by number, Stripe id or buyer e-mail; two queries."""
    conditions = []
    matched = order_search(query)
    if matched is not None:
        conditions.append(matched)
    if status is not None:
        conditions.append(Order.status == status)
    if creator_id is not None:
        conditions.append(Offering.creator_id == creator_id)
    rows = _orders_query().where(*conditions).order_by(Order.created_at.desc(), Order.id.desc())
    count = (
        sa.select(sa.func.count(Order.id))
        .join(User, User.id == Order.learner_id)
        .join(Offering, Offering.id == Order.offering_id)
        .where(*conditions)
    )
    return paginate(rows, page, ORDERS_PER_PAGE, total=count)


def order_or_none(order_id: int) -> Order | None:
    """An order with its learner, offering, creator and refunds; None for an unknown or out-of-range id."""
    if parse_id(order_id) is None:
        return None
    return db.session.scalar(_orders_query().where(Order.id == order_id).options(selectinload(Order.refunds)))


# ---------------------------------------------------------------------------
# Suspensions
# ---------------------------------------------------------------------------


def suspend_creator(profile: CreatorProfile, reason: str) -> None:
    """Take the creator's offerings out of the catalog and close their studio; learners keep their access."""
    if profile.is_suspended:
        raise AdminError(f"{profile.display_name} is already suspended.")
    profile.suspended_at = utcnow()
    profile.suspension_reason = reason
    db.session.flush()
    closed = withdraw_open_checkouts(profile.id, "The offering was withdrawn before payment.")
    detail = f"{profile.display_name} ({profile.slug}); {closed} open checkout(s) closed"
    record("creator.suspend", profile, detail, reason=reason)


def unsuspend_creator(profile: CreatorProfile, reason: str) -> None:
    """Put the creator's published offerings back in the catalog and open their studio again."""
    if not profile.is_suspended:
        raise AdminError(f"{profile.display_name} isn't suspended.")
    profile.suspended_at = None
    profile.suspension_reason = ""
    record("creator.unsuspend", profile, f"{profile.display_name} ({profile.slug})", reason=reason)


def suspend_account(user: User, reason: str, *, by: User) -> int:
    """Stop the account logging in and end every login it has; how many devices were logged out."""
    if user.id == by.id:
        raise AdminError("You can't suspend your own account.")
    if user.is_suspended:
        raise AdminError(f"{user.email} is already suspended.")
    user.suspended_at = utcnow()
    user.suspension_reason = reason
    ended = end_other_login_sessions(user, keep=None)
    record("account.suspend", user, f"{user.email}; logged out of {ended} device(s)", reason=reason)
    return ended


def unsuspend_account(user: User, reason: str) -> None:
    """Let the account log in again."""
    if not user.is_suspended:
        raise AdminError(f"{user.email} isn't suspended.")
    user.suspended_at = None
    user.suspension_reason = ""
    record("account.unsuspend", user, user.email, reason=reason)


def account_or_none(user_id: int) -> User | None:
    """An account by id; None for an unknown or out-of-range id."""
    if parse_id(user_id) is None:
        return None
    return db.session.get(User, user_id)


def orders_of(user: User, limit: int = RECENT_ORDERS) -> list[Order]:
    """The account's newest orders as a buyer, in one query."""
    return list(
        db.session.scalars(
            _orders_query()
            .where(Order.learner_id == user.id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )
