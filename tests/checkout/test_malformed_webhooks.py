"""Validly signed events of a shape Stripe never sends: answered 400, logged, recorded nowhere, nothing changed.

The events are signed with the endpoint's real secret (the fake Stripe's signing), so only the
shape check stands between them and the orders.
"""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.integrations.payments import DisputeStage
from courseplatform.integrations.stripe_events import from_payload, parse_event
from courseplatform.models import Enrollment, OrderStatus, ProviderEvent

from ..fakes.stripe_api import sign_payload
from ..helpers import WEBHOOK_SECRET
from .test_webhooks import checkout, fresh


def ledger_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count(ProviderEvent.id)))


def deliver_raw(client, body: bytes):
    """POST a body exactly as given, signed with the endpoint's secret as Stripe signs."""
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign_payload(body, WEBHOOK_SECRET)}
    return client.post("/webhooks/stripe", data=body, headers=headers)


def arabic_indic(number: int) -> str:
    """`17` → `"١٧"`: digits `str.isdigit()` accepts and `int()` reads, but no order id is written in."""
    return "".join(chr(0x660 + int(digit)) for digit in str(number))


def test_every_event_the_fake_stripe_builds_has_a_shape_the_parser_accepts(stripe_api, web, connected_offering):
    order = checkout(web, connected_offering)
    session = stripe_api.complete_session(order.checkout_id)
    charge = stripe_api.refund_outside_app(session["payment_intent"], amount=100)
    dispute = stripe_api.open_dispute(charge["id"])
    account = stripe_api.add_account()
    events = [
        stripe_api.event("checkout.session.completed", session),
        stripe_api.event("charge.refunded", charge),
        stripe_api.event("charge.dispute.created", dispute),
        stripe_api.event("charge.dispute.closed", stripe_api.close_dispute(dispute["id"], "lost")),
        stripe_api.event("account.updated", account, account=account["id"]),
    ]
    parsed = [parse_event(json.loads(json.dumps(event))) for event in events]

    assert parsed[0].order_id == order.id and parsed[0].paid
    assert parsed[1].amount_refunded == 100 and parsed[1].payment_intent_id == session["payment_intent"]
    assert parsed[2].charge_id == charge["id"] and parsed[3].status is DisputeStage.LOST
    assert parsed[4].account.id == account["id"]


@pytest.mark.parametrize(
    "shape",
    [
        "50,000-deep JSON",
        "data: null",
        "an array as data.object",
        "an order id in Arabic-Indic digits",
        "a superscript digit as the order id",
        "an order id beyond the database's range",
        "a 300-character event id",
        "a 10,000-character payment intent id",
        "a NUL in the event id",
        "a negative refund",
        "a refund that is text",
        "NaN as the refund",
    ],
)
def test_a_signed_event_of_a_shape_stripe_never_sends_is_refused_and_changes_nothing(
    client, web, webhooks, connected_offering, caplog, shape
):
    order = checkout(web, connected_offering)
    web.logout()
    session = webhooks.fake.complete_session(order.checkout_id)

    def completed(**changes):
        return json.dumps(webhooks.fake.event("checkout.session.completed", {**session, **changes})).encode()

    def refunded(amount: str):
        charge = webhooks.fake.refund_outside_app(session["payment_intent"])
        event = webhooks.fake.event("charge.refunded", {**charge, "amount_refunded": "AMOUNT"})
        return json.dumps(event).replace('"AMOUNT"', amount).encode()

    event = webhooks.fake.event("checkout.session.completed", session)
    bodies = {
        "50,000-deep JSON": lambda: (
            b'{"id": "evt_1", "type": "charge.refunded", "data": ' + b"[" * 50_000 + b"]" * 50_000
        ),
        "data: null": lambda: json.dumps({**event, "data": None}).encode(),
        "an array as data.object": lambda: json.dumps({**event, "data": {"object": [session]}}).encode(),
        "an order id in Arabic-Indic digits": lambda: completed(client_reference_id=arabic_indic(order.id)),
        "a superscript digit as the order id": lambda: completed(client_reference_id="²"),
        "an order id beyond the database's range": lambda: completed(client_reference_id=str(2**40)),
        "a 300-character event id": lambda: json.dumps({**event, "id": "evt_" + "x" * 296}).encode(),
        "a 10,000-character payment intent id": lambda: completed(payment_intent="pi_" + "x" * 10_000),
        "a NUL in the event id": lambda: json.dumps({**event, "id": "evt_\x00"}).encode(),
        "a negative refund": lambda: refunded("-4900"),
        "a refund that is text": lambda: refunded('"all of it"'),
        "NaN as the refund": lambda: refunded("NaN"),
    }
    if "refund" in shape:
        webhooks.send("checkout.session.completed", session)
        assert fresh(order).status is OrderStatus.PAID
    status_before = fresh(order).status
    rows_before = ledger_rows()
    body = bodies[shape]()

    with caplog.at_level(logging.WARNING, logger="courseplatform"):
        response = deliver_raw(client, body)

    assert response.status_code == 400, response.get_data(as_text=True)
    assert "error" in response.json
    assert ledger_rows() == rows_before, "recorded nowhere"
    assert fresh(order).status is status_before
    assert fresh(order).refunded_cents == 0
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id))) == (
        0 if status_before is OrderStatus.PENDING else 1
    )
    assert any("refused a signed Stripe event" in record.getMessage() for record in caplog.records)


def test_an_event_parked_for_later_keeps_only_the_facts_it_needs(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    charge = webhooks.fake.refund_outside_app(session["payment_intent"], amount=1000)

    _, early = webhooks.send("charge.refunded", {**charge, "description": "a long description " * 50})

    assert early.json["outcome"] == "parked"
    [row] = db.session.scalars(sa.select(ProviderEvent)).all()
    assert "description" not in json.dumps(row.payload)
    assert from_payload(row.payload).amount_refunded == 1000
    webhooks.send("checkout.session.completed", session)
    assert fresh(order).refunded_cents == 1000


def test_an_event_parked_whole_before_this_release_is_still_applied(web, webhooks, connected_offering):
    order = checkout(web, connected_offering)
    session = webhooks.fake.complete_session(order.checkout_id)
    charge = webhooks.fake.refund_outside_app(session["payment_intent"], amount=700)
    event = webhooks.fake.event("charge.refunded", charge)
    db.session.add(
        ProviderEvent(
            provider="stripe",
            event_id=event["id"],
            type=event["type"],
            object_ref=session["payment_intent"],
            payload=event,
        )
    )
    db.session.commit()

    webhooks.send("checkout.session.completed", session)

    assert fresh(order).refunded_cents == 700
    assert fresh(order).status is OrderStatus.PARTIALLY_REFUNDED
