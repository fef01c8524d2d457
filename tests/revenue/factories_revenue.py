"""Factories for the revenue view's tests: session income, refunds, and sales with their fees."""

from __future__ import annotations

from datetime import date, datetime

import factory

from courseplatform.models import (
    Course,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Order,
    OrderStatus,
    PayerKind,
    Refund,
    SessionIncome,
    SessionIncomeSource,
    User,
)

from ..factories import Base, CreatorProfileFactory, EnrollmentFactory, OrderFactory, UserFactory


class SessionIncomeFactory(Base):
    class Meta:
        model = SessionIncome

    creator = factory.SubFactory(CreatorProfileFactory)
    session_date = date(2025, 1, 15)
    sessions = 1
    minutes_each = 50
    amount_cents = 15000
    currency = "USD"
    payer_kind = PayerKind.SELF_PAY
    source = SessionIncomeSource.MANUAL


class RefundFactory(Base):
    class Meta:
        model = Refund

    amount_cents = 1000
    platform_fee_refunded_cents = 0


def sale(
    course: Course,
    amount: int,
    paid_at: datetime,
    *,
    processor_fee: int = 0,
    platform_fee: int = 0,
    status: OrderStatus = OrderStatus.PAID,
    learner: User | None = None,
) -> Order:
    """A settled order with its fees, as checkout records it."""
    return OrderFactory(
        course=course,
        learner=learner or UserFactory(),
        amount_cents=amount,
        processor_fee_cents=processor_fee,
        platform_fee_cents=platform_fee,
        net_cents=amount - processor_fee - platform_fee,
        status=status,
        paid_at=paid_at,
        created_at=paid_at,
    )


def refund(order: Order, amount: int, platform_fee_back: int, when: datetime) -> Refund:
    """Money given back on `order` at `when`; the order's status and running total follow."""
    order.refunded_cents += amount
    order.refunded_at = when
    order.status = (
        OrderStatus.REFUNDED if order.refunded_cents == order.amount_cents else OrderStatus.PARTIALLY_REFUNDED
    )
    return RefundFactory(
        order=order, amount_cents=amount, platform_fee_refunded_cents=platform_fee_back, created_at=when
    )


def learner(
    course: Course, *, completed: datetime | None = None, status: EnrollmentStatus = EnrollmentStatus.ACTIVE
) -> Enrollment:
    """Someone enrolled in `course`, perhaps finished, perhaps no longer with access."""
    return EnrollmentFactory(course=course, source=EnrollmentSource.FREE, status=status, completed_at=completed)
