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


def test_fail_next_on_one_path_lets_the_others_through(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    session = stripe_client.v1.checkout.sessions.create(params=session_params())
    fake.fail_next(1, path_prefix="/v1/refunds")

    assert stripe_client.v1.checkout.sessions.retrieve(session.id).id == session.id
    with pytest.raises(stripe.APIError):
        stripe_client.v1.refunds.list()
    assert stripe_client.v1.refunds.list().data == []


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


# --------------------------------------------------------------------------- Stripe Tax


def tax_session_params(**overrides: object) -> dict:
    """A one-off course sale with automatic tax and tax ID collection on."""
    params: dict = {
        "mode": "payment",
        "customer_email": "ann@example.com",
        "success_url": "https://aqueduct.test/paid",
        "automatic_tax": {"enabled": True},
        "tax_id_collection": {"enabled": True},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 10000,
                    "tax_behavior": "exclusive",
                    "product_data": {"name": "Course", "tax_code": "txcd_10103000"},
                },
            }
        ],
    }
    params.update(overrides)
    return params


def teacher_with_tax(fake: FakeStripe, stripe_client: stripe.StripeClient, country: str = "GB") -> str:
    """A connected account with its head office set, registered for tax in its own country."""
    teacher = fake.add_account(country=country)["id"]
    stripe_client.v1.tax.settings.update(
        params={"head_office": {"address": {"country": country, "postal_code": "EC1A 1BB"}}},
        options={"stripe_account": teacher},
    )
    fake.register_for_tax(country, account_id=teacher)
    return teacher


def test_tax_settings_belong_to_each_account(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    platform = stripe_client.v1.tax.settings.retrieve()
    assert (platform.object, platform.status, platform.head_office.address.country) == ("tax.settings", "active", "US")
    teacher = fake.add_account(country="GB")["id"]
    as_teacher = {"stripe_account": teacher}

    fresh = stripe_client.v1.tax.settings.retrieve(options=as_teacher)
    assert (fresh.status, fresh.head_office) == ("pending", None)
    assert fresh.status_details.pending.missing_fields == ["head_office"]
    assert fresh.defaults.tax_behavior is None

    updated = stripe_client.v1.tax.settings.update(
        params={
            "head_office": {"address": {"country": "GB", "city": "London", "postal_code": "EC1A 1BB"}},
            "defaults": {"tax_behavior": "inclusive", "tax_code": "txcd_10103000"},
        },
        options=as_teacher,
    )
    assert (updated.status, updated.status_details.to_dict()) == ("active", {"active": {}})
    assert (updated.head_office.address.city, updated.defaults.tax_behavior) == ("London", "inclusive")
    assert fake.tax_settings(teacher)["defaults"]["tax_code"] == "txcd_10103000"
    assert stripe_client.v1.tax.settings.retrieve().defaults.tax_behavior is None  # the platform's are its own
    assert fake.clear_tax_settings()["status"] == "pending"


@pytest.mark.parametrize(
    ("address", "param"),
    [
        ({"country": "XX"}, "head_office[address][country]"),
        ({"country": "gb"}, "head_office[address][country]"),
        ({"country": "US", "postal_code": "10001"}, "head_office[address][state]"),
    ],
)
def test_tax_settings_refuse_a_bad_head_office(
    fake: FakeStripe, stripe_client: stripe.StripeClient, address: dict, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.tax.settings.update(params={"head_office": {"address": address}})
    assert (caught.value.http_status, caught.value.param) == (400, param)


def test_tax_api_refuses_an_account_it_does_not_know(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.PermissionError, match="does not have access to account 'acct_nobody'"):
        stripe_client.v1.tax.settings.retrieve(options={"stripe_account": "acct_nobody"})


def test_tax_registrations(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    registrations = stripe_client.v1.tax.registrations
    ny = registrations.create(
        params={
            "country": "US",
            "country_options": {"us": {"type": "state_sales_tax", "state": "NY"}},
            "active_from": "now",
        }
    )
    assert (ny.object, ny.status, ny.country, ny.expires_at) == ("tax.registration", "active", "US", None)
    assert ny.country_options.us.to_dict() == {"type": "state_sales_tax", "state": "NY"}
    registrations.create(
        params={
            "country": "US",
            "country_options": {"us": {"type": "state_sales_tax", "state": "CA"}},
            "active_from": "now",
        }
    )
    with pytest.raises(stripe.InvalidRequestError, match="already exists") as caught:
        registrations.create(
            params={
                "country": "US",
                "country_options": {"us": {"type": "state_sales_tax", "state": "NY"}},
                "active_from": "now",
            }
        )
    assert caught.value.param == "country"

    later = int(time.time()) + 86400
    scheduled = registrations.create(
        params={"country": "IE", "country_options": {"ie": {"type": "oss_union"}}, "active_from": later}
    )
    assert scheduled.status == "scheduled"
    ended = registrations.update(ny.id, params={"expires_at": "now"})
    assert ended.status == "expired"
    assert {r.id for r in registrations.list(params={"status": "active"}).data} == {
        r["id"] for r in fake.tax_registrations.values() if r["status"] == "active"
    }
    listed = registrations.list(params={"status": "expired"})
    assert ([r.id for r in listed.data], listed.has_more, listed.url) == ([ny.id], False, "/v1/tax/registrations")
    assert len(registrations.list().data) == 3
    assert registrations.retrieve(scheduled.id).status == "scheduled"
    again = registrations.create(
        params={
            "country": "US",
            "country_options": {"us": {"type": "state_sales_tax", "state": "NY"}},
            "active_from": "now",
        }
    )
    assert again.status == "active"  # the expired one no longer stands in the way

    teacher = fake.add_account()["id"]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        registrations.retrieve(ny.id, options={"stripe_account": teacher})
    assert missing.value.http_status == 404
    assert registrations.list(options={"stripe_account": teacher}).data == []


@pytest.mark.parametrize(
    ("country", "options", "param"),
    [
        ("US", {"us": {"type": "state_sales_tax"}}, "country_options[us][state]"),
        ("US", {"us": {"type": "standard", "state": "NY"}}, "country_options[us][type]"),
        ("DE", {"de": {"type": "province_standard"}}, "country_options[de][type]"),
        ("GB", {"gb": {"type": "oss_union"}}, "country_options[gb][type]"),
        ("CA", {"ca": {"type": "province_standard"}}, "country_options[ca][province_standard][province]"),
        ("GB", {"de": {"type": "standard"}}, "country_options"),
        ("XX", {"xx": {"type": "standard"}}, "country"),
    ],
)
def test_tax_registrations_are_typed_per_country(
    stripe_client: stripe.StripeClient, country: str, options: dict, param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.tax.registrations.create(
            params={"country": country, "country_options": options, "active_from": "now"}
        )
    assert (caught.value.http_status, caught.value.param) == (400, param)


def test_session_with_automatic_tax_and_tax_ids(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    fake.register_for_tax("US", state="NY")
    fake.set_tax_rate("US", "8.875", state="NY")
    coupon = stripe_client.v1.coupons.create(params={"amount_off": 2000, "currency": "usd", "duration": "once"})
    teacher = fake.add_account()["id"]
    session = stripe_client.v1.checkout.sessions.create(
        params=tax_session_params(
            discounts=[{"coupon": coupon.id}],
            payment_intent_data={
                "application_fee_amount": 1500,
                "on_behalf_of": teacher,
                "transfer_data": {"destination": teacher},
            },
        )
    )
    assert session.automatic_tax.to_dict() == {
        "enabled": True,
        "liability": {"type": "self"},
        "provider": "stripe",
        "status": "requires_location_inputs",
    }
    assert (session.amount_total, session.total_details.amount_tax) == (8000, 0)
    assert session.tax_id_collection.to_dict() == {"enabled": True, "required": "never"}
    assert fake.tax_codes(session.id) == ["txcd_10103000"]
    assert fake.line_items(session.id)[0]["price"]["tax_behavior"] == "exclusive"

    paid = fake.complete_session(session.id, fee=300, postal_code="10001", state="NY")

    assert (paid["amount_subtotal"], paid["total_details"]["amount_tax"], paid["amount_total"]) == (10000, 710, 8710)
    assert paid["automatic_tax"]["status"] == "complete"
    assert paid["customer_details"] == {
        "address": {"city": None, "country": "US", "line1": None, "line2": None, "postal_code": "10001", "state": "NY"},
        "email": "ann@example.com",
        "name": None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    [tax] = fake.total_taxes(session.id)
    assert (tax["amount"], tax["taxable_amount"], tax["taxability_reason"]) == (710, 8000, "standard_rated")
    intent = stripe_client.v1.payment_intents.retrieve(
        paid["payment_intent"], params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert (intent.amount, intent.application_fee_amount, intent.on_behalf_of) == (8710, 1500, teacher)
    assert (intent.latest_charge.amount, intent.latest_charge.balance_transaction.net) == (8710, 8410)


@pytest.mark.parametrize(
    ("buyer", "tax_ids", "tax", "reason"),
    [
        ({"country": "GB", "postal_code": "SW1A 1AA"}, None, 1667, "standard_rated"),  # 10000 − 10000 / 1.2
        ({"country": "GB"}, [("gb_vat", "GB123456789")], 1667, "standard_rated"),  # the same country: VAT due
        ({"country": "FR"}, None, 0, "not_collecting"),  # no registration there
        ({"country": "FR"}, [("eu_vat", "FR12345678901")], 0, "not_collecting"),
        ({"country": "US", "state": "NY"}, None, 0, "not_collecting"),
    ],
)
def test_inclusive_tax_where_the_teacher_is_registered(
    fake: FakeStripe, stripe_client: stripe.StripeClient, buyer: dict, tax_ids: list | None, tax: int, reason: str
) -> None:
    teacher = teacher_with_tax(fake, stripe_client)
    fake.set_tax_rate("GB", "20")
    fake.set_tax_rate("FR", "20")
    item = tax_session_params()["line_items"][0]
    item["price_data"].update(currency="gbp", tax_behavior="inclusive")
    session = stripe_client.v1.checkout.sessions.create(
        params=tax_session_params(
            line_items=[item], automatic_tax={"enabled": True, "liability": {"type": "account", "account": teacher}}
        )
    )

    paid = fake.complete_session(session.id, tax_ids=tax_ids, **buyer)

    assert (paid["total_details"]["amount_tax"], paid["amount_total"]) == (tax, 10000)
    assert paid["automatic_tax"]["liability"] == {"type": "account", "account": teacher}
    assert fake.total_taxes(session.id)[0]["taxability_reason"] == reason
    assert paid["customer_details"]["tax_ids"] == [{"type": t, "value": v} for t, v in tax_ids or []]


def test_a_buyers_tax_id_from_another_country_is_a_reverse_charge(
    fake: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    fake.register_for_tax("DE", type="oss_union")  # the platform's head office is in the US
    fake.set_tax_rate("DE", "19")
    session = stripe_client.v1.checkout.sessions.create(params=tax_session_params())

    paid = fake.complete_session(session.id, country="DE", tax_ids=[("eu_vat", "DE123456789")])

    assert (paid["total_details"]["amount_tax"], paid["amount_total"]) == (0, 10000)
    assert fake.total_taxes(session.id)[0]["taxability_reason"] == "reverse_charge"
    other = stripe_client.v1.checkout.sessions.create(params=tax_session_params())
    assert fake.complete_session(other.id, country="DE")["amount_total"] == 11900


def test_without_automatic_tax_there_is_none(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    fake.register_for_tax("US", state="NY")
    fake.set_tax_rate("US", "10")
    session = stripe_client.v1.checkout.sessions.create(params=session_params())
    assert session.automatic_tax.to_dict() == {"enabled": False, "liability": None, "provider": None, "status": None}
    assert session.tax_id_collection.enabled is False

    paid = fake.complete_session(session.id, state="NY")

    assert (paid["amount_total"], paid["total_details"]["amount_tax"]) == (6000, 0)
    assert fake.total_taxes(session.id) == []
    with pytest.raises(ValueError, match="doesn't collect tax IDs"):
        fake.complete_session(
            stripe_client.v1.checkout.sessions.create(params=session_params()).id, tax_ids=[("us_ein", "12-3456789")]
        )
    required = stripe_client.v1.checkout.sessions.create(
        params=tax_session_params(tax_id_collection={"enabled": True, "required": "if_supported"})
    )
    with pytest.raises(ValueError, match="requires a tax ID"):
        fake.complete_session(required.id)


def test_a_default_tax_behavior_stands_in_for_the_prices(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    teacher = teacher_with_tax(fake, stripe_client)
    stripe_client.v1.tax.settings.update(
        params={"defaults": {"tax_behavior": "inferred_by_currency"}}, options={"stripe_account": teacher}
    )
    fake.set_tax_rate("GB", "20")
    item = tax_session_params()["line_items"][0]
    del item["price_data"]["tax_behavior"]
    for currency, total in (("gbp", 10000), ("usd", 12000)):  # inclusive in pounds, exclusive in dollars
        item["price_data"]["currency"] = currency
        session = stripe_client.v1.checkout.sessions.create(
            params=tax_session_params(
                line_items=[item], automatic_tax={"enabled": True, "liability": {"type": "account", "account": teacher}}
            )
        )
        assert fake.complete_session(session.id, country="GB")["amount_total"] == total


def _unspecified(params: dict) -> dict:
    params["line_items"][0]["price_data"]["tax_behavior"] = "unspecified"
    return params


@pytest.mark.parametrize(
    ("make", "param", "message"),
    [
        (
            lambda teacher: tax_session_params(automatic_tax={"enabled": True, "liability": {"type": "account"}}),
            "automatic_tax[liability][account]",
            "Missing required param",
        ),
        (
            lambda teacher: tax_session_params(
                automatic_tax={"enabled": True, "liability": {"type": "account", "account": "acct_nobody"}}
            ),
            "automatic_tax[liability][account]",
            "No such account",
        ),
        (
            lambda teacher: tax_session_params(
                automatic_tax={"enabled": True, "liability": {"type": "account", "account": teacher}}
            ),
            "automatic_tax[enabled]",
            "head office",
        ),
        (lambda teacher: _unspecified(tax_session_params()), "line_items[0][price_data][tax_behavior]", "tax behavior"),
        (
            lambda teacher: tax_session_params(tax_id_collection={"enabled": False, "required": "if_supported"}),
            "tax_id_collection[required]",
            "if_supported",
        ),
        (
            lambda teacher: tax_session_params(payment_intent_data={"on_behalf_of": "acct_nobody"}),
            "payment_intent_data[on_behalf_of]",
            "No such account",
        ),
    ],
)
def test_automatic_tax_is_refused_as_stripe_refuses_it(
    fake: FakeStripe, stripe_client: stripe.StripeClient, make, param: str, message: str
) -> None:
    teacher = fake.add_account()["id"]  # its tax settings are still pending
    with pytest.raises(stripe.InvalidRequestError, match=message) as caught:
        stripe_client.v1.checkout.sessions.create(params=make(teacher))
    assert (caught.value.http_status, caught.value.param) == (400, param)


def test_automatic_tax_needs_the_platforms_tax_settings(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    fake.clear_tax_settings()
    with pytest.raises(stripe.InvalidRequestError, match="head office") as caught:
        stripe_client.v1.checkout.sessions.create(params=tax_session_params())
    assert caught.value.param == "automatic_tax[enabled]"


def subscription_tax_params(teacher: str, *, issuer: dict | None = None) -> dict:
    liable = {"type": "account", "account": teacher}
    return {
        "mode": "subscription",
        "success_url": "https://aqueduct.test/ok",
        "customer_email": "learner@example.org",
        "automatic_tax": {"enabled": True, "liability": liable},
        "tax_id_collection": {"enabled": True},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "gbp",
                    "unit_amount": 3000,
                    "tax_behavior": "exclusive",
                    "recurring": {"interval": "month"},
                    "product_data": {"name": "Course (3 monthly payments)"},
                },
            }
        ],
        "subscription_data": {
            "application_fee_percent": 10,
            "on_behalf_of": teacher,
            "transfer_data": {"destination": teacher},
            "invoice_settings": {"issuer": liable if issuer is None else issuer},
        },
    }


@pytest.mark.parametrize("issuer", [{"type": "self"}, {"type": "account", "account": "other"}])
def test_a_subscriptions_tax_liability_is_its_issuer(
    fake: FakeStripe, stripe_client: stripe.StripeClient, issuer: dict
) -> None:
    teacher = teacher_with_tax(fake, stripe_client)
    if issuer.get("account"):
        issuer["account"] = teacher_with_tax(fake, stripe_client)
    with pytest.raises(stripe.InvalidRequestError, match="same account") as caught:
        stripe_client.v1.checkout.sessions.create(params=subscription_tax_params(teacher, issuer=issuer))
    assert caught.value.param == "automatic_tax[liability]"


def test_subscription_invoices_carry_their_tax(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    teacher = teacher_with_tax(fake, stripe_client)
    fake.set_tax_rate("GB", "20")
    created = stripe_client.v1.checkout.sessions.create(params=subscription_tax_params(teacher))
    session = fake.complete_session(
        created.id, country="GB", postal_code="SW1A 1AA", tax_ids=[("gb_vat", "GB123456789")]
    )
    assert (session["amount_total"], session["total_details"]["amount_tax"]) == (3600, 600)

    subscription = stripe_client.v1.subscriptions.retrieve(session["subscription"])
    assert subscription.automatic_tax.liability.account == teacher
    assert (subscription.on_behalf_of, subscription.invoice_settings.issuer.account) == (teacher, teacher)
    [tax_id] = stripe_client.v1.customers.tax_ids.list(session["customer"]).data
    assert (tax_id.object, tax_id.type, tax_id.value, tax_id.country) == ("tax_id", "gb_vat", "GB123456789", "GB")
    assert fake.customers[session["customer"]]["address"]["postal_code"] == "SW1A 1AA"

    first = stripe_client.v1.invoices.retrieve(session["invoice"])
    renewal = fake.bill_next(subscription.id)
    for invoice in (first.to_dict(), renewal):
        assert (invoice["subtotal"], invoice["subtotal_excluding_tax"], invoice["total_excluding_tax"]) == (3000,) * 3
        assert (invoice["total"], invoice["amount_due"], invoice["amount_paid"], invoice["amount_remaining"]) == (
            3600,
            3600,
            3600,
            0,
        )
        [tax] = invoice["total_taxes"]
        assert {k: tax[k] for k in ("amount", "tax_behavior", "taxability_reason", "taxable_amount", "type")} == {
            "amount": 600,
            "tax_behavior": "exclusive",
            "taxability_reason": "standard_rated",
            "taxable_amount": 3000,
            "type": "tax_rate_details",
        }
        assert tax["tax_rate_details"]["tax_rate"].startswith("txr_")
        assert invoice["automatic_tax"]["status"] == "complete"
        assert (invoice["issuer"], invoice["on_behalf_of"]) == ({"type": "account", "account": teacher}, teacher)
        assert invoice["customer_tax_ids"] == [{"type": "gb_vat", "value": "GB123456789"}]
    [payment] = stripe_client.v1.invoice_payments.list(params={"invoice": renewal["id"]}).data
    intent = stripe_client.v1.payment_intents.retrieve(
        payment.payment.payment_intent, params={"expand": ["latest_charge"]}
    )
    assert (intent.amount, intent.application_fee_amount, intent.on_behalf_of) == (3600, 360, teacher)
    assert intent.latest_charge.amount == 3600


def test_a_schedule_phase_without_automatic_tax_turns_it_off(
    fake: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    """Stripe replaces phases whole: an update that doesn't resend automatic tax stops taxing the renewals."""
    teacher = teacher_with_tax(fake, stripe_client)
    fake.set_tax_rate("GB", "20")
    created = stripe_client.v1.checkout.sessions.create(params=subscription_tax_params(teacher))
    sub_id = fake.complete_session(created.id, country="GB")["subscription"]
    schedule = stripe_client.v1.subscription_schedules.create(params={"from_subscription": sub_id})
    phase = schedule.to_dict()["phases"][0]
    assert phase["automatic_tax"]["liability"] == {"type": "account", "account": teacher}
    liable = {"type": "account", "account": teacher}
    kept = {
        "items": [{"price": phase["items"][0]["price"], "quantity": 1}],
        "start_date": phase["start_date"],
        "duration": {"interval": "month", "interval_count": 3},
        "application_fee_percent": 10,
        "transfer_data": {"destination": teacher},
    }

    resent = {
        **kept,
        "automatic_tax": {"enabled": True, "liability": liable},
        "invoice_settings": {"issuer": liable},
        "on_behalf_of": teacher,
    }
    stripe_client.v1.subscription_schedules.update(schedule.id, params={"phases": [resent]})
    assert fake.bill_next(sub_id)["total"] == 3600

    stripe_client.v1.subscription_schedules.update(schedule.id, params={"phases": [kept]})
    forgot = fake.bill_next(sub_id)
    assert (forgot["total"], forgot["total_taxes"], forgot["automatic_tax"]["enabled"]) == (3000, [], False)
    assert (forgot["issuer"], forgot["on_behalf_of"]) == ({"type": "self"}, None)

    with pytest.raises(stripe.InvalidRequestError, match="same account") as caught:
        stripe_client.v1.subscription_schedules.update(
            schedule.id, params={"phases": [{**kept, "automatic_tax": {"enabled": True, "liability": liable}}]}
        )
    assert caught.value.param == "phases[0][automatic_tax][liability]"


def test_adaptive_pricing_converts_the_tax_too(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    fake.register_for_tax("US", state="NY")
    fake.set_tax_rate("US", "10", state="NY")
    session = stripe_client.v1.checkout.sessions.create(params=tax_session_params(allow_promotion_codes=True))

    paid = fake.complete_session(session.id, state="NY", discount=1000, presentment_currency="eur", fx_rate="0.9")

    assert (paid["amount_subtotal"], paid["amount_total"]) == (9000, 8910)
    assert (paid["total_details"]["amount_discount"], paid["total_details"]["amount_tax"]) == (900, 810)
    assert paid["currency_conversion"]["amount_total"] == 9900  # 10000 − 1000 + 10 % tax, in dollars
    assert fake.payment_intents[paid["payment_intent"]]["amount"] == 8910


# --------------------------------------------------------------------------- application fees


def fee_session(fake: FakeStripe, stripe_client: stripe.StripeClient, fee: int | None = 600) -> tuple[str, dict]:
    """A teacher and a paid destination charge of 60.00 USD with ``fee`` as the application fee."""
    teacher = stripe_client.v1.accounts.create(params={"type": "express", "email": "t@example.com"}).id
    pi_data: dict = {"transfer_data": {"destination": teacher}}
    if fee is not None:
        pi_data["application_fee_amount"] = fee
    session = stripe_client.v1.checkout.sessions.create(params=session_params(payment_intent_data=pi_data))
    return teacher, fake.complete_session(session.id)


def test_a_charge_carries_its_application_fee(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    teacher, session = fee_session(fake, stripe_client)

    intent = stripe_client.v1.payment_intents.retrieve(
        session["payment_intent"], params={"expand": ["latest_charge.application_fee"]}
    )
    charge = intent.latest_charge
    fee = charge.application_fee
    assert charge.application_fee_amount == 600
    assert fee.id.startswith("fee_")
    assert (fee.object, fee.amount, fee.amount_refunded, fee.refunded, fee.currency) == (
        "application_fee",
        600,
        0,
        False,
        "usd",
    )
    assert (fee.account, fee.originating_transaction, fee.livemode) == (teacher, charge.id, False)
    # A destination charge's fee is taken from the payment its transfer made on the connected account.
    assert fee.charge.startswith("py_")
    assert (fee.fee_source.type, fee.fee_source.charge) == ("charge", fee.charge)
    assert fee.application.startswith("ca_")
    assert fee.refunds.to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/application_fees/{fee.id}/refunds",
    }

    fetched = stripe_client.v1.application_fees.retrieve(
        fee.id, params={"expand": ["balance_transaction", "originating_transaction"]}
    )
    assert fetched.originating_transaction.id == charge.id
    txn = fetched.balance_transaction
    assert (txn.type, txn.amount, txn.fee, txn.net, txn.source) == ("application_fee", 600, 0, 600, fee.id)
    assert stripe_client.v1.charges.retrieve(charge.id, params={"expand": ["application_fee"]}).application_fee.id == (
        fee.id
    )
    assert [f.id for f in stripe_client.v1.application_fees.list(params={"charge": fee.charge}).data] == [fee.id]
    assert fake.application_fees[fee.id]["amount"] == 600


@pytest.mark.parametrize("fee", [None, 0])
def test_a_charge_without_a_positive_fee_has_none(
    fake: FakeStripe, stripe_client: stripe.StripeClient, fee: int | None
) -> None:
    _, session = fee_session(fake, stripe_client, fee=fee)
    charge = fake.charges[fake.payment_intents[session["payment_intent"]]["latest_charge"]]
    assert (charge["application_fee"], charge["application_fee_amount"]) == (None, fee)
    assert fake.application_fees == {}


def test_refund_an_application_fee(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    _, session = fee_session(fake, stripe_client)
    fee_id = fake.charges[fake.payment_intents[session["payment_intent"]]["latest_charge"]]["application_fee"]

    part = stripe_client.v1.application_fees.refunds.create(
        fee_id, params={"amount": 78, "metadata": {"order_id": "7"}}, options={"idempotency_key": "fee-7-1"}
    )
    again = stripe_client.v1.application_fees.refunds.create(
        fee_id, params={"amount": 78, "metadata": {"order_id": "7"}}, options={"idempotency_key": "fee-7-1"}
    )
    assert again.id == part.id
    assert part.id.startswith("fr_")
    assert (part.object, part.amount, part.currency, part.fee, part.metadata.to_dict()) == (
        "fee_refund",
        78,
        "usd",
        fee_id,
        {"order_id": "7"},
    )
    txn = stripe_client.v1.balance_transactions.retrieve(part.balance_transaction)
    assert (txn.type, txn.amount, txn.source) == ("application_fee_refund", -78, part.id)
    fee = stripe_client.v1.application_fees.retrieve(fee_id)
    assert (fee.amount_refunded, fee.refunded) == (78, False)
    assert [r.id for r in fee.refunds.data] == [part.id]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.application_fees.refunds.create(fee_id, params={"amount": 523})
    assert str(caught.value.user_message) == ("Refund amount ($5.23) is greater than unrefunded amount on fee ($5.22)")
    assert (caught.value.http_status, caught.value.param) == (400, "amount")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.application_fees.refunds.create(fee_id, params={"amount": 0})
    assert (caught.value.http_status, caught.value.param) == (400, "amount")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.application_fees.refunds.create("fee_nobody", params={"amount": 1})
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.application_fees.retrieve("fee_nobody")
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")

    rest = stripe_client.v1.application_fees.refunds.create(fee_id)
    assert rest.amount == 522
    fee = stripe_client.v1.application_fees.retrieve(fee_id)
    assert (fee.amount_refunded, fee.refunded) == (600, True)
    listed = stripe_client.v1.application_fees.refunds.list(fee_id)
    assert [r.id for r in listed.data] == [rest.id, part.id]  # newest first
    assert listed.url == f"/v1/application_fees/{fee_id}/refunds"
    with pytest.raises(stripe.InvalidRequestError, match="already been refunded"):
        stripe_client.v1.application_fees.refunds.create(fee_id)

    fetched = stripe_client.v1.application_fees.refunds.retrieve(fee_id, part.id, params={"expand": ["fee"]})
    assert fetched.fee.id == fee_id
    updated = stripe_client.v1.application_fees.refunds.update(fee_id, part.id, params={"metadata": {"note": "x"}})
    assert updated.metadata.to_dict() == {"order_id": "7", "note": "x"}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.application_fees.refunds.retrieve(fee_id, "fr_nobody")
    assert caught.value.http_status == 404


def test_a_charge_refund_gives_back_the_fee_in_proportion(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    _, session = fee_session(fake, stripe_client)  # 600 of 6000
    intent_id = session["payment_intent"]
    fee_id = fake.charges[fake.payment_intents[intent_id]["latest_charge"]]["application_fee"]

    def refund(amount: int | None = None, *, with_fee: bool = True) -> dict:
        params: dict = {"payment_intent": intent_id, "refund_application_fee": with_fee}
        if amount is not None:
            params["amount"] = amount
        stripe_client.v1.refunds.create(params=params)
        return stripe_client.v1.application_fees.retrieve(fee_id).to_dict()

    assert refund(1005)["amount_refunded"] == 101  # 600 × 1005 / 6000 = 100.5, rounded half up
    assert refund(1000, with_fee=False)["amount_refunded"] == 101
    stripe_client.v1.application_fees.refunds.create(fee_id, params={"amount": 450})
    assert refund(1000)["amount_refunded"] == 600  # 100 asked, only 49 left
    fee = refund()  # the rest of the charge: nothing left of the fee, no fee refund
    assert (fee["amount_refunded"], fee["refunded"]) == (600, True)
    assert [r["amount"] for r in fee["refunds"]["data"]] == [49, 450, 101]

    _, other = fee_session(fake, stripe_client)
    fee = fake.application_fees[
        fake.charges[fake.payment_intents[other["payment_intent"]]["latest_charge"]]["application_fee"]
    ]
    fake.refund_outside_app(other["payment_intent"], 1, refund_application_fee=True)  # 0.1 rounds to nothing
    assert fee["refunds"]["data"] == []
    fake.refund_outside_app(other["payment_intent"], 2999, refund_application_fee=True)  # 299.9
    assert fee["amount_refunded"] == 300
    fake.refund_outside_app(other["payment_intent"], refund_application_fee=True)  # the rest: all the fee left
    assert (fee["amount_refunded"], fee["refunded"]) == (600, True)
    assert [r["amount"] for r in fee["refunds"]["data"]] == [300, 300]


def test_a_subscription_invoices_charge_has_its_own_fee(fake: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    teacher = stripe_client.v1.accounts.create(params={"type": "express"}).id
    created = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "success_url": "https://aqueduct.test/ok",
            "customer_email": "learner@example.org",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 4545,
                        "recurring": {"interval": "month"},
                        "product_data": {"name": "Course (3 monthly payments)"},
                    },
                }
            ],
            "subscription_data": {"application_fee_percent": 10, "transfer_data": {"destination": teacher}},
        }
    )
    session = fake.complete_session(created.id)
    renewal = fake.bill_next(session["subscription"])

    fees = []
    for invoice_id in (session["invoice"], renewal["id"]):
        [payment] = stripe_client.v1.invoice_payments.list(params={"invoice": invoice_id}).data
        intent = stripe_client.v1.payment_intents.retrieve(
            payment.payment.payment_intent, params={"expand": ["latest_charge.application_fee"]}
        )
        fee = intent.latest_charge.application_fee
        assert (fee.amount, fee.account, fee.originating_transaction) == (455, teacher, intent.latest_charge.id)
        assert intent.latest_charge.application_fee_amount == 455  # 10 % of 45.45, rounded half up
        fees.append(fee.id)
    assert len(set(fees)) == 2
    assert len(fake.application_fees) == 2
