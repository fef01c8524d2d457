"""Coupons at the Buy button: which code applies to an offering, what it takes off, and whether it has uses left.

The same rules price the offering's page (`coupon_offer`, read-only) and the order
(`redeem`, under the offering's and the coupon's row locks), in test mode and with Stripe:
the order is made at the discounted amount, and the platform fee is taken on that.

A use is one learner buying one offering with the code: a settled order, or a pending
checkout still holding its place (as a pending checkout holds a workshop seat). A learner's
own open checkouts for the same offering don't count twice, since only one of them can
enrol; a refund doesn't give a use back (as on Stripe).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..extensions import db
from ..formatting import format_date, format_money
from ..integrations.payments import MINIMUM_CHARGE_CENTS
from ..models import Coupon, CouponKind, Offering, Order, OrderStatus, coupon_offerings, utcnow
from ..models.commerce import SETTLED_STATUSES

CODE_MAX_LENGTH = 32
CODE_PATTERN = re.compile(rf"[A-Z0-9][A-Z0-9_-]{{1,{CODE_MAX_LENGTH - 1}}}")
CODE_RULE = "2 to 32 letters, digits, hyphens or underscores, starting with a letter or digit"


class CouponError(Exception):
    """A code that can't be used here and now; `message` tells the learner why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def normalise_code(raw: object) -> str | None:
    """A code as typed or linked (`welcome-25 `) as stored (`WELCOME-25`).

    None when empty; CouponError when it can't be a code.
    """
    if not isinstance(raw, str):
        return None
    code = raw.strip().upper()
    if not code:
        return None
    if not CODE_PATTERN.fullmatch(code):
        raise CouponError("That isn't a code we know. Check it for typos, or ask whoever shared it.")
    return code


def describe(coupon: Coupon) -> str:
    """`25 % off` or `$10.00 off`."""
    if coupon.kind is CouponKind.PERCENT:
        return f"{coupon.percent_off} % off"
    return f"{format_money(coupon.amount_off_cents, coupon.currency or 'USD')} off"


def last_day(expires_at: datetime, zone: str | None = None) -> str:
    """The last day a coupon works, on `zone`'s calendar (it stops at the midnight that ends that day)."""
    return format_date(expires_at - timedelta(seconds=1), zone)


@dataclass(frozen=True)
class CouponPrice:
    """An offering's price with a coupon: what comes off, and what is paid."""

    coupon: Coupon
    list_cents: int
    discount_cents: int

    @classmethod
    def of(cls, coupon: Coupon, list_cents: int) -> CouponPrice:
        """The coupon on a price. A discount that would leave less than the least a card can be charged
        (but not nothing) leaves that least instead: 99 % off $49 is $0.50, not $0.49 nobody can take."""
        discount = coupon.discount_cents(list_cents)
        left = list_cents - discount
        if 0 < left < MINIMUM_CHARGE_CENTS:
            discount = max(list_cents - MINIMUM_CHARGE_CENTS, 0)
        return cls(coupon, list_cents, discount)

    @property
    def amount_cents(self) -> int:
        return self.list_cents - self.discount_cents

    @property
    def is_whole(self) -> bool:
        """The coupon takes the whole price: the learner enrols without paying."""
        return self.amount_cents == 0


def _applicable(offering: Offering, code: str, now: datetime, *, lock: bool) -> Coupon:
    # The active coupon with this code, else the latest archived one (to say it is no longer active).
    statement = (
        sa.select(Coupon)
        .where(Coupon.creator_id == offering.creator_id, Coupon.code == code)
        .order_by(Coupon.archived_at.is_not(None), Coupon.id.desc())
        .limit(1)
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    coupon = db.session.scalar(statement)
    unknown = CouponError(f"There's no code {code} for this offering. Check it for typos, or ask whoever shared it.")
    if coupon is None:
        raise unknown
    if coupon.is_archived:
        raise CouponError(f"The code {code} is no longer active.")
    if coupon.expires_at is not None and coupon.has_expired(now):
        ended = last_day(coupon.expires_at, offering.creator.user.time_zone)
        raise CouponError(f"The code {code} has expired: its last day was {ended}.")
    if offering.is_free:
        raise CouponError("This offering is free, so there's nothing to take off.")
    if offering.sliding_scale_min_cents is not None:
        raise CouponError("This offering is pay what you can, so codes don't apply: choose the amount that suits you.")
    # A code for other offerings reads as no code here, so trying codes on a page tells nothing about them.
    if coupon.kind is CouponKind.AMOUNT and coupon.currency != offering.currency:
        raise unknown
    if not coupon.all_offerings:
        listed = db.session.scalar(
            sa.select(sa.literal(True)).where(
                coupon_offerings.c.coupon_id == coupon.id, coupon_offerings.c.course_id == offering.id
            )
        )
        if not listed:
            raise unknown
    return coupon


def used_pairs() -> sa.Select:
    """(coupon, learner, offering, paid) for every use of every coupon: settled orders and payments on their way
    (paid 1), and checkouts still open (paid 0, given back if they lapse)."""
    now = utcnow()
    settled = sa.case((sa.or_(Order.status.in_(SETTLED_STATUSES), Order.payment_intent_id.is_not(None)), 1), else_=0)
    return (
        sa.select(
            Order.coupon_id.label("coupon_id"),
            Order.learner_id.label("learner_id"),
            Order.offering_id.label("offering_id"),
            sa.func.max(settled).label("paid"),
        )
        .where(
            Order.coupon_id.is_not(None),
            sa.or_(
                Order.status.in_(SETTLED_STATUSES),
                sa.and_(
                    Order.status == OrderStatus.PENDING,
                    sa.or_(Order.expires_at > now, Order.payment_intent_id.is_not(None)),
                ),
            ),
        )
        .group_by(Order.coupon_id, Order.learner_id, Order.offering_id)
    )


def _check_uses(coupon: Coupon, learner_id: int | None, offering_id: int) -> None:
    """CouponError when the coupon has no use left for this learner (None: a visitor) and offering; one query."""
    if coupon.max_redemptions is None and coupon.max_per_learner is None:
        return
    pairs = used_pairs().where(Order.coupon_id == coupon.id).subquery()
    others = sa.not_(sa.and_(pairs.c.learner_id == learner_id, pairs.c.offering_id == offering_id))
    mine = sa.and_(pairs.c.learner_id == learner_id, others)
    row = db.session.execute(
        sa.select(
            sa.func.count().filter(others),
            sa.func.count().filter(mine),
            sa.func.count().filter(mine, pairs.c.paid == 1),
        ).select_from(pairs)
    ).one()
    used_by_others, used_by_me, paid_by_me = int(row[0]), int(row[1]), int(row[2])
    if coupon.max_redemptions is not None and used_by_others >= coupon.max_redemptions:
        raise CouponError(f"The code {coupon.code} has been used as many times as it allows.")
    if coupon.max_per_learner is not None and used_by_me >= coupon.max_per_learner:
        if paid_by_me < coupon.max_per_learner:
            # Their own open checkout for another offering holds the use: say so, and when it comes back.
            raise CouponError(
                f"You have a checkout open with the code {coupon.code} for another offering. Finish it there, "
                "or come back in half an hour, when an unpaid checkout lets the code go."
            )
        if coupon.max_per_learner == 1:
            raise CouponError(f"You've already used the code {coupon.code}.")
        raise CouponError(f"You've already used the code {coupon.code} as many times as it allows one person.")


def coupon_offer(offering: Offering, code: str, learner_id: int | None = None) -> CouponPrice:
    """What the code does to the offering's price, for its page; CouponError says why it can't be used.

    Read-only: the Buy button checks again under locks (`redeem`).
    """
    coupon = _applicable(offering, code, utcnow(), lock=False)
    _check_uses(coupon, learner_id, offering.id)
    return CouponPrice.of(coupon, offering.price_cents)


def redeem(offering: Offering, code: str, learner_id: int, list_cents: int) -> CouponPrice:
    """The coupon for a Buy, its row locked until commit so that concurrent Buys count uses one at a time.

    Call with the offering locked (the lock order is offering, then coupon, as everywhere).
    """
    coupon = _applicable(offering, code, utcnow(), lock=True)
    _check_uses(coupon, learner_id, offering.id)
    return CouponPrice.of(coupon, list_cents)
