"""Stripe's events read into payment events, built from Stripe's own objects.

Each event wraps an object from Stripe's OpenAPI fixtures (tests/fakes/stripe_openapi), with
only the fields a test is about changed, so the parser is held to the shapes Stripe sends.
No application or database: the parser needs neither.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from pathlib import Path

import pytest
import stripe

from courseplatform.integrations.payments import (
    DISPUTE_STAGES,
    AccountStatus,
    CheckoutTotals,
    DisputeStage,
    RefundResult,
    dispute_stage,
)
from courseplatform.integrations.stripe_events import (
    AccountUpdated,
    CheckoutCompleted,
    CheckoutExpired,
    CheckoutFailed,
    DisputeChanged,
    MalformedEvent,
    RefundRecorded,
    Unhandled,
    WebhookError,
    from_payload,
    parse_event,
    verify_webhook,
)

from ..fakes.stripe_api import sign_payload

FIXTURES = json.loads((Path(__file__).parents[1] / "fakes" / "stripe_openapi" / "fixtures3.json").read_text())[
    "resources"
]
SESSION = FIXTURES["checkout.session"]
CHARGE = FIXTURES["charge"]
REFUND = FIXTURES["refund"]
DISPUTE = FIXTURES["dispute"]
ACCOUNT = FIXTURES["account"]
INTENT = FIXTURES["payment_intent"]


def stripe_object(name: str, **changes) -> dict:
    return {**copy.deepcopy(FIXTURES[name]), **changes}


def event(kind: str, obj: dict, **changes) -> dict:
    """Stripe's event fixture carrying `obj`, as JSON would bring it."""
    return json.loads(json.dumps({**FIXTURES["event"], "type": kind, "data": {"object": obj}, **changes}))


def paid_session(**changes) -> dict:
    paid = {
        "client_reference_id": "17",
        "status": "complete",
        "payment_status": "paid",
        "currency": "usd",
        "amount_subtotal": 4900,
        "amount_total": 3900,
        "total_details": {"amount_discount": 1000, "amount_shipping": 0, "amount_tax": 0},
    }
    return stripe_object("checkout.session", **{**paid, **changes})


# ---------------------------------------------------------------------------
# Checkouts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["checkout.session.completed", "checkout.session.async_payment_succeeded"])
def test_a_paid_checkout_is_a_completed_checkout_with_its_order_and_totals(kind):
    parsed = parse_event(event(kind, paid_session()))

    assert parsed == CheckoutCompleted(
        id=FIXTURES["event"]["id"],
        type=kind,
        checkout_id=SESSION["id"],
        order_id=17,
        paid=True,
        payment_intent_id=SESSION["payment_intent"],
        totals=CheckoutTotals(currency="USD", amount_subtotal=4900, amount_total=3900, amount_discount=1000),
    )


@pytest.mark.parametrize(("payment_status", "paid"), [("paid", True), ("no_payment_required", True), ("unpaid", False)])
def test_a_completed_checkout_is_paid_unless_its_money_is_still_on_its_way(payment_status, paid):
    parsed = parse_event(event("checkout.session.completed", paid_session(payment_status=payment_status)))

    assert isinstance(parsed, CheckoutCompleted) and parsed.paid is paid


def test_the_order_comes_from_the_metadata_when_the_reference_is_missing_and_an_expanded_intent_gives_its_id():
    session = paid_session(client_reference_id=None, metadata={"order_id": "23"}, payment_intent=INTENT)

    parsed = parse_event(event("checkout.session.completed", session))

    assert (parsed.order_id, parsed.payment_intent_id) == (23, INTENT["id"])


def test_a_checkout_naming_no_order_is_read_with_none():
    parsed = parse_event(event("checkout.session.expired", stripe_object("checkout.session", status="expired")))

    assert parsed == CheckoutExpired(FIXTURES["event"]["id"], "checkout.session.expired", SESSION["id"], None)


def test_a_failed_delayed_payment_and_an_expiry_name_their_checkout_and_order():
    failed = parse_event(event("checkout.session.async_payment_failed", paid_session(payment_status="unpaid")))
    expired = parse_event(event("checkout.session.expired", paid_session(status="expired", payment_status="unpaid")))

    assert isinstance(failed, CheckoutFailed) and (failed.checkout_id, failed.order_id) == (SESSION["id"], 17)
    assert isinstance(expired, CheckoutExpired) and (expired.checkout_id, expired.order_id) == (SESSION["id"], 17)


def test_another_checkout_event_is_checked_then_unhandled():
    assert parse_event(event("checkout.session.async_payment_pending", paid_session())) == Unhandled(
        FIXTURES["event"]["id"], "checkout.session.async_payment_pending"
    )
    with pytest.raises(MalformedEvent):
        parse_event(event("checkout.session.async_payment_pending", paid_session(client_reference_id="x")))


# ---------------------------------------------------------------------------
# Refunds
# ---------------------------------------------------------------------------


def test_a_refunded_charge_carrying_its_refunds_names_them():
    refund = stripe_object("refund", amount=1000, status="pending")
    charge = stripe_object(
        "charge",
        payment_intent=INTENT["id"],
        amount_refunded=1000,
        refunds={**CHARGE["refunds"], "data": [refund]},
    )

    parsed = parse_event(event("charge.refunded", charge))

    assert parsed == RefundRecorded(
        id=FIXTURES["event"]["id"],
        type="charge.refunded",
        charge_id=CHARGE["id"],
        payment_intent_id=INTENT["id"],
        refunds=(RefundResult(REFUND["id"], 1000, "pending"),),
        amount_refunded=1000,
    )


@pytest.mark.parametrize(
    "refunds", [None, {"data": [], "has_more": True, "object": "list", "url": "/v1/refunds"}], ids=["absent", "more"]
)
def test_a_refunded_charge_without_all_its_refunds_leaves_them_to_be_listed(refunds):
    charge = stripe_object("charge", amount_refunded=100)
    if refunds is None:
        del charge["refunds"]
    else:
        charge["refunds"] = refunds

    parsed = parse_event(event("charge.refunded", charge))

    assert isinstance(parsed, RefundRecorded) and parsed.refunds is None and parsed.amount_refunded == 100


@pytest.mark.parametrize("kind", ["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"])
@pytest.mark.parametrize(
    ("status", "ours"),
    [("succeeded", "succeeded"), ("failed", "failed"), ("canceled", "canceled"), ("requires_action", "pending")],
)
def test_a_refunds_own_event_names_the_refund_and_its_status_in_our_terms(kind, status, ours):
    parsed = parse_event(event(kind, stripe_object("refund", status=status, payment_intent=INTENT["id"])))

    assert parsed == RefundRecorded(
        id=FIXTURES["event"]["id"],
        type=kind,
        charge_id=REFUND["charge"],
        payment_intent_id=INTENT["id"],
        refunds=(RefundResult(REFUND["id"], REFUND["amount"], ours),),
    )


# ---------------------------------------------------------------------------
# Disputes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "stage"),
    [
        ("charge.dispute.created", "warning_needs_response", DisputeStage.OPEN),
        ("charge.dispute.created", "needs_response", DisputeStage.OPEN),
        ("charge.dispute.created", "a_status_stripe_adds_later", DisputeStage.OPEN),
        ("charge.dispute.created", "won", DisputeStage.WON),  # delivered after its closure
        ("charge.dispute.updated", "under_review", DisputeStage.OPEN),
        ("charge.dispute.updated", "a_status_stripe_adds_later", None),
        ("charge.dispute.updated", "warning_closed", DisputeStage.WON),
        ("charge.dispute.closed", "won", DisputeStage.WON),
        ("charge.dispute.closed", "prevented", DisputeStage.WON),
        ("charge.dispute.closed", "under_review", DisputeStage.WON),
        ("charge.dispute.closed", "lost", DisputeStage.LOST),
        ("charge.dispute.updated", "lost", DisputeStage.LOST),
    ],
)
def test_a_dispute_event_says_where_the_dispute_stands(kind, status, stage):
    parsed = parse_event(event(kind, stripe_object("dispute", status=status, payment_intent=INTENT["id"])))

    assert isinstance(parsed, DisputeChanged)
    assert (parsed.charge_id, parsed.payment_intent_id) == (DISPUTE["charge"], INTENT["id"])
    assert (parsed.dispute_id, parsed.amount, parsed.reason) == (DISPUTE["id"], DISPUTE["amount"], DISPUTE["reason"])
    assert parsed.stage is stage


def test_a_dispute_read_again_from_stripe_weighs_its_status_now_with_what_the_event_announced():
    opened = parse_event(event("charge.dispute.created", stripe_object("dispute", status="needs_response")))

    assert opened.stage is DisputeStage.OPEN
    assert dataclasses.replace(opened, status=dispute_stage("won")).stage is DisputeStage.WON
    assert dataclasses.replace(opened, status=dispute_stage("lost")).stage is DisputeStage.LOST


def test_every_dispute_status_read_is_one_stripe_documents():
    documented = {
        value
        for arg in typing.get_args(stripe.Dispute.__annotations__["status"])
        if typing.get_origin(arg) is typing.Literal
        for value in typing.get_args(arg)
    }

    assert set(DISPUTE_STAGES) <= documented
    assert dispute_stage(DISPUTE["status"]) is DisputeStage.OPEN


def test_a_dispute_moving_money_only_is_checked_then_unhandled():
    funds = parse_event(event("charge.dispute.funds_withdrawn", stripe_object("dispute")))

    assert funds == Unhandled(FIXTURES["event"]["id"], "charge.dispute.funds_withdrawn")
    with pytest.raises(MalformedEvent):
        parse_event(event("charge.dispute.funds_withdrawn", stripe_object("dispute", amount=-1)))


# ---------------------------------------------------------------------------
# Accounts, connected accounts and everything else
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("connected", [False, True])
def test_an_account_update_says_what_the_account_can_do(connected):
    account = stripe_object("account", charges_enabled=True, details_submitted=True, payouts_enabled=False)
    changes = {"account": ACCOUNT["id"]} if connected else {}

    parsed = parse_event(event("account.updated", account, **changes))

    assert parsed == AccountUpdated(
        FIXTURES["event"]["id"], "account.updated", AccountStatus(ACCOUNT["id"], True, True, False)
    )


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("charge.refunded", CHARGE),
        ("refund.created", REFUND),
        ("charge.dispute.created", DISPUTE),
        ("checkout.session.completed", SESSION),
    ],
)
def test_a_connected_accounts_own_payment_events_are_unhandled(kind, obj):
    assert parse_event(event(kind, obj, account=ACCOUNT["id"])) == Unhandled(FIXTURES["event"]["id"], kind)


def test_an_event_type_the_app_doesnt_read_is_unhandled():
    assert parse_event(copy.deepcopy(FIXTURES["event"])) == Unhandled(FIXTURES["event"]["id"], "plan.created")


# ---------------------------------------------------------------------------
# Shapes Stripe never sends
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        lambda e: [e],
        lambda e: {**e, "id": "evt_\x00"},
        lambda e: {**e, "id": "evt_" + "x" * 300},
        lambda e: {**e, "type": "Checkout Session Completed"},
        lambda e: {**e, "account": 17},
        lambda e: {**e, "data": None},
        lambda e: {**e, "data": {"object": [e["data"]["object"]]}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "amount_total": 2**63}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "amount_total": True}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "amount_total": 49.5}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "currency": "usdollars"}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "client_reference_id": "٣"}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "metadata": "17"}}},
        lambda e: {**e, "data": {"object": {**e["data"]["object"], "payment_intent": {"object": "payment_intent"}}}},
    ],
)
def test_a_checkout_event_of_a_shape_stripe_never_sends_is_refused(broken):
    with pytest.raises(MalformedEvent):
        parse_event(broken(event("checkout.session.completed", paid_session())))


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("charge.refunded", {**CHARGE, "refunds": {"data": "all"}}),
        ("charge.refunded", {**CHARGE, "refunds": {**CHARGE["refunds"], "data": [{**REFUND, "amount": 0}]}}),
        ("refund.created", {**REFUND, "amount": -100}),
        ("refund.created", {**REFUND, "charge": "ch_\x00"}),
        ("charge.dispute.created", {**DISPUTE, "reason": "x" * 256}),
        ("charge.dispute.created", {**DISPUTE, "reason": "fraud\x00"}),
        ("charge.dispute.created", {**DISPUTE, "id": None}),
        ("account.updated", {**ACCOUNT, "charges_enabled": "yes"}),
    ],
)
def test_a_payment_event_of_a_shape_stripe_never_sends_is_refused(kind, obj):
    with pytest.raises(MalformedEvent):
        parse_event(event(kind, obj))


# ---------------------------------------------------------------------------
# Deliveries and events kept for later
# ---------------------------------------------------------------------------


def test_a_signed_delivery_is_read_and_any_other_is_refused():
    body = json.dumps(event("checkout.session.completed", paid_session())).encode()

    assert isinstance(verify_webhook(body, sign_payload(body, "whsec_b"), ["whsec_a", "whsec_b"]), CheckoutCompleted)
    with pytest.raises(WebhookError) as refused:
        verify_webhook(body, sign_payload(body, "whsec_c"), ["whsec_a", "whsec_b"])
    assert not isinstance(refused.value, MalformedEvent)
    with pytest.raises(MalformedEvent):
        verify_webhook(b"[1, 2", sign_payload(b"[1, 2", "whsec_a"), ["whsec_a"])


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("charge.refunded", {**CHARGE, "payment_intent": INTENT["id"], "amount_refunded": 100}),
        ("charge.refunded", {**CHARGE, "refunds": {**CHARGE["refunds"], "data": [REFUND]}}),
        ("refund.failed", {**REFUND, "status": "failed"}),
        ("charge.dispute.created", DISPUTE),
        ("charge.dispute.closed", {**DISPUTE, "status": "lost"}),
        ("charge.dispute.updated", {**DISPUTE, "status": "a_status_stripe_adds_later"}),
    ],
)
def test_an_event_kept_for_later_reads_back_as_it_was(kind, obj):
    parsed = parse_event(event(kind, obj))

    assert from_payload(json.loads(json.dumps(parsed.to_payload()))) == parsed


def test_an_event_kept_by_the_release_before_reads_in_our_terms():
    kept = {
        "facts": 1,
        "id": "evt_1",
        "type": "charge.dispute.created",
        "account": None,
        "checkout": None,
        "charge": {
            "charge_id": "ch_1",
            "payment_intent_id": "pi_1",
            "amount_refunded": 0,
            "dispute_status": "needs_response",
            "dispute_reason": "fraudulent",
            "refunds": None,
            "dispute_id": "dp_1",
            "dispute_amount": 4900,
        },
        "account_status": None,
    }
    refund = {
        **kept,
        "type": "refund.created",
        "charge": {**kept["charge"], "refunds": [{"id": "re_1", "amount_cents": 100, "status": "pending"}]},
    }

    dispute = from_payload(kept)
    assert isinstance(dispute, DisputeChanged) and dispute.stage is DisputeStage.OPEN
    assert (dispute.dispute_id, dispute.amount, dispute.reason) == ("dp_1", 4900, "fraudulent")
    assert from_payload(refund) == RefundRecorded(
        "evt_1", "refund.created", "ch_1", "pi_1", (RefundResult("re_1", 100, "pending"),)
    )
    assert from_payload({**kept, "charge": None}) == Unhandled("evt_1", "charge.dispute.created")


def test_a_whole_stripe_event_kept_before_that_is_parsed_again():
    whole = event("charge.refunded", {**CHARGE, "amount_refunded": 700})

    assert from_payload(whole) == parse_event(whole)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"facts": 2, "event": "Nothing"},
        {"facts": 2, "event": "DisputeChanged", "id": "evt_1"},
        {"facts": 2, "event": "DisputeChanged", "id": "evt_1", "type": "charge.dispute.created", "status": "maybe"},
        {"facts": 1, "id": "evt_1", "type": "refund.created", "charge": {"refunds": "all"}},
    ],
)
def test_a_kept_event_that_cant_be_read_is_malformed(payload):
    with pytest.raises(MalformedEvent):
        from_payload(payload)
