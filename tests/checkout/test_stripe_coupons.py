"""Coupons through Stripe Checkout: Stripe shows and charges the discounted amount, and the fee follows it."""

from __future__ import annotations

from courseplatform.extensions import db
from courseplatform.models import CreatorProfile, EnrollmentStatus, OrderStatus

from ..factories import PASSWORD, CouponFactory, UserFactory
from .test_stripe_checkout import buy, enrollment_of, orders_of


def test_a_coupon_is_a_one_use_stripe_coupon_for_the_discount_and_the_fee_is_on_what_is_paid(
    web, webhooks, connected_offering
):
    CouponFactory(creator=connected_offering.creator, code="SPRING", amount=True, amount_off_cents=1500)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    answer = buy(web, connected_offering, coupon="spring")

    (order,) = orders_of(learner)
    fake = webhooks.fake
    (session,) = fake.sessions.values()
    assert answer.status_code == 303 and answer.headers["Location"] == session["url"]
    (coupon,) = fake.coupons.values()
    assert (coupon["amount_off"], coupon["currency"], coupon["duration"], coupon["max_redemptions"]) == (
        1500,
        "usd",
        "once",
        1,
    )
    assert coupon["name"] == "SPRING"
    (created,) = fake.find_requests("POST", "/v1/coupons")
    assert created.idempotency_key == f"aqueduct-coupon-order-{order.id}"
    # Stripe's page shows the list price, the code's discount and what is charged.
    assert (session["amount_subtotal"], session["total_details"]["amount_discount"], session["amount_total"]) == (
        4900,
        1500,
        3400,
    )
    assert session["discounts"] == [{"coupon": coupon["id"], "promotion_code": None}]
    assert fake.payment_intent_data(session["id"])["application_fee_amount"] == 340

    paid = fake.complete_session(session["id"])
    _, response = webhooks.send("checkout.session.completed", paid)

    assert response.json["outcome"] == "enrolled"
    db.session.refresh(order)
    charge = fake.charges[order.charge_id]
    assert charge["amount"] == 3400 and charge["application_fee_amount"] == 340
    assert (order.status, order.amount_cents, order.discount_cents, order.platform_fee_cents) == (
        OrderStatus.PAID,
        3400,
        1500,
        340,
    )
    assert fake.coupons[coupon["id"]]["valid"] is False  # used once, as made


def test_pressing_buy_again_reuses_the_checkout_and_its_stripe_coupon(web, webhooks, connected_offering):
    CouponFactory(creator=connected_offering.creator, code="AGAIN", percent_off=10)
    web.login(UserFactory().email, PASSWORD)

    first = buy(web, connected_offering, coupon="AGAIN")
    second = buy(web, connected_offering, coupon="AGAIN")
    without = buy(web, connected_offering)

    assert first.headers["Location"] == second.headers["Location"] != without.headers["Location"]
    assert len(webhooks.fake.find_requests("POST", "/v1/coupons")) == 1
    assert len(webhooks.fake.sessions) == 2


def test_a_100_percent_coupon_enrols_without_asking_stripe_anything_even_before_the_creator_connects(
    web, stripe_api, connected_offering
):
    creator: CreatorProfile = connected_offering.creator
    creator.stripe_charges_enabled = False  # Stripe hasn't finished checking them: nothing can be charged yet
    CouponFactory(creator=creator, code="REVIEWER", percent_off=100)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    answer = buy(web, connected_offering, coupon="REVIEWER")
    charged = buy(web, connected_offering)  # without the code: still refused, as before

    (order,) = orders_of(learner)
    assert answer.status_code == 302 and "/learn/" in answer.headers["Location"]
    assert charged.status_code == 302
    assert (order.status, order.amount_cents, order.discount_cents, order.checkout_id) == (
        OrderStatus.PAID,
        0,
        4900,
        None,
    )
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.ACTIVE
    assert stripe_api.requests == []


def test_a_checkout_that_charged_less_than_the_coupon_leaves_is_booked_with_what_was_paid(
    web, webhooks, connected_offering
):
    """Stripe's amounts are the truth: a subtotal other than the list price is not booked at all."""
    CouponFactory(creator=connected_offering.creator, code="TEN", percent_off=10)
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering, coupon="TEN")
    (order,) = orders_of(learner)
    session = webhooks.fake.sessions[order.checkout_id]
    paid = webhooks.fake.complete_session(order.checkout_id)
    altered = {**paid, "amount_subtotal": 4410, "amount_total": 4410, "total_details": session["total_details"]}

    _, response = webhooks.send("checkout.session.completed", altered)

    assert response.json["outcome"] == "mismatch"
    db.session.refresh(order)
    assert order.status is OrderStatus.PENDING
