"""Buying through Stripe Checkout: the real stripe library against the fake Stripe API over HTTP."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from courseplatform.checkout.services import RefundError, refund_order
from courseplatform.extensions import db
from courseplatform.models import Enrollment, EnrollmentStatus, Order, OrderStatus, PaymentProvider

from ..factories import PASSWORD, OfferingFactory, UserFactory


def buy(web, offering, **data):
    url = f"/courses/{offering.slug}"
    return web.submit(f"{url}/checkout", data, form_url=url, follow_redirects=False)


def orders_of(user) -> list[Order]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Order).where(Order.learner_id == user.id).order_by(Order.id)))


def enrollment_of(user, offering) -> Enrollment | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Enrollment).filter_by(user_id=user.id, offering_id=offering.id))


def flashed(client, offering) -> str:
    return html.unescape(client.get(f"/courses/{offering.slug}").get_data(as_text=True))


def test_buy_creates_a_checkout_session_as_stripe_expects(web, stripe_api, connected_offering):
    learner = UserFactory(email="ana@example.org")
    web.login(learner.email, PASSWORD)

    response = buy(web, connected_offering)

    [order] = orders_of(learner)
    [session] = stripe_api.sessions.values()
    assert response.status_code == 303
    assert response.headers["Location"] == session["url"]
    assert order.provider is PaymentProvider.STRIPE
    assert order.status is OrderStatus.PENDING
    assert order.checkout_id == session["id"]
    assert session["mode"] == "payment"
    assert session["client_reference_id"] == str(order.id)
    assert session["metadata"]["order_id"] == str(order.id)
    assert session["customer_email"] == "ana@example.org"
    # Discounts are Aqueduct's own coupons (the same rules in test mode): Stripe's promotion codes are off.
    assert session["allow_promotion_codes"] is None
    assert session["discounts"] == []
    assert session["amount_total"] == 4900
    # The site's own address (BASE_URL), never the Host the request claimed.
    assert session["success_url"] == "http://aqueduct.test/checkout/success?session_id={CHECKOUT_SESSION_ID}"
    assert session["cancel_url"] == f"http://aqueduct.test/checkout/cancel?order={order.id}"
    assert session["expires_at"] == int(order.expires_at.timestamp())
    intent = stripe_api.payment_intent_data(session["id"])
    assert intent["application_fee_amount"] == 490
    assert intent["transfer_data"]["destination"] == connected_offering.creator.stripe_account_id
    [create] = stripe_api.find_requests("POST", "/v1/checkout/sessions")
    assert create.idempotency_key == f"aqueduct-checkout-order-{order.id}"


def test_stripe_down_at_checkout_gives_a_clear_message_and_a_retry_works(client, web, stripe_api, connected_offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    stripe_api.go_down()

    response = buy(web, connected_offering)

    assert response.headers["Location"] == f"/courses/{connected_offering.slug}#enrol"
    assert "We couldn't reach our payment processor. Nothing was charged" in flashed(client, connected_offering)
    [failed] = orders_of(learner)
    assert failed.status is OrderStatus.FAILED
    assert enrollment_of(learner, connected_offering) is None

    stripe_api.come_back()
    retry = buy(web, connected_offering)

    assert retry.status_code == 303
    assert retry.headers["Location"].startswith(stripe_api.url + "/pay/")
    assert [o.status for o in orders_of(learner)] == [OrderStatus.FAILED, OrderStatus.PENDING]
    assert enrollment_of(learner, connected_offering) is None


def test_a_stripe_error_at_checkout_gives_a_clear_message_and_leaves_nothing_half_made(
    client, web, stripe_api, connected_offering
):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    stripe_api.fail_next(status=500)

    buy(web, connected_offering)

    assert "Our payment processor had a problem. Nothing was charged" in flashed(client, connected_offering)
    assert [o.status for o in orders_of(learner)] == [OrderStatus.FAILED]
    assert enrollment_of(learner, connected_offering) is None
    assert buy(web, connected_offering).status_code == 303


def test_the_success_page_fulfils_when_the_webhook_is_late(client, web, stripe_api, connected_offering, mailbox):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    stripe_api.complete_session(order.checkout_id, fee=172)

    response = client.get(f"/checkout/success?session_id={order.checkout_id}", follow_redirects=True)

    assert response.request.path == f"/learn/{connected_offering.slug}"
    assert "Payment received. You're enrolled in Grounding skills" in html.unescape(response.get_data(as_text=True))
    [order] = orders_of(learner)
    assert order.status is OrderStatus.PAID
    assert order.payment_intent_id.startswith("pi_") and order.charge_id.startswith("ch_")
    assert (order.processor_fee_cents, order.processor_fee_estimated) == (172, False)
    assert order.platform_fee_cents == 490
    assert order.net_cents == 4900 - 172 - 490
    assert enrollment_of(learner, connected_offering).is_active
    assert [m["Subject"] for m in mailbox.messages] == ["Your receipt for Grounding skills"]


def test_a_delayed_payment_shows_processing_then_enrols_when_it_clears(client, web, webhooks, connected_offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    session = webhooks.fake.complete_session(order.checkout_id, paid=False)

    page = html.unescape(client.get(f"/checkout/success?session_id={order.checkout_id}").get_data(as_text=True))

    assert "Your payment is processing" in page
    assert enrollment_of(learner, connected_offering) is None
    assert orders_of(learner)[0].is_processing
    assert "Processing" in client.get("/account/orders").get_data(as_text=True)

    webhooks.send("checkout.session.completed", session)
    assert enrollment_of(learner, connected_offering) is None
    settled = webhooks.fake.settle_async(order.checkout_id, succeeded=True)
    webhooks.send("checkout.session.async_payment_succeeded", settled)

    assert orders_of(learner)[0].status is OrderStatus.PAID
    assert enrollment_of(learner, connected_offering).is_active


def test_a_failed_delayed_payment_tells_the_learner_and_frees_nothing_twice(
    client, web, webhooks, connected_offering, mailbox
):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    session = webhooks.fake.complete_session(order.checkout_id, paid=False)
    webhooks.send("checkout.session.completed", session)
    failed = webhooks.fake.settle_async(order.checkout_id, succeeded=False)

    webhooks.send("checkout.session.async_payment_failed", failed)

    assert orders_of(learner)[0].status is OrderStatus.FAILED
    assert enrollment_of(learner, connected_offering) is None
    assert mailbox.messages[-1]["Subject"] == "Your payment for Grounding skills didn't go through"
    status = html.unescape(client.get(f"/checkout/success?session_id={order.checkout_id}").get_data(as_text=True))
    assert "This payment didn't go through" in status


def test_cancelling_expires_the_stripe_session_so_it_cannot_be_paid_later(client, web, stripe_api, connected_offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)

    client.get(f"/checkout/cancel?order={order.id}")

    assert stripe_api.sessions[order.checkout_id]["status"] == "expired"
    assert orders_of(learner)[0].status is OrderStatus.EXPIRED


def test_a_creator_who_cannot_take_charges_cannot_sell(client, web, stripe_api):
    offering = OfferingFactory(price_cents=4900)  # creator never connected Stripe
    learner = UserFactory()
    web.login(learner.email, PASSWORD)

    buy(web, offering)

    assert "This offering can't take payments right now." in flashed(client, offering)
    assert orders_of(learner) == []
    assert stripe_api.requests == []


def test_refunded_learners_lose_access_and_can_buy_again(client, web, webhooks, connected_offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))
    charge = webhooks.fake.refund_outside_app(orders_of(learner)[0].payment_intent_id)
    webhooks.send("charge.refunded", charge)
    assert enrollment_of(learner, connected_offering).status is EnrollmentStatus.REVOKED

    again = buy(web, connected_offering)

    assert again.status_code == 303
    assert [o.status for o in orders_of(learner)] == [OrderStatus.REFUNDED, OrderStatus.PENDING]


def test_a_stripe_order_is_never_refunded_without_stripe(app, web, webhooks, connected_offering):
    learner = UserFactory()
    web.login(learner.email, PASSWORD)
    buy(web, connected_offering)
    [order] = orders_of(learner)
    webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id))
    order = orders_of(learner)[0]
    app.config["STRIPE_SECRET_KEY"] = ""  # a deploy that lost its key
    try:
        with pytest.raises(RefundError, match="Stripe isn't configured here, so nothing was changed"):
            refund_order(order, 4900, by=connected_offering.creator.user)
    finally:
        app.config["STRIPE_SECRET_KEY"] = "sk_test_aqueduct"
    order = orders_of(learner)[0]
    assert (order.status, order.refunded_cents) == (OrderStatus.PAID, 0)
    assert enrollment_of(learner, connected_offering).is_active
    assert webhooks.fake.find_requests("POST", "/v1/refunds") == []
