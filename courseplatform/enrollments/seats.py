"""Seats in a live workshop: one function says how many there are, how many are taken, and
whether one can be sold, for the public page, checkout, the studio and the waitlist alike.

An enrollment covers every session of a workshop, so the workshop's capacity is the smallest
capacity among its upcoming sessions. A seat is taken by an active learner, by a learner
paused while a dispute is open (their seat comes back with the dispute), and by a pending
checkout that still holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Enrollment,
    EnrollmentStatus,
    Offering,
    OfferingKind,
    Order,
    OrderStatus,
    bundle_items,
    utcnow,
)

SEAT_HOLDING = (EnrollmentStatus.ACTIVE, EnrollmentStatus.SUSPENDED)


@dataclass(frozen=True)
class Seats:
    capacity: int | None  # None: no limit
    taken: int
    upcoming_dates: int = 0  # sessions still to come (a workshop without any can't be joined)

    @property
    def left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.taken, 0)

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self.taken >= self.capacity


def holding_orders(offering_id: int) -> sa.Select:
    """Pending orders that hold a seat: a checkout still open, or a delayed payment on its way, for the
    workshop or for a membership giving it (a consultation group's seat is held by a checkout to join)."""
    memberships = (
        sa.select(bundle_items.c.bundle_id)
        .join(Offering, Offering.id == bundle_items.c.bundle_id)
        .where(bundle_items.c.item_id == offering_id, Offering.kind == OfferingKind.MEMBERSHIP)
    )
    return sa.select(Order.id, Order.learner_id).where(
        sa.or_(Order.offering_id == offering_id, Order.offering_id.in_(memberships)),
        Order.status == OrderStatus.PENDING,
        sa.or_(Order.expires_at > utcnow(), Order.payment_intent_id.is_not(None)),
    )


def seats(offering: Offering, *, for_learner: int | None = None) -> Seats:
    """The workshop's capacity and the seats taken (unlimited for anything but a live workshop).

    Pending checkouts hold one seat per learner, however many they opened (a sliding scale
    lets them open one per amount); `for_learner`'s own holds are left out, as the seat they
    are about to take. One query for the count, plus one for the sessions unless loaded.
    """
    if offering.kind is not OfferingKind.LIVE_WORKSHOP:
        return Seats(None, 0)
    now = utcnow()
    upcoming = [session for session in offering.live_sessions if session.is_upcoming(now)]
    capacity = min((s.capacity for s in upcoming if s.capacity is not None), default=None)
    enrolled = (
        sa.select(sa.func.count(Enrollment.id))
        .where(Enrollment.offering_id == offering.id, Enrollment.status.in_(SEAT_HOLDING))
        .scalar_subquery()
    )
    holds = holding_orders(offering.id)
    if for_learner is not None:
        holds = holds.where(Order.learner_id != for_learner)
    holding = holds.subquery()
    held = sa.select(sa.func.count(sa.distinct(holding.c.learner_id))).scalar_subquery()
    taken = db.session.scalar(sa.select(enrolled + held))
    return Seats(capacity, int(taken or 0), len(upcoming))


def has_seat(offering: Offering, *, for_learner: int | None = None) -> bool:
    """Whether one more learner (`for_learner`, whose own pending checkouts don't count) fits."""
    return not seats(offering, for_learner=for_learner).is_full


def lock_offering(offering_id: int) -> Offering:
    """The offering's row, locked until commit: seat counts and sales for it happen one at a time."""
    return db.session.scalars(
        sa.select(Offering)
        .where(Offering.id == offering_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def is_buyable(offering: Offering, found: Seats | None = None) -> bool:
    """Whether a visitor could sign up right now: published, open, (for a workshop) a date with a free seat, and
    (for a bundle or a membership) everything it holds for sale."""
    if not offering.is_listed or offering.waitlist_only:
        return False
    if offering.holds_offerings:
        from ..bundles import bundle_problems  # bundles reads seats: imported here, when needed

        return not bundle_problems(offering)  # a bundle or membership that can't be sold can't be bought
    if offering.kind is not OfferingKind.LIVE_WORKSHOP:
        return True
    found = found or seats(offering)
    return found.upcoming_dates > 0 and not found.is_full
