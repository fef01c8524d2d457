"""An operator refunds an order: reviewed first, then made through the studio's own refund service."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import AuditEntry, EnrollmentStatus, Order, OrderStatus, Refund, RefundStatus

from ..checkout.conftest import connected_offering, fake_stripe_server, stripe_api, webhooks  # noqa: F401
from ..checkout.test_webhooks import fresh, paid_order
from ..factories import PASSWORD, OrderFactory, UserFactory
from ..helpers import csrf_token_from


def order_url(order_id: int) -> str:
    return f"/admin/orders/{order_id}"


def review(client, order_id: int, amount: str, reason: str = "Creator asked us to", refunded_before: str | None = None):
    """Fill the refund form on the order page and press Review: the confirmation page (or the form, with errors)."""
    page = client.get(order_url(order_id)).get_data(as_text=True)
    if refunded_before is None:
        refunded_before = str(fresh_order(order_id).refunds_requested_cents)
    return client.post(
        f"{order_url(order_id)}/refund",
        data={
            "csrf_token": csrf_token_from(page),
            "amount": amount,
            "reason": reason,
            "refunded_before": refunded_before,
        },
    )


def confirm(client, review_page: str) -> str:
    """Press the confirmation page's Refund button, with exactly what the page carries; the page that follows."""
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', review_page))
    csrf = csrf_token_from(review_page)
    response = client.post(review_page_action(review_page), data={**fields, "csrf_token": csrf}, follow_redirects=True)
    return response.get_data(as_text=True).replace("&#39;", "'")


def review_page_action(html: str) -> str:
    (action,) = re.findall(r'<form method="post" action="(/admin/orders/\d+/refund)">', html)
    return action


def fresh_order(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def test_the_review_step_changes_nothing_and_says_what_will_happen(web, client, operator, sale, mailbox):
    page = review(client, sale.order_id, "49").get_data(as_text=True)
    assert "Refund $49 to pat@example.org?" in page
    assert "the learner's access to Grounding Skills ends" in page
    assert fresh_order(sale.order_id).refunded_cents == 0
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0
    assert mailbox.messages == []
    assert "A partial refund: the learner keeps their access." in review(client, sale.order_id, "20").get_data(
        as_text=True
    )


def test_a_confirmed_partial_refund_keeps_access_mails_the_learner_and_is_audited(web, client, operator, sale, mailbox):
    html = confirm(client, review(client, sale.order_id, "20", "Missed the first week").get_data(as_text=True))
    assert "Refunded $20 to pat@example.org." in html
    order = fresh_order(sale.order_id)
    assert (order.status, order.refunded_cents) == (OrderStatus.PARTIALLY_REFUNDED, 2000)
    db.session.refresh(sale)
    assert sale.status is EnrollmentStatus.ACTIVE
    (refund,) = order.refunds
    assert (refund.reason, refund.created_by_id, refund.platform_fee_refunded_cents) == (
        "Missed the first week",
        operator.id,
        200,
    )
    (message,) = mailbox.messages
    assert message["To"] == "pat@example.org" and message["Subject"] == "A refund for Grounding Skills"
    (entry,) = db.session.scalars(sa.select(AuditEntry))
    assert (entry.action, entry.target_type, entry.target_id, entry.actor_id, entry.reason) == (
        "order.refund",
        "orders",
        sale.order_id,
        operator.id,
        "Missed the first week",
    )
    assert "$20 of order" in entry.detail and "pat@example.org" in entry.detail
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "Refunded an order" in audit and "Missed the first week" in audit and "ops@example.org" in audit


def test_a_full_refund_ends_access(web, client, operator, sale):
    html = confirm(client, review(client, sale.order_id, "49.00").get_data(as_text=True))
    assert "That was the whole payment, so their access has ended." in html
    db.session.refresh(sale)
    assert sale.status is EnrollmentStatus.REVOKED
    assert fresh_order(sale.order_id).status is OrderStatus.REFUNDED
    web.logout()
    web.login("pat@example.org", PASSWORD)
    lesson = sale.offering.sections[0].lessons[0]
    assert client.get(f"/learn/{sale.offering.slug}/lessons/{lesson.id}").status_code == 403


def test_a_double_submit_refunds_once(web, client, operator, sale, mailbox):
    page = review(client, sale.order_id, "20").get_data(as_text=True)
    confirm(client, page)
    again = confirm(client, page)
    assert "This order was refunded in the meantime (perhaps by a second click)." in again
    order = fresh_order(sale.order_id)
    assert order.refunded_cents == 2000 and len(order.refunds) == 1
    assert len(mailbox.messages) == 1
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter the amount to refund."),
        ("0", "Enter an amount above zero."),
        ("-5", "The amount can&#39;t be negative."),
        ("50", "You can refund at most $49 on this order."),
        ("1e3", "Enter an amount such as 150 or 150.00."),
        ("Infinity", "Enter an amount such as 150 or 150.00."),
        ("NaN", "Enter an amount such as 150 or 150.00."),
        ("99999999999999999999", "Enter an amount such as 150 or 150.00."),
        ("999999999", "That amount is too large."),
        ("4\x00", None),
    ],
)
def test_a_hostile_amount_gets_a_clear_message_and_changes_nothing(web, client, operator, sale, amount, message):
    response = review(client, sale.order_id, amount)
    assert response.status_code == 400
    if message:
        assert message in response.get_data(as_text=True)
    assert fresh_order(sale.order_id).refunded_cents == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def test_a_reason_is_required(web, client, operator, sale):
    response = review(client, sale.order_id, "10", reason="   ")
    assert response.status_code == 400 and "Say why you are refunding." in response.get_data(as_text=True)


def test_a_forged_confirmation_without_csrf_is_refused(web, client, operator, sale):
    response = client.post(
        f"{order_url(sale.order_id)}/refund", data={"amount": "49", "reason": "x", "confirmed": "yes"}
    )
    assert response.status_code == 400
    assert fresh_order(sale.order_id).refunded_cents == 0


def test_an_unpaid_order_cannot_be_refunded(web, client, operator, offering):
    order = OrderFactory(offering=offering, status=OrderStatus.PENDING, paid_at=None)
    assert "never paid" in client.get(order_url(order.id)).get_data(as_text=True)
    token = csrf_token_from(client.get(order_url(order.id)).get_data(as_text=True))
    response = client.post(
        f"{order_url(order.id)}/refund", data={"csrf_token": token, "amount": "1", "reason": "x", "confirmed": "yes"}
    )
    assert response.status_code == 404


def test_a_stripe_order_is_refunded_through_stripe(web, client, webhooks, connected_offering, mailbox):  # noqa: F811
    order = paid_order(web, webhooks, connected_offering)
    operator = UserFactory(email="ops@example.org", is_admin=True)
    web.login(operator.email, PASSWORD)
    html = confirm(client, review(client, order.id, "10", "Goodwill").get_data(as_text=True))
    assert "Refunded $10 to" in html
    (request,) = webhooks.fake.find_requests("POST", "/v1/refunds")
    assert request.params["amount"] == "1000"
    order = fresh(order)
    assert order.refunded_cents == 1000 and order.refunds[0].provider_refund_id.startswith("re_")
    # Stripe's own charge.refunded webhook for the same refund counts once.
    webhooks.send("charge.refunded", webhooks.fake.charges[order.charge_id])
    assert fresh(order).refunded_cents == 1000


def test_a_refund_stripe_is_still_processing_is_shown_as_pending(web, client, webhooks, connected_offering):  # noqa: F811
    order = paid_order(web, webhooks, connected_offering)
    webhooks.fake.refunds_start_as("pending")
    operator = UserFactory(email="ops@example.org", is_admin=True)
    web.login(operator.email, PASSWORD)
    html = confirm(client, review(client, order.id, "49", "Duplicate purchase").get_data(as_text=True))
    assert "Stripe is still processing it" in html
    order = fresh(order)
    assert order.refund_pending_cents == 4900 and order.refunds[0].status is RefundStatus.PENDING
    assert "pending" in client.get(order_url(order.id)).get_data(as_text=True)
