"""Orders and checkout: paid orders, their fees, and refunds."""

from __future__ import annotations

from datetime import datetime

import factory

from courseplatform.models import (
    Coupon,
    CouponKind,
    Offering,
    Order,
    OrderStatus,
    PaymentProvider,
    Refund,
    User,
    utcnow,
)

from .accounts import CreatorProfileFactory, UserFactory
from .base import Base
from .catalog import OfferingFactory


class OrderFactory(Base):
    class Meta:
        model = Order

    learner = factory.SubFactory(UserFactory)
    offering = factory.SubFactory(OfferingFactory)
    amount_cents = factory.LazyAttribute(lambda o: o.offering.price_cents)
    currency = "USD"
    provider = PaymentProvider.TEST
    status = OrderStatus.PAID
    checkout_id = factory.Sequence(lambda n: f"test_cs_{n}")
    paid_at = factory.LazyFunction(utcnow)


class CouponFactory(Base):
    """A creator's code: 25 % off all their offerings, once per learner, by default."""

    class Meta:
        model = Coupon

    creator = factory.SubFactory(CreatorProfileFactory)
    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = CouponKind.PERCENT
    percent_off = 25
    max_per_learner = 1

    class Params:
        amount = factory.Trait(kind=CouponKind.AMOUNT, percent_off=None, amount_off_cents=1000, currency="USD")


class RefundFactory(Base):
    class Meta:
        model = Refund

    amount_cents = 1000
    platform_fee_refunded_cents = 0


def sale(
    offering: Offering,
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
        offering=offering,
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
