"""The fake Stripe API, driven by the real stripe library: the library must accept its answers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import stripe

from tests.fakes.stripe_api import FakeStripe, decode_params, sign_payload


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        yield running
    assert running.errors == [], "the fake itself crashed"


@pytest.fixture
def stripe_client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_fake",
        base_addresses={"api": fake.url, "connect": fake.url, "files": fake.url},
        max_network_retries=0,
    )


def session_params(**overrides: object) -> dict:
    params: dict = {
        "mode": "payment",
        "client_reference_id": "order-7",
        "customer_email": "ann@example.com",
        "success_url": "https://aqueduct.test/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://aqueduct.test/cancelled",
        "allow_promotion_codes": True,
        "expires_at": int(time.time()) + 3600,
        "metadata": {"order_id": "7"},
        "line_items": [
            {
                "quantity": 2,
                "price_data": {"currency": "USD", "unit_amount": 2500, "product_data": {"name": "Course"}},
            },
            {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 1000, "product_data": {"name": "Book"}}},
        ],
    }
    params.update(overrides)
    return params


def paid_session(fake: FakeStripe, stripe_client: stripe.StripeClient, fee: int | None = None) -> dict:
    session = stripe_client.v1.checkout.sessions.create(params=session_params())
    return fake.complete_session(session.id, fee=fee)


def test_decode_params_nests_dicts_and_lists() -> None:
    decoded = decode_params(
        "line_items[0][price_data][unit_amount]=2500&line_items[1][quantity]=3&metadata[7]=x"
        "&expand[]=a&expand[]=b.c&success_url=https%3A%2F%2Fx%2F%3Fs%3D%7BCHECKOUT_SESSION_ID%7D"
    )
    assert decoded == {
        "line_items": [{"price_data": {"unit_amount": "2500"}}, {"quantity": "3"}],
        "metadata": {"7": "x"},
        "expand": ["a", "b.c"],
        "success_url": "https://x/?s={CHECKOUT_SESSION_ID}",
    }
    with pytest.raises(ValueError, match="clashes"):
        decode_params("a=1&a[b]=2")


def test_create_session_with_nested_params_is_idempotent(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    teacher = stripe_client.v1.accounts.create(params={"type": "express", "email": "t@example.com"})
    params = session_params(
        payment_intent_data={
            "application_fee_amount": 600,
            "transfer_data": {"destination": teacher.id},
            "metadata": {"order_id": "7"},
        }
    )

    first = stripe_client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "order-7-attempt-1"})
    again = stripe_client.v1.checkout.sessions.create(params=params, options={"idempotency_key": "order-7-attempt-1"})

    assert again.id == first.id
    assert first.id.startswith("cs_test_")
    assert len(fake.sessions) == 1
    assert first.object == "checkout.session"
    assert (first.status, first.payment_status, first.payment_intent) == ("open", "unpaid", None)
    assert first.amount_total == 6000
    assert first.currency == "usd"
    assert first.metadata["order_id"] == "7"
    assert first.client_reference_id == "order-7"
    assert first.success_url == "https://aqueduct.test/paid?session_id={CHECKOUT_SESSION_ID}"
    assert first.expires_at == params["expires_at"]
    assert first.allow_promotion_codes is True
    assert first.url == f"{fake.url}/pay/{first.id}"
    assert fake.payment_intent_data(first.id) == {
        "application_fee_amount": 600,
        "transfer_data": {"destination": teacher.id},
        "metadata": {"order_id": "7"},
    }
    [created, replayed] = fake.find_requests("POST", "/v1/checkout/sessions")
    assert created.idempotency_key == replayed.idempotency_key == "order-7-attempt-1"
    assert created.params["line_items"][0]["price_data"]["unit_amount"] == "2500"

    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.checkout.sessions.create(
            params={**params, "client_reference_id": "order-8"}, options={"idempotency_key": "order-7-attempt-1"}
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": None}, "Missing required param: mode."),
        ({"line_items": None}, "Missing required param: line_items."),
        ({"expires_at": int(time.time()) + 600}, "at least 30 minutes"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "less than 24 hours"),
        ({"payment_intent_data": {"transfer_data": {"destination": "acct_nobody"}}}, "No such destination"),
    ],
)
def test_create_session_validates(stripe_client: stripe.StripeClient, overrides: dict, message: str) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=message) as caught:
        stripe_client.v1.checkout.sessions.create(params=session_params(**overrides))
    assert caught.value.http_status == 400


def test_unknown_session_is_a_404(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


def test_completed_session_expands_down_to_the_fee(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    completed = paid_session(fake, stripe_client, fee=123)
    assert completed["status"] == "complete"
    assert completed["payment_status"] == "paid"
    assert completed["payment_intent"].startswith("pi_")

    session = stripe_client.v1.checkout.sessions.retrieve(
        completed["id"], params={"expand": ["payment_intent.latest_charge.balance_transaction"]}
    )
    charge = session.payment_intent.latest_charge
    assert session.payment_intent.status == "succeeded"
    assert charge.id.startswith("ch_")
    assert (charge.amount, charge.amount_refunded, charge.refunded) == (6000, 0, False)
    assert charge.balance_transaction.id.startswith("txn_")
    assert (charge.balance_transaction.fee, charge.balance_transaction.net) == (123, 5877)
    assert charge.balance_transaction.fee_details[0].type == "stripe_fee"

    intent = stripe_client.v1.payment_intents.retrieve(
        completed["payment_intent"], params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert intent.latest_charge.balance_transaction.amount == 6000
    assert stripe_client.v1.charges.retrieve(charge.id).payment_intent == intent.id
    txn = stripe_client.v1.balance_transactions.retrieve(charge.balance_transaction.id)
    assert (txn.object, txn.currency, txn.fee) == ("balance_transaction", "usd", 123)

    with pytest.raises(stripe.InvalidRequestError, match=r'Only Checkout Sessions with a status in \["open"\]'):
        stripe_client.v1.checkout.sessions.expire(completed["id"])


def test_default_fee_is_stripes_card_rate(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    completed = paid_session(fake, stripe_client)
    charge = fake.charges[fake.payment_intents[completed["payment_intent"]]["latest_charge"]]
    assert fake.balance_transactions[charge["balance_transaction"]]["fee"] == 204  # round(6000 * 2.9 %) + 30


def test_expire(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    by_app = stripe_client.v1.checkout.sessions.create(params=session_params())
    assert stripe_client.v1.checkout.sessions.expire(by_app.id).status == "expired"
    by_time = stripe_client.v1.checkout.sessions.create(params=session_params())
    assert fake.expire_session(by_time.id)["status"] == "expired"
    assert stripe_client.v1.checkout.sessions.retrieve(by_time.id).status == "expired"


def test_delayed_payment_settles_later(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    session = stripe_client.v1.checkout.sessions.create(params=session_params())
    pending = fake.complete_session(session.id, paid=False)
    assert (pending["status"], pending["payment_status"]) == ("complete", "unpaid")
    intent = stripe_client.v1.payment_intents.retrieve(pending["payment_intent"])
    assert (intent.status, intent.latest_charge) == ("processing", None)

    settled = fake.settle_async(session.id, succeeded=True)
    assert settled["payment_status"] == "paid"
    assert stripe_client.v1.payment_intents.retrieve(pending["payment_intent"]).latest_charge.startswith("ch_")

    other = stripe_client.v1.checkout.sessions.create(params=session_params())
    fake.complete_session(other.id, paid=False)
    failed = fake.settle_async(other.id, succeeded=False)
    assert failed["payment_status"] == "unpaid"
    assert fake.payment_intents[failed["payment_intent"]]["status"] == "requires_payment_method"


def test_refunds(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    completed = paid_session(fake, stripe_client)
    intent_id = completed["payment_intent"]

    part = stripe_client.v1.refunds.create(
        params={
            "payment_intent": intent_id,
            "amount": 1000,
            "reverse_transfer": True,
            "refund_application_fee": True,
            "metadata": {"order_id": "7"},
            "reason": "requested_by_customer",
        },
        options={"idempotency_key": "refund-7-1"},
    )
    assert (part.object, part.status, part.amount, part.payment_intent) == ("refund", "succeeded", 1000, intent_id)
    assert part.id.startswith("re_")
    charge = stripe_client.v1.charges.retrieve(part.charge)
    assert (charge.amount_refunded, charge.refunded) == (1000, False)
    assert fake.find_requests("POST", "/v1/refunds")[0].params["reverse_transfer"] == "true"

    with pytest.raises(stripe.InvalidRequestError, match=r"greater than unrefunded amount on charge \(\$50.00\)") as e:
        stripe_client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 5001})
    assert e.value.code == "amount_too_large"

    rest = stripe_client.v1.refunds.create(params={"payment_intent": intent_id})
    assert rest.amount == 5000
    charge = stripe_client.v1.charges.retrieve(part.charge)
    assert (charge.amount_refunded, charge.refunded) == (6000, True)

    with pytest.raises(stripe.InvalidRequestError, match="already been refunded"):
        stripe_client.v1.refunds.create(params={"charge": charge.id, "amount": 1})


def test_refund_outside_app_and_disputes(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    completed = paid_session(fake, stripe_client)
    charge = fake.refund_outside_app(completed["payment_intent"], amount=2000)
    assert (charge["object"], charge["amount_refunded"], charge["refunded"]) == ("charge", 2000, False)

    dispute = fake.open_dispute(charge["id"])
    assert dispute["id"].startswith("dp_")
    assert (dispute["object"], dispute["status"], dispute["amount"]) == ("dispute", "needs_response", 4000)
    assert dispute["payment_intent"] == completed["payment_intent"]
    assert stripe_client.v1.charges.retrieve(charge["id"]).disputed is True
    assert fake.close_dispute(dispute["id"], status="lost")["status"] == "lost"
    with pytest.raises(ValueError, match="already lost"):
        fake.close_dispute(dispute["id"], status="won")


def test_accounts_and_links(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    account = stripe_client.v1.accounts.create(
        params={
            "type": "express",
            "email": "teacher@example.com",
            "country": "US",
            "business_type": "individual",
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "metadata": {"teacher_id": "3"},
        }
    )
    assert account.id.startswith("acct_")
    assert (account.charges_enabled, account.details_submitted, account.payouts_enabled) == (False, False, False)
    assert account.capabilities.transfers == "inactive"
    assert account.metadata["teacher_id"] == "3"

    link = stripe_client.v1.account_links.create(
        params={
            "account": account.id,
            "refresh_url": "https://aqueduct.test/refresh",
            "return_url": "https://aqueduct.test/return",
            "type": "account_onboarding",
        }
    )
    assert link.object == "account_link"
    assert link.url == f"{fake.url}/onboard/{account.id}"
    assert link.expires_at > time.time()
    with urllib.request.urlopen(link.url) as page:
        assert b"Connect onboarding" in page.read()

    with pytest.raises(stripe.InvalidRequestError, match="No such account"):
        stripe_client.v1.account_links.create(
            params={"account": "acct_nobody", "refresh_url": "x", "return_url": "y", "type": "account_onboarding"}
        )

    assert fake.update_account(account.id)["charges_enabled"] is True
    fetched = stripe_client.v1.accounts.retrieve(account.id)
    assert (fetched.charges_enabled, fetched.details_submitted, fetched.payouts_enabled) == (True, True, True)
    assert fetched.capabilities.card_payments == "active"
    assert fake.add_account("acct_seeded")["charges_enabled"] is True
    seeded = stripe_client.v1.accounts.retrieve("acct_seeded", options={"stripe_account": "acct_seeded"})
    assert seeded.id == "acct_seeded"
    assert fake.requests[-1].stripe_account == "acct_seeded"


def test_fail_next_then_retry_with_the_same_key(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    fake.fail_next(2, status=503, message="Try again later")
    for _ in range(2):
        with pytest.raises(stripe.APIError, match="Try again later") as caught:
            stripe_client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k1"})
        assert caught.value.http_status == 503
    session = stripe_client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k1"})
    assert session.status == "open"


def test_go_down_and_come_back(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    session = stripe_client.v1.checkout.sessions.create(params=session_params())
    fake.go_down()
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert time.monotonic() - started < 5
    fake.come_back()
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).id == session.id


def test_missing_api_key_is_a_401(fake: FakeStripe) -> None:
    request = urllib.request.Request(f"{fake.url}/v1/accounts", data=b"type=express", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    with caught.value as response:
        assert response.code == 401
        error = json.loads(response.read())["error"]
    assert error["type"] == "invalid_request_error"
    assert "API key" in error["message"]


def test_signatures_are_stripes(fake: FakeStripe) -> None:
    payload = '{"id": "evt_1", "object": "event"}'
    header = sign_payload(payload, "whsec_right")
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_right", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_wrong", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(
            payload, sign_payload(payload, "whsec_right", timestamp=int(time.time()) - 3600), "whsec_right", 300
        )

    event = fake.event("account.updated", {"id": "acct_1", "object": "account"}, account="acct_1", event_id="evt_x")
    body, headers = fake.signed(event, "whsec_right")
    assert headers["Content-Type"] == "application/json"
    parsed = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_right", tolerance=300)
    assert (parsed.id, parsed.type, parsed.account, parsed.livemode) == ("evt_x", "account.updated", "acct_1", False)
    assert parsed.data.object.id == "acct_1"


def test_pending_refunds_count_on_the_charge_until_they_fail(
    fake: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    """As at Stripe: charge.amount_refunded includes pending refunds; a failed or canceled one is taken out again."""
    session = paid_session(fake, stripe_client)
    intent = fake.payment_intents[session["payment_intent"]]
    fake.refunds_start_as("pending")

    first = stripe_client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 1000})
    second = stripe_client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 500})

    assert (first.status, fake.charges[intent["latest_charge"]]["amount_refunded"]) == ("pending", 1500)
    fake.settle_refund(first.id, "succeeded")
    fake.settle_refund(second.id, "canceled")
    assert fake.charges[intent["latest_charge"]]["amount_refunded"] == 1000
    fake.settle_refund(first.id, "failed")  # a card closed after the refund went through
    assert fake.charges[intent["latest_charge"]]["amount_refunded"] == 0
    listed = stripe_client.v1.refunds.list(params={"charge": intent["latest_charge"]})
    assert {(r.id, r.status) for r in listed.data} == {(first.id, "failed"), (second.id, "canceled")}
    assert stripe_client.v1.refunds.retrieve(first.id).status == "failed"
    with pytest.raises(ValueError, match="already failed"):
        fake.settle_refund(first.id, "succeeded")
