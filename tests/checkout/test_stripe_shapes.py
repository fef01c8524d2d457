"""Stripe's real object shapes, replayed through the fake over HTTP with signed webhooks.

Refunds that are pending and later succeed, fail or are canceled; every dispute status;
a fee settled in another currency; promotion codes and Adaptive Pricing at checkout; and
events from another API version.
"""

from __future__ import annotations

import html
import logging

import pytest
import sqlalchemy as sa
import stripe

from courseplatform.extensions import db
from courseplatform.integrations import payments, stripe_events
from courseplatform.models import EnrollmentStatus, OrderStatus, ProviderEvent, Refund, RefundStatus

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from ..helpers import csrf_token_from
from .conftest import opened_before_coupons
from .test_webhooks import access_of, checkout, fresh, paid_order


def refunds_of(order) -> list[tuple[int, RefundStatus]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))
    return [(r.amount_cents, r.status) for r in rows]


def page(client, url: str) -> str:
    return html.unescape(client.get(url).get_data(as_text=True))


def log_in_as(web, email: str) -> None:
    if 'action="/logout"' in web.client.get("/courses").get_data(as_text=True):
        web.logout()
    web.login(email, PASSWORD)


def learner_orders_page(web, order) -> str:
    log_in_as(web, order.learner.email)
    return page(web.client, "/account/orders")


def creator_ledger(web, offering) -> str:
    log_in_as(web, offering.creator.user.email)
    return page(web.client, "/studio/payouts")


# ---------------------------------------------------------------------------
# Refunds follow their own status
# ---------------------------------------------------------------------------


def test_a_pending_refund_is_shown_pending_keeps_access_and_counts_once_it_succeeds(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    charge = webhooks.fake.refund_outside_app(order.payment_intent_id, status="pending")

    _, response = webhooks.send("charge.refunded", charge)  # no refunds inside: the app lists them from Stripe

    assert response.status_code == 200
    assert webhooks.fake.find_requests("GET", "/v1/refunds")[0].params["charge"] == order.charge_id
    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PAID, 0)
    assert refunds_of(order) == [(4900, RefundStatus.PENDING)]
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert "refund pending" in learner_orders_page(web, order)
    assert "refund pending" in creator_ledger(web, connected_offering)

    [refund_id] = webhooks.fake.refunds
    webhooks.send("refund.updated", webhooks.fake.settle_refund(refund_id, "succeeded"))

    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.REFUNDED, 4900)
    assert refunds_of(order) == [(4900, RefundStatus.SUCCEEDED)]
    assert access_of(order) is EnrollmentStatus.REVOKED
    assert "refund pending" not in learner_orders_page(web, order)


@pytest.mark.parametrize(("event_type", "outcome"), [("refund.failed", "failed"), ("refund.updated", "canceled")])
def test_a_pending_refund_that_fails_or_is_canceled_gives_nothing_back(
    web, webhooks, connected_offering, event_type, outcome
):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.send("refund.created", next(iter(_pending_refunds(webhooks, order))))

    [refund_id] = webhooks.fake.refunds
    webhooks.send(event_type, webhooks.fake.settle_refund(refund_id, outcome))

    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PAID, 0)
    assert refunds_of(order) == [(4900, RefundStatus(outcome))]
    assert access_of(order) is EnrollmentStatus.ACTIVE
    assert "refund pending" not in learner_orders_page(web, order)


def _pending_refunds(webhooks, order) -> list[dict]:
    webhooks.fake.refund_outside_app(order.payment_intent_id, status="pending")
    return list(webhooks.fake.refunds.values())


def test_a_refund_that_fails_after_succeeding_gives_the_money_and_the_access_back(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    charge = webhooks.fake.refund_outside_app(order.payment_intent_id, with_refunds=True)
    webhooks.send("charge.refunded", charge)  # refunds inside the charge: no need to ask Stripe
    assert webhooks.fake.find_requests("GET", "/v1/refunds") == []
    assert access_of(order) is EnrollmentStatus.REVOKED

    [refund_id] = webhooks.fake.refunds
    _, response = webhooks.send("charge.refund.updated", webhooks.fake.settle_refund(refund_id, "failed"))

    assert response.status_code == 200
    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PAID, 0)
    assert refunds_of(order) == [(4900, RefundStatus.FAILED)]
    assert access_of(order) is EnrollmentStatus.ACTIVE


def test_a_partial_refund_that_fails_leaves_the_order_paid(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id, 1000))
    assert fresh(order).status is OrderStatus.PARTIALLY_REFUNDED

    [refund_id] = webhooks.fake.refunds
    webhooks.send("refund.failed", webhooks.fake.settle_refund(refund_id, "failed"))

    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PAID, 0)
    assert order.refundable_cents == 4900


def test_a_studio_refund_stripe_leaves_pending_is_recorded_and_said_to_be_pending(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.fake.refunds_start_as("pending")
    log_in_as(web, connected_offering.creator.user.email)
    url = f"/studio/courses/{connected_offering.id}/orders/{order.id}/refund"
    form = web.client.get(url).get_data(as_text=True)

    response = web.client.post(
        url,
        data={"csrf_token": csrf_token_from(form), "amount": "49", "reason": "", "refunded_before": "0"},
        follow_redirects=True,
    )

    said = html.unescape(response.get_data(as_text=True))
    assert "Stripe is still processing" in said
    assert "access has ended" not in said
    order = fresh(order)
    assert (order.status, order.refunded_cents, order.refundable_cents) == (OrderStatus.PAID, 0, 0)
    assert refunds_of(order) == [(4900, RefundStatus.PENDING)]
    assert access_of(order) is EnrollmentStatus.ACTIVE

    # Its webhook, then its success, count it once.
    [refund] = webhooks.fake.refunds.values()
    webhooks.send("refund.created", refund)
    webhooks.send("refund.updated", webhooks.fake.settle_refund(refund["id"], "succeeded"))
    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.REFUNDED, 4900)
    assert refunds_of(order) == [(4900, RefundStatus.SUCCEEDED)]
    assert access_of(order) is EnrollmentStatus.REVOKED


def test_a_refund_event_before_the_completion_waits_for_it(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    webhooks.fake.refund_outside_app(session["payment_intent"], status="pending")
    [refund] = webhooks.fake.refunds.values()

    _, early = webhooks.send("refund.created", refund)
    assert early.json["outcome"] == "parked"
    webhooks.send("checkout.session.completed", session)

    assert refunds_of(order) == [(4900, RefundStatus.PENDING)]
    assert access_of(order) is EnrollmentStatus.ACTIVE


# ---------------------------------------------------------------------------
# Disputes follow Stripe's statuses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opened", "closed"),
    [
        ("needs_response", "won"),
        ("warning_needs_response", "warning_closed"),
        ("warning_needs_response", "prevented"),
        ("needs_response", "prevented"),
    ],
)
def test_a_dispute_closed_any_way_but_lost_gives_access_back(web, webhooks, connected_offering, opened, closed):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id, status=opened)
    webhooks.send("charge.dispute.created", dispute)
    assert (fresh(order).status, access_of(order)) == (OrderStatus.DISPUTED, EnrollmentStatus.SUSPENDED)

    webhooks.send("charge.dispute.closed", webhooks.fake.close_dispute(dispute["id"], closed))

    assert (fresh(order).status, access_of(order)) == (OrderStatus.PAID, EnrollmentStatus.ACTIVE)


def test_a_dispute_closed_with_a_status_stripe_adds_later_gives_access_back(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id)
    webhooks.send("charge.dispute.created", dispute)

    webhooks.send("charge.dispute.closed", {**dispute, "status": "withdrawn_by_network"})

    assert (fresh(order).status, access_of(order)) == (OrderStatus.PAID, EnrollmentStatus.ACTIVE)


def test_an_inquiry_that_moves_on_stays_paused_and_fund_movements_are_recorded_only(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id, status="warning_needs_response")
    webhooks.send("charge.dispute.created", dispute)

    _, moved = webhooks.send("charge.dispute.updated", webhooks.fake.update_dispute(dispute["id"], "needs_response"))
    _, withdrawn = webhooks.send("charge.dispute.funds_withdrawn", webhooks.fake.disputes[dispute["id"]])

    assert withdrawn.json["outcome"] == "ignored"
    assert (fresh(order).status, access_of(order)) == (OrderStatus.DISPUTED, EnrollmentStatus.SUSPENDED)
    assert moved.status_code == 200


def test_an_update_to_a_dispute_before_the_completion_stays_parked(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    charge_id = webhooks.fake.payment_intents[session["payment_intent"]]["latest_charge"]
    dispute = webhooks.fake.open_dispute(charge_id, status="warning_needs_response")

    _, early = webhooks.send("charge.dispute.updated", webhooks.fake.update_dispute(dispute["id"], "under_review"))
    assert early.json["outcome"] == "parked"
    webhooks.send("checkout.session.completed", session)

    assert (fresh(order).status, access_of(order)) == (OrderStatus.DISPUTED, EnrollmentStatus.SUSPENDED)


def test_a_lost_dispute_takes_back_its_own_amount_and_ends_access(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id, amount=2000)
    webhooks.send("charge.dispute.created", dispute)

    lost = webhooks.fake.close_dispute(dispute["id"], "lost")
    webhooks.send("charge.dispute.closed", lost)
    webhooks.send("charge.dispute.closed", lost)  # a second event id for the same closure

    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PARTIALLY_REFUNDED, 2000)
    assert refunds_of(order) == [(2000, RefundStatus.SUCCEEDED)]
    assert order.refunds[0].provider_refund_id == dispute["id"]
    assert order.refunds[0].reason == "Dispute lost"
    assert access_of(order) is EnrollmentStatus.REVOKED


# ---------------------------------------------------------------------------
# The processor fee, in the order's currency
# ---------------------------------------------------------------------------


def gbp_offering(stripe_api, currency: str = "GBP", price: int = 4900):
    account = stripe_api.add_account(country="GB")
    creator = CreatorProfileFactory(stripe_account_id=account["id"], stripe_charges_enabled=True, currency=currency)
    offering = OfferingFactory(creator=creator, price_cents=price, currency=currency, title="Grounding skills")
    LessonFactory(section=SectionFactory(offering=offering))
    db.session.flush()
    return offering


def test_a_fee_settled_in_another_currency_is_converted_to_the_orders(web, webhooks, stripe_api):
    offering = gbp_offering(stripe_api)
    order = checkout(web, offering)

    session = stripe_api.complete_session(order.checkout_id, settlement_currency="usd", exchange_rate="1.27", fee=220)
    webhooks.send("checkout.session.completed", session)

    order = fresh(order)
    assert order.status is OrderStatus.PAID
    # 220 US cents at 1.27 USD per GBP: £1.73.
    assert (order.currency, order.processor_fee_cents) == ("GBP", 173)
    assert (order.settlement_currency, order.processor_fee_settled_cents) == ("USD", 220)
    assert order.net_cents == 4900 - 173 - 490


def test_a_zero_decimal_order_settled_in_dollars(web, webhooks, stripe_api):
    offering = gbp_offering(stripe_api, currency="JPY", price=5000)
    order = checkout(web, offering)

    session = stripe_api.complete_session(order.checkout_id, settlement_currency="usd", exchange_rate="0.0067")
    webhooks.send("checkout.session.completed", session)

    order = fresh(order)
    # ¥5000 settles as $33.50; Stripe's fee 2.9 % + 30¢ = $1.27, which is ¥190 at 0.0067.
    assert (order.processor_fee_settled_cents, order.settlement_currency) == (127, "USD")
    assert order.processor_fee_cents == 190


# ---------------------------------------------------------------------------
# What the checkout really took
# ---------------------------------------------------------------------------


def test_a_promotion_code_records_what_was_paid_the_discount_and_the_fee_taken(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    opened_before_coupons(webhooks.fake, order)

    webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id, discount=1000))

    order = fresh(order)
    assert (order.status, order.amount_cents, order.discount_cents) == (OrderStatus.PAID, 3900, 1000)
    assert order.platform_fee_cents == 490  # Stripe takes the fee asked for, whatever the code took off
    assert order.net_cents == 3900 - order.processor_fee_cents - 490


def test_a_promotion_code_below_the_platform_fee_takes_no_more_than_was_paid(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    opened_before_coupons(webhooks.fake, order)

    webhooks.send("checkout.session.completed", webhooks.fake.complete_session(order.checkout_id, discount=4500))

    order = fresh(order)
    charge = webhooks.fake.charges[order.charge_id]
    assert charge["application_fee_amount"] == 400
    assert (order.amount_cents, order.discount_cents, order.platform_fee_cents) == (400, 4500, 400)


def test_checkout_is_opened_in_the_orders_currency_and_a_converted_one_is_not_booked(web, webhooks, stripe_api):
    offering = gbp_offering(stripe_api)
    order = checkout(web, offering)
    (created,) = stripe_api.find_requests("POST", "/v1/checkout/sessions")
    assert created.params["adaptive_pricing"] == {"enabled": "false"}

    # Had the account converted it anyway, the charge and its refunds would be in euros: not our figures.
    session = stripe_api.complete_session(order.checkout_id, presentment_currency="eur", fx_rate="1.17")
    _, response = webhooks.send("checkout.session.completed", session)

    assert response.json["outcome"] == "mismatch"
    assert fresh(order).status is OrderStatus.PENDING


@pytest.mark.parametrize(
    "tampered",
    [
        {"currency": "eur"},  # another currency, and no currency_conversion to explain it
        {"amount_subtotal": 490, "amount_total": 490},  # not the order's price
        {"amount_total": 100},  # less than the price, and no discount to explain it
        {
            "currency": "eur",
            "currency_conversion": {
                "amount_subtotal": 4900,
                "amount_total": 4900,
                "fx_rate": "1.1",
                "source_currency": "gbp",
            },
        },
    ],
)
def test_a_completed_session_that_does_not_match_the_order_is_not_booked(
    web, webhooks, connected_offering, caplog, tampered
):
    order = checkout(web, connected_offering)
    session = {**webhooks.fake.complete_session(order.checkout_id), **tampered}

    with caplog.at_level(logging.ERROR):
        event, response = webhooks.send("checkout.session.completed", session)

    assert response.status_code == 200
    assert response.json["outcome"] == "mismatch"
    assert (fresh(order).status, access_of(order)) == (OrderStatus.PENDING, None)
    row = db.session.scalar(sa.select(ProviderEvent).where(ProviderEvent.event_id == event["id"]))
    assert row.processed_at is None
    assert any(record.levelno == logging.ERROR and str(order.id) in record.getMessage() for record in caplog.records)


def test_the_success_page_does_not_book_a_session_that_does_not_match(web, stripe_api, connected_offering):
    order = checkout(web, connected_offering)
    stripe_api.complete_session(order.checkout_id)
    stripe_api.sessions[order.checkout_id]["currency"] = "eur"

    web.client.get(f"/checkout/success?session_id={order.checkout_id}")

    assert (fresh(order).status, access_of(order)) == (OrderStatus.PENDING, None)


# ---------------------------------------------------------------------------
# The API version
# ---------------------------------------------------------------------------


def test_the_client_pins_the_api_version_the_library_was_built_for(web, stripe_api, connected_offering):
    checkout(web, connected_offering)

    [create] = stripe_api.find_requests("POST", "/v1/checkout/sessions")
    assert stripe.api_version == payments.STRIPE_API_VERSION
    assert create.headers["Stripe-Version"] == payments.STRIPE_API_VERSION


def test_an_event_from_another_api_version_is_read_and_warned_about_once(web, webhooks, connected_offering, caplog):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    stripe_events._warned_api_versions.discard("2019-02-19")

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            event = webhooks.fake.event("checkout.session.completed", session)
            webhooks.deliver({**event, "api_version": "2019-02-19"})

    assert fresh(order).status is OrderStatus.PAID
    warnings = [r for r in caplog.records if "2019-02-19" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_a_dispute_lost_while_a_full_refund_is_pending_ends_access_and_is_recorded(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.send("refund.created", next(iter(_pending_refunds(webhooks, order))))
    dispute = webhooks.fake.open_dispute(order.charge_id, amount=4900)  # the cardholder disputes the whole charge
    webhooks.send("charge.dispute.created", dispute)

    webhooks.send("charge.dispute.closed", webhooks.fake.close_dispute(dispute["id"], "lost"))

    order = fresh(order)
    assert access_of(order) is EnrollmentStatus.REVOKED
    assert order.status is not OrderStatus.PAID
    assert (4900, RefundStatus.SUCCEEDED) in refunds_of(order)
