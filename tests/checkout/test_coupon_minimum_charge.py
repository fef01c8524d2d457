"""A coupon never leaves a price Stripe can't charge: above zero but below its minimum (50 cents).

Stripe refuses a Checkout Session whose total is above zero and under the minimum
(https://stripe.com/docs/currencies#minimum-and-maximum-charge-amounts), as the studio refuses
such a price. A discount that would leave less leaves the minimum instead; 100 % codes skip Stripe.
"""

from __future__ import annotations

from ..factories import PASSWORD, CouponFactory, UserFactory
from .test_stripe_checkout import buy, orders_of
from .test_test_mode_checkout import buy as buy_in_test_mode
from .test_test_mode_checkout import offering_with_lesson
from .test_test_mode_checkout import orders_of as orders_in_test_mode

STRIPE_MINIMUM_CENTS = 50  # USD, as the studio's own price rule


def test_a_coupon_never_sends_stripe_a_total_under_its_minimum_charge(web, stripe_api, connected_offering):
    # $49.00 list price, $48.80 off: $0.20 left to pay.
    CouponFactory(creator=connected_offering.creator, code="ALMOSTFREE", amount=True, amount_off_cents=4880)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    buy(web, connected_offering, coupon="ALMOSTFREE")

    totals = [session["amount_total"] for session in stripe_api.sessions.values()]
    # Real Stripe refuses such a session; the learner meets "our payment processor had a problem".
    assert all(total == 0 or total >= STRIPE_MINIMUM_CENTS for total in totals), totals
    assert not [o.amount_cents for o in orders_of(learner) if 0 < o.amount_cents < STRIPE_MINIMUM_CENTS]


def test_a_99_percent_code_on_a_49_dollar_course_is_not_priced_at_49_cents(client, web):
    course, _ = offering_with_lesson(price_cents=4900)
    CouponFactory(creator=course.creator, code="NINETYNINE", percent_off=99)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    buy_in_test_mode(web, course, coupon="NINETYNINE")

    priced = [o.amount_cents for o in orders_in_test_mode(learner)]
    assert not [amount for amount in priced if 0 < amount < STRIPE_MINIMUM_CENTS], priced
