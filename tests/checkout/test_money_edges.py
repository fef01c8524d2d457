"""Refunds and disputes at their edges: second clicks, retries after a failure, events out of order.

Through the real paths: the studio's Refund form over HTTP, the fake Stripe over HTTP, and
webhooks signed with the endpoint's secret.
"""

from __future__ import annotations

import csv
import html
import io

from courseplatform.models import EnrollmentStatus, OrderStatus, RefundStatus

from ..factories import PASSWORD
from ..helpers import csrf_token_from
from .test_stripe_shapes import gbp_offering, log_in_as, refunds_of
from .test_webhooks import access_of, checkout, fresh, paid_order


def refund_from_studio(web, offering, order, amount: str, *, form: str | None = None):
    """The creator fills in the Refund form (read now, or `form` read earlier) and submits it."""
    url = f"/studio/courses/{offering.id}/orders/{order.id}/refund"
    form = form or web.client.get(url).get_data(as_text=True)
    refunded_before = form.split('name="refunded_before"')[1].split('value="')[1].split('"')[0]
    response = web.client.post(
        url,
        data={
            "csrf_token": csrf_token_from(form),
            "amount": amount,
            "reason": "",
            "refunded_before": refunded_before,
        },
        follow_redirects=True,
    )
    return html.unescape(response.get_data(as_text=True))


def test_a_second_click_while_the_first_refund_is_pending_refunds_once(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.fake.refunds_start_as("pending")
    log_in_as(web, connected_offering.creator.user.email)
    url = f"/studio/courses/{connected_offering.id}/orders/{order.id}/refund"
    form = web.client.get(url).get_data(as_text=True)

    refund_from_studio(web, connected_offering, order, "20", form=form)
    second = refund_from_studio(web, connected_offering, order, "20", form=form)  # the same form, sent twice

    assert [r["amount"] for r in webhooks.fake.refunds.values()] == [2000]
    assert refunds_of(order) == [(2000, RefundStatus.PENDING)]
    assert "refunded in the meantime" in second


def test_refunding_again_after_a_refund_failed_makes_a_new_refund(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    log_in_as(web, connected_offering.creator.user.email)
    refund_from_studio(web, connected_offering, order, "20")
    [first] = webhooks.fake.refunds
    webhooks.send("refund.failed", webhooks.fake.settle_refund(first, "failed"))
    assert (fresh(order).status, fresh(order).refunded_cents) == (OrderStatus.PAID, 0)

    said = refund_from_studio(web, connected_offering, order, "20")

    assert "Refunded $20" in said
    assert len(webhooks.fake.refunds) == 2, "Stripe was never asked for the second refund"
    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PARTIALLY_REFUNDED, 2000)
    assert refunds_of(order) == [(2000, RefundStatus.FAILED), (2000, RefundStatus.SUCCEEDED)]


def test_a_dispute_won_before_its_opening_is_delivered_leaves_access(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id)
    created = webhooks.fake.event("charge.dispute.created", dispute)
    won = webhooks.fake.close_dispute(dispute["id"], "won")

    webhooks.send("charge.dispute.closed", won)
    webhooks.deliver(created)  # Stripe retried the opening; it arrives after the closure

    assert (fresh(order).status, access_of(order)) == (OrderStatus.PAID, EnrollmentStatus.ACTIVE)


def test_an_update_of_a_won_dispute_delivered_late_leaves_access(web, webhooks, connected_offering):
    order = paid_order(web, webhooks, connected_offering)
    dispute = webhooks.fake.open_dispute(order.charge_id)
    webhooks.send("charge.dispute.created", dispute)
    under_review = webhooks.fake.event(
        "charge.dispute.updated", webhooks.fake.update_dispute(dispute["id"], "under_review")
    )
    webhooks.send("charge.dispute.closed", webhooks.fake.close_dispute(dispute["id"], "won"))

    webhooks.deliver(under_review)

    assert (fresh(order).status, access_of(order)) == (OrderStatus.PAID, EnrollmentStatus.ACTIVE)


def test_access_comes_back_when_a_refund_fails_and_the_order_is_no_longer_refunded_in_full(
    web, webhooks, connected_offering
):
    order = paid_order(web, webhooks, connected_offering)
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id, 2000))
    webhooks.send("charge.refunded", webhooks.fake.refund_outside_app(order.payment_intent_id))  # the rest
    assert (fresh(order).status, access_of(order)) == (OrderStatus.REFUNDED, EnrollmentStatus.REVOKED)

    first = next(iter(webhooks.fake.refunds))
    webhooks.send("refund.failed", webhooks.fake.settle_refund(first, "failed"))

    order = fresh(order)
    assert (order.status, order.refunded_cents) == (OrderStatus.PARTIALLY_REFUNDED, 2900)
    assert access_of(order) is EnrollmentStatus.ACTIVE


def test_the_exports_write_a_zero_decimal_currency_in_whole_units(web, client, webhooks, stripe_api):
    offering = gbp_offering(stripe_api, currency="JPY", price=5000)
    order = checkout(web, offering)
    web.logout()
    session = stripe_api.complete_session(order.checkout_id, settlement_currency="usd", exchange_rate="0.0067")
    webhooks.send("checkout.session.completed", session)
    order = fresh(order)
    web.login(offering.creator.user.email, PASSWORD)

    learners = list(csv.DictReader(io.StringIO(client.get(f"/studio/courses/{offering.id}/learners.csv").text)))
    revenue = list(csv.DictReader(io.StringIO(client.get("/studio/revenue.csv").text)))

    assert [row["amount_paid"] for row in learners] == ["5000"]  # ¥5000, not ¥50
    net = order.amount_cents - order.processor_fee_cents - order.platform_fee_cents
    assert [row["passive_income"] for row in revenue if row["passive_income"] not in ("0", "0.00")] == [str(net)]
