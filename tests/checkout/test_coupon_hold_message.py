"""A use held by a payment already on its way is a use: the learner isn't told to come back when it lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from courseplatform.checkout.coupons import CouponError, coupon_offer
from courseplatform.extensions import db
from courseplatform.models import OrderStatus, PaymentProvider, utcnow

from ..factories import CouponFactory, CreatorProfileFactory, UserFactory
from ..factories.orders import OrderFactory
from .test_test_mode_checkout import offering_with_lesson


def test_a_use_held_by_a_bank_debit_on_its_way_is_not_said_to_come_back_in_half_an_hour(app):
    creator = CreatorProfileFactory()
    first, _ = offering_with_lesson(creator=creator, price_cents=12000, title="First")
    second, _ = offering_with_lesson(creator=creator, price_cents=4000, title="Second")
    coupon = CouponFactory(creator=creator, code="ONCE", max_per_learner=1)
    learner = UserFactory()
    # Checkout finished with a delayed method (SEPA/ACH): pending with its payment intent, hold time long gone.
    OrderFactory(
        learner=learner,
        offering=first,
        coupon_id=coupon.id,
        discount_cents=3000,
        amount_cents=9000,
        provider=PaymentProvider.STRIPE,
        status=OrderStatus.PENDING,
        paid_at=None,
        payment_intent_id="pi_processing",
        expires_at=utcnow() - timedelta(hours=2),
    )
    db.session.flush()

    with pytest.raises(CouponError) as refused:
        coupon_offer(second, "ONCE", learner.id)

    # The use will not come back: the payment is on its way, not an unpaid checkout that lapses.
    assert "come back in half an hour" not in refused.value.message
