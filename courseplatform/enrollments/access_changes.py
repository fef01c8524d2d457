"""Giving, pausing, ending and restoring access: every change goes through the transition table.

Functions flush and never commit: the caller's request commits once. A change that ends
access revokes the learner's certificate and offers the freed seat to the waitlist; nothing
here ever un-revokes a certificate (reissuing is the creator's explicit act).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..certificate_trail import record_certificate
from ..extensions import db
from ..models import (
    AccessEvent,
    Certificate,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Offering,
    OfferingKind,
    Order,
    OrderStatus,
    User,
    utcnow,
)
from .seats import SEAT_HOLDING, Seats, has_seat, lock_offering, seats
from .states import AccessRefused, AccessState, next_status, state_of
from .waitlist import offer_open_seats

SOURCES = {
    AccessEvent.PURCHASE: EnrollmentSource.PURCHASE,
    AccessEvent.FREE: EnrollmentSource.FREE,
    AccessEvent.COMP: EnrollmentSource.COMP,
    AccessEvent.IMPORT: EnrollmentSource.IMPORT,
}


class NoSeat(Exception):
    """Every seat of the live workshop is taken."""


@dataclass(frozen=True)
class Change:
    enrollment: Enrollment | None
    changed: bool  # False: the event changed nothing (a repeat, or access that was there already)
    before: AccessState


def enrollment_of(user_id: int, offering_id: int, *, lock: bool = False) -> Enrollment | None:
    statement = sa.select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.offering_id == offering_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(statement)


def giving_order(order: Order) -> int | sa.ScalarSelect[int]:
    """The order whose enrollments this order answers for: itself, or for a payment plan's or a membership's
    later payment, its first one (to compare with `Enrollment.order_id`)."""
    if order.plan_id is None or order.instalment == 1:
        return order.id
    return sa.select(Order.id).where(Order.plan_id == order.plan_id, Order.instalment == 1).scalar_subquery()


def enrollments_for_order(order: Order) -> list[Enrollment]:
    """The enrollments this order gave (locked until commit, in id order): one, a bundle's several, or none."""
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .where(Enrollment.order_id == giving_order(order))
            .order_by(Enrollment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


class SeatBudget:
    """The free seats of a workshop counted once, for a list of grants in one request."""

    def __init__(self, offering: Offering) -> None:
        found = seats(offering)
        self.left = found.left

    def take(self) -> None:
        if self.left is not None:
            if self.left <= 0:
                raise NoSeat
            self.left -= 1


def grant(
    user: User,
    offering: Offering,
    event: AccessEvent,
    order: Order | None = None,
    *,
    budget: SeatBudget | None = None,
) -> Change:
    """Give `user` access by purchase, free sign-up, complimentary grant or import.

    Raises AccessRefused when the table forbids it (a paused learner, a refunded learner
    added by a list, a chargeback buying again) and NoSeat when the workshop is full.
    Access that was there already changes nothing (a purchase is linked to it if it had none).
    """
    enrollment = enrollment_of(user.id, offering.id, lock=True)
    before = state_of(enrollment)
    target = next_status(enrollment, event)
    if target is None:
        if enrollment is not None and order is not None and enrollment.is_active and enrollment.order_id is None:
            enrollment.order_id = order.id
        return Change(enrollment, False, before)
    _take_seat(offering, budget, user.id)
    if enrollment is None:
        enrollment = _insert(user, offering, event, order)
        if enrollment is not None:
            return Change(enrollment, True, before)
        # Someone enrolled the same person a moment ago: apply the event to theirs.
        return grant(user, offering, event, order, budget=budget)
    enrollment.source = SOURCES[event]
    enrollment.order_id = order.id if order else None
    enrollment.enrolled_at = utcnow()
    _move(enrollment, target, event)
    return Change(enrollment, True, before)


def _take_seat(offering: Offering, budget: SeatBudget | None, learner_id: int) -> None:
    """A seat for this learner (their own pending checkouts count as it); NoSeat when the workshop is full.

    The workshop's row is locked before counting (a budget's caller locked it already), so a
    checkout, a grant and a restore wanting the last seat take turns instead of all getting it.
    """
    if budget is not None:
        budget.take()
        return
    if offering.kind is OfferingKind.LIVE_WORKSHOP:
        lock_offering(offering.id)
    if not has_seat(offering, for_learner=learner_id):
        raise NoSeat


def _insert(user: User, offering: Offering, event: AccessEvent, order: Order | None) -> Enrollment | None:
    try:
        with db.session.begin_nested():
            enrollment = Enrollment(
                user_id=user.id,
                offering_id=offering.id,
                source=SOURCES[event],
                reason=event,
                order_id=order.id if order else None,
            )
            db.session.add(enrollment)
        return enrollment
    except IntegrityError:
        return None


def restore(enrollment: Enrollment) -> Change:
    """The creator gives ended access back, knowingly: a paid order still standing keeps its link,
    anything else becomes complimentary. Raises NoSeat or AccessRefused."""
    before = state_of(enrollment)
    target = next_status(enrollment, AccessEvent.RESTORE)
    if target is None:
        return Change(enrollment, False, before)
    _take_seat(enrollment.offering, None, enrollment.user_id)
    order = enrollment.order
    if order is None or order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        enrollment.order_id = None
        if enrollment.source is EnrollmentSource.PURCHASE:
            enrollment.source = EnrollmentSource.COMP
    _move(enrollment, target, AccessEvent.RESTORE)
    return Change(enrollment, True, before)


def apply(enrollment: Enrollment | None, event: AccessEvent) -> Change:
    """Payment news or the creator's revoke applied to an existing enrollment (None: nothing to change)."""
    before = state_of(enrollment)
    target = next_status(enrollment, event)
    if target is None or enrollment is None:
        return Change(enrollment, False, before)
    _move(enrollment, target, event)
    return Change(enrollment, True, before)


def revoke(enrollment: Enrollment) -> Change:
    """The studio's Revoke: the learner loses access at once (no money moves; refund separately)."""
    return apply(enrollment, AccessEvent.CREATOR_REVOKE)


def _move(enrollment: Enrollment, target: EnrollmentStatus, event: AccessEvent) -> None:
    held_seat = enrollment.status in SEAT_HOLDING
    enrollment.status = target
    enrollment.reason = event
    if target is EnrollmentStatus.REVOKED:
        enrollment.revoked_at = utcnow()
        _revoke_certificate(enrollment, event)
    elif target is EnrollmentStatus.ACTIVE:
        enrollment.revoked_at = None
    db.session.flush()
    if target is EnrollmentStatus.REVOKED:
        _stop_plan_of(enrollment)
    if held_seat and target not in SEAT_HOLDING:
        offer_open_seats(enrollment.offering)


def _stop_plan_of(enrollment: Enrollment) -> None:
    """Access paid by a payment plan ended (refunded, charged back, revoked): no instalment is taken after it."""
    order = enrollment.order
    if order is None or order.plan_id is None:
        return
    still = db.session.scalar(  # a bundle's other offerings the plan still pays for
        sa.select(sa.func.count())
        .select_from(Enrollment)
        .where(Enrollment.order_id == order.id, Enrollment.status != EnrollmentStatus.REVOKED)
    )
    if not still:
        from ..checkout.plans import stop_plan

        stop_plan(order.plan_id, "Access ended, so the plan stopped.")


def _revoke_certificate(enrollment: Enrollment, event: AccessEvent) -> None:
    """The certificate stops counting with the access, and its trail says why."""
    certificate = db.session.scalar(
        sa.select(Certificate).where(Certificate.enrollment_id == enrollment.id, Certificate.revoked_at.is_(None))
    )
    if certificate is None:
        return
    certificate.revoked_at = utcnow()
    record_certificate(certificate, "revoked", f"Access ended: {event.value.replace('_', ' ')}.", actor=_person())


def reissue_certificate(certificate: Certificate) -> bool:
    """The creator's explicit Reissue: a revoked certificate counts again, if the learner has access now.

    The enrollment is locked and read afresh, so a refund or revoke ending access at the same
    moment either comes first (no reissue) or after (and revokes the certificate again).
    """
    enrollment = enrollment_of(certificate.enrollment.user_id, certificate.enrollment.offering_id, lock=True)
    if certificate.revoked_at is None or enrollment is None or not enrollment.is_active:
        return False
    certificate.revoked_at = None
    certificate.reissued_at = utcnow()
    db.session.flush()
    record_certificate(certificate, "reissued", f"{certificate.number} counts again.", actor=_person())
    return True


def _person() -> User | None:
    """Who is acting, for the certificate's trail: the signed-in creator or operator, or no one (a webhook, a job)."""
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


__all__ = [
    "AccessRefused",
    "Change",
    "NoSeat",
    "SeatBudget",
    "Seats",
    "apply",
    "enrollment_of",
    "enrollments_for_order",
    "giving_order",
    "grant",
    "reissue_certificate",
    "restore",
    "revoke",
]
