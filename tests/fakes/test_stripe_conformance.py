"""The fake Stripe API against Stripe's own description of its objects.

A full journey (promotion codes and coupons, Adaptive Pricing, another settlement currency, a delayed payment,
refunds in every status, disputes in every status, Connect onboarding, application fees and their refunds, Stripe
Tax on payments and subscriptions) is
driven through the real stripe library; then every object the fake holds or answered with, and every event
built around them, is checked against the fixture of its ``object`` in Stripe's OpenAPI
fixtures (tests/fakes/stripe_openapi): each key the fake emits exists there, with the same
JSON type (null on either side allowed), recursively. Status-like enums are checked against
the values stripe-python's annotations allow.

Where the fixture is silent (a key it leaves out, or shows as null or an empty list), the keys listed in
``BEYOND_FIXTURES`` are checked against stripe-python's class instead: each key the fake emits below them must be
an attribute of the matching inner class, and a string must be one of the values its ``Literal`` allows.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.fakes.stripe_api import FakeStripe

FIXTURES = json.loads((Path(__file__).parent / "stripe_openapi" / "fixtures3.json").read_text())["resources"]
# Maps whose keys are the caller's own, not Stripe's fields.
FREE_FORM = frozenset({"metadata"})
ENUMS = {
    "refund": {"status": stripe.Refund},
    "dispute": {"status": stripe.Dispute},
    "checkout.session": {"status": stripe.checkout.Session, "payment_status": stripe.checkout.Session},
    "payment_intent": {"status": stripe.PaymentIntent},
    "subscription": {"status": stripe.Subscription},
    "invoice": {"status": stripe.Invoice, "billing_reason": stripe.Invoice},
    "subscription_schedule": {"status": stripe.SubscriptionSchedule, "end_behavior": stripe.SubscriptionSchedule},
    "tax.settings": {"status": stripe.tax.Settings},
    "tax.registration": {"status": stripe.tax.Registration},
    "tax_id": {"type": stripe.TaxId},
    "balance_transaction": {"type": stripe.BalanceTransaction},
}
_Session, _Phase = stripe.checkout.Session, stripe.SubscriptionSchedule.Phase
# Keys Stripe's fixtures leave out (or show as null or []) though its objects have them, each mapped to the
# stripe-python class that has the key, which says what may be below it (the fixture of an invoice payment shows
# only `payment.type`; the app reads its PaymentIntent; a liability's `account` is only in the classes; the
# fixtures show no taxes and only a US registration).
BEYOND_FIXTURES: dict[tuple[str, ...], type] = {
    ("invoice_payment", "payment", "payment_intent"): stripe.InvoicePayment.Payment,
    ("checkout.session", "automatic_tax", "liability", "account"): _Session.AutomaticTax.Liability,
    ("checkout.session", "tax_id_collection"): _Session,
    ("checkout.session", "customer_details", "tax_ids"): _Session.CustomerDetails,
    ("subscription", "automatic_tax", "liability", "account"): stripe.Subscription.AutomaticTax.Liability,
    ("subscription", "invoice_settings", "issuer", "account"): stripe.Subscription.InvoiceSettings.Issuer,
    ("subscription_schedule", "phases", "automatic_tax"): _Phase,
    ("subscription_schedule", "phases", "invoice_settings", "issuer", "account"): _Phase.InvoiceSettings.Issuer,
    ("invoice", "automatic_tax", "liability", "account"): stripe.Invoice.AutomaticTax.Liability,
    ("invoice", "issuer", "account"): stripe.Invoice.Issuer,
    ("invoice", "total_taxes"): stripe.Invoice,
    ("invoice", "customer_tax_ids"): stripe.Invoice,
    ("invoice", "lines", "data", "taxes"): stripe.InvoiceLineItem,
    ("tax.settings", "status_details", "pending"): stripe.tax.Settings.StatusDetails,
    **{
        ("tax.registration", "country_options", cc): stripe.tax.Registration.CountryOptions for cc in ("gb", "de", "ca")
    },
}


def allowed_values(cls: type, attribute: str) -> frozenset[str]:
    """The values stripe-python allows for an attribute: its Literal annotation, else the values its docstring lists.

    (stripe.Refund.status is annotated plain `str`; its docstring names each status in backticks.)
    """
    literals = [
        arg for arg in typing.get_args(cls.__annotations__[attribute]) if typing.get_origin(arg) is typing.Literal
    ]
    if literals:
        return frozenset(value for literal in literals for value in typing.get_args(literal))
    body = ast.parse(inspect.getsource(cls)).body[0].body
    for node, doc in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == attribute:
            return frozenset(re.findall(r"`([a-z_]+)`", doc.value.value.split(".")[1]))
    raise LookupError(f"{cls.__name__}.{attribute} has no documented values")


def literals(annotation: Any) -> frozenset[str]:
    """The strings a stripe-python annotation allows (its `Literal`s, inside unions at any depth; empty: any)."""
    if typing.get_origin(annotation) is typing.Literal:
        return frozenset(typing.get_args(annotation))
    return frozenset(value for arg in typing.get_args(annotation) for value in literals(arg))


def library_mismatches(value: Any, owner: type, key: str, where: str) -> Iterator[str]:
    """Where `value`, found at `owner.key`, says something stripe-python's classes don't, recursively."""
    allowed = literals(owner.__annotations__[key])
    if isinstance(value, str) and allowed and value not in allowed:
        yield f"{where}: {value!r} is not a value stripe-python knows"
    inner = getattr(owner, "_inner_class_types", {}).get(key)
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            continue
        if inner is None:
            yield f"{where}: an object where stripe-python's {owner.__qualname__}.{key} is not one"
            continue
        for name, below in item.items():
            if name not in inner.__annotations__:
                yield f"{where}.{name}: no such key in stripe-python's {inner.__qualname__}"
            else:
                yield from library_mismatches(below, inner, name, f"{where}.{name}")


def json_type(value: Any) -> str:
    for kind, types in (("boolean", bool), ("integer", int), ("number", float), ("string", str)):
        if isinstance(value, types):
            return kind
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else type(value).__name__


def kind_of(value: Any) -> str | None:
    """The `object` a Stripe object names (None for a plain value or map)."""
    kind = value.get("object") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def mismatches(obj: dict, fixture: dict, path: str, chain: tuple[str, ...] = ()) -> Iterator[str]:
    """Where `obj` says something its fixture doesn't: an unknown key, or another JSON type.

    `chain` is the object's kind and the keys from it down to `obj` (for BEYOND_FIXTURES).
    """
    for key, value in obj.items():
        where = f"{path}.{key}"
        owner = BEYOND_FIXTURES.get((*chain, key))
        if key not in fixture or (owner is not None and fixture[key] in (None, [])):
            if owner is None or key not in owner.__annotations__:
                yield f"{where}: no such key in Stripe's fixture"
            else:
                yield from library_mismatches(value, owner, key, where)
            continue
        expected = fixture[key]
        if value is None or expected is None:
            continue
        if isinstance(value, str) and kind_of(expected) is not None:
            continue  # an expandable field, not expanded: the object's id
        if kind_of(value) in FIXTURES and kind_of(value) != kind_of(expected):
            yield from check(value, where)  # an expanded object, or an event's data.object
        elif json_type(value) != json_type(expected):
            yield f"{where}: {json_type(value)} where Stripe has {json_type(expected)}"
        elif isinstance(value, dict) and key not in FREE_FORM:
            yield from mismatches(value, expected, where, (*chain, key))
        elif isinstance(value, list) and expected:
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from (
                        check(item, f"{where}[{i}]")
                        if kind_of(item) in FIXTURES
                        else mismatches(item, expected[0], f"{where}[{i}]", (*chain, key))
                    )


def check(obj: dict, path: str = "") -> Iterator[str]:
    kind = obj.get("object")
    if kind not in FIXTURES:
        yield f"{path or kind}: Stripe has no fixture for object {kind!r}"
        return
    path = path or f"{kind} {obj.get('id')}"
    yield from mismatches(obj, FIXTURES[kind], path, (kind,))
    for attribute, cls in ENUMS.get(kind, {}).items():
        if obj.get(attribute) is not None and obj[attribute] not in allowed_values(cls, attribute):
            yield f"{path}.{attribute}: {obj[attribute]!r} is not a value stripe-python knows"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        yield running
    assert running.errors == [], "the fake itself crashed"


def journey(fake: FakeStripe) -> list[dict]:
    """Every object kind and status the app meets, through the API and the test controls; what was emitted."""
    client = stripe.StripeClient(
        "sk_test_fake", base_addresses={"api": fake.url, "connect": fake.url}, max_network_retries=0
    )
    emitted: list[dict] = []
    account = client.v1.accounts.create(params={"type": "express", "email": "creator@example.org"})
    client.v1.account_links.create(
        params={
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": "https://a",
            "return_url": "https://b",
        }
    )
    emitted.append(fake.update_account(account.id))

    def session(currency: str = "gbp", amount: int = 4900) -> str:
        created = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "allow_promotion_codes": True,
                "expires_at": int(time.time()) + 3600,
                "success_url": "https://aqueduct.test/ok",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": currency,
                            "unit_amount": amount,
                            "product_data": {"name": "Course"},
                        },
                    }
                ],
                "payment_intent_data": {"application_fee_amount": 490, "transfer_data": {"destination": account.id}},
            }
        )
        return created.id

    discounted = fake.complete_session(session(), discount=4500)  # below the application fee
    adaptive = fake.complete_session(session(), presentment_currency="eur", fx_rate="1.17")
    elsewhere = fake.complete_session(session(), settlement_currency="usd", exchange_rate="1.27", fee=220)
    free = fake.complete_session(session(), discount=4900)
    fake.complete_session(session("jpy", 5000), settlement_currency="usd", exchange_rate="0.0067")
    delayed = session("usd")
    fake.complete_session(delayed, paid=False)
    settled = fake.settle_async(delayed, succeeded=True)
    failed = session("usd")
    fake.complete_session(failed, paid=False)
    fake.settle_async(failed, succeeded=False)
    fake.expire_session(session())
    # Aqueduct's coupons: an amount off for one order, and a percentage, each on a session of its own.
    once = client.v1.coupons.create(
        params={"amount_off": 1200, "currency": "gbp", "duration": "once", "max_redemptions": 1, "name": "WELCOME"}
    )
    percent = client.v1.coupons.create(params={"percent_off": 25, "duration": "forever"})
    coupons = []
    for coupon in (once, percent):
        created = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "discounts": [{"coupon": coupon.id}],
                "success_url": "https://aqueduct.test/ok",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": "gbp", "unit_amount": 4900, "product_data": {"name": "C"}},
                    }
                ],
            }
        )
        coupons.append(fake.complete_session(created.id))
    emitted += [*coupons, client.v1.coupons.retrieve(once.id).to_dict()]
    emitted += [discounted, adaptive, elsewhere, free, settled]
    for done in (discounted, adaptive, elsewhere, settled):
        emitted.append(
            client.v1.payment_intents.retrieve(
                done["payment_intent"], params={"expand": ["latest_charge.balance_transaction"]}
            ).to_dict()
        )

    intent = fake.payment_intents[settled["payment_intent"]]
    fake.refunds_start_as("pending")
    pending = client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 500})
    emitted.append(fake.settle_refund(pending.id, "succeeded"))
    emitted.append(fake.settle_refund(pending.id, "failed"))
    canceled = client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 500})
    emitted.append(fake.settle_refund(canceled.id, "canceled"))
    fake.refunds_start_as("requires_action")
    client.v1.refunds.create(params={"payment_intent": intent["id"], "amount": 100})
    emitted.append(fake.refund_outside_app(intent["id"], 200, with_refunds=True))
    emitted.append(fake.refund_outside_app(adaptive["payment_intent"], 300, status="pending"))
    emitted += [r.to_dict() for r in client.v1.refunds.list(params={"charge": intent["latest_charge"]}).data]
    emitted.append(client.v1.refunds.retrieve(pending.id).to_dict())
    emitted.append(client.v1.charges.retrieve(intent["latest_charge"], params={"expand": ["refunds"]}).to_dict())

    charge_id = fake.payment_intents[elsewhere["payment_intent"]]["latest_charge"]
    for opened, moves, closed in (
        ("warning_needs_response", ["warning_under_review"], "warning_closed"),
        ("needs_response", ["under_review"], "won"),
        ("needs_response", [], "lost"),
        ("warning_needs_response", [], "prevented"),
    ):
        dispute = fake.open_dispute(charge_id, amount=1000, status=opened)
        emitted.append(dispute)
        emitted += [fake.update_dispute(dispute["id"], status) for status in moves]
        emitted.append(fake.close_dispute(dispute["id"], closed))

    emitted += fees_journey(fake, client, adaptive["payment_intent"], discounted["payment_intent"])
    emitted += billing_journey(fake, client, account.id)
    emitted += tax_journey(fake, client)
    emitted += [fake.event(f"{obj['object']}.updated", obj) for obj in list(emitted)]
    with fake._lock:
        for store in (
            fake.sessions,
            fake.payment_intents,
            fake.charges,
            fake.balance_transactions,
            fake.refunds,
            fake.accounts,
            fake.disputes,
            fake.coupons,
            *fake._billing_stores(),
            fake.portal_sessions,
            *fake._tax_stores(),
            fake.tax_settings_by_account,
            *fake._fee_stores(),
        ):
            emitted += list(store.values())
    return emitted


def fees_journey(fake: FakeStripe, client: stripe.StripeClient, intent_id: str, other_intent_id: str) -> list[dict]:
    """Application fees: read through the charge and on their own, refunded through their API, by a charge refund
    in proportion, and in the dashboard.
    """
    intent = client.v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge.application_fee"]})
    fee_id = intent.latest_charge.application_fee.id
    emitted = [intent.to_dict()]
    part = client.v1.application_fees.refunds.create(fee_id, params={"amount": 78, "metadata": {"order_id": "1"}})
    client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 1000, "refund_application_fee": True})
    emitted.append(client.v1.application_fees.refunds.update(fee_id, part.id, params={"metadata": {"note": "x"}}))
    emitted.append(client.v1.application_fees.refunds.retrieve(fee_id, part.id, params={"expand": ["fee"]}))
    emitted += client.v1.application_fees.refunds.list(fee_id).data
    emitted.append(
        client.v1.application_fees.retrieve(
            fee_id, params={"expand": ["balance_transaction", "originating_transaction"]}
        )
    )
    other = fake.payment_intents[other_intent_id]
    other_fee = fake.charges[other["latest_charge"]]["application_fee"]
    emitted.append(fake.refund_fee_outside_app(other_fee, 10))
    emitted.append(fake.refund_outside_app(other_intent_id, refund_application_fee=True))
    emitted += client.v1.application_fees.list(params={"charge": fake.application_fees[other_fee]["charge"]}).data
    emitted.append(client.v1.charges.retrieve(other["latest_charge"], params={"expand": ["application_fee"]}))
    return [obj if isinstance(obj, dict) else obj.to_dict() for obj in emitted]


def billing_journey(fake: FakeStripe, client: stripe.StripeClient, account_id: str) -> list[dict]:
    """A payment plan's life: subscription Checkout, a schedule that ends it, paid, failed, unpaid, paid by hand."""
    created = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "success_url": "https://aqueduct.test/ok",
            "customer_email": "learner@example.org",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 4500,
                        "recurring": {"interval": "month"},
                        "product_data": {"name": "Course (3 monthly payments)"},
                    },
                }
            ],
            "subscription_data": {
                "application_fee_percent": 10,
                "transfer_data": {"destination": account_id},
                "metadata": {"order_id": "1", "plan_id": "1"},
            },
        }
    )
    session = fake.complete_session(created.id)
    sub_id = session["subscription"]
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub_id})
    phase = schedule.to_dict()["phases"][0]
    client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": phase["items"][0]["price"], "quantity": 1}],
                    "start_date": phase["start_date"],
                    "duration": {"interval": "month", "interval_count": 3},
                }
            ],
        },
    )
    emitted = [session, fake.bill_next(sub_id)]
    failed = fake.bill_next(sub_id, succeed=False)
    emitted += [failed, fake.retry_invoice(failed["id"], succeed=False), fake.give_up(sub_id)]
    emitted.append(fake.pay_invoice(failed["id"]))
    emitted.append(fake.bill_next(sub_id))  # the schedule's phase is over: canceled, not billed
    emitted.append(client.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice"]}).to_dict())
    emitted.append(client.v1.invoices.retrieve(failed["id"]).to_dict())
    emitted += [p.to_dict() for p in client.v1.invoice_payments.list(params={"invoice": failed["id"]}).data]
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": session["customer"], "flow_data": {"type": "payment_method_update"}}
    )
    emitted.append(portal.to_dict())
    return emitted


def tax_journey(fake: FakeStripe, client: stripe.StripeClient) -> list[dict]:
    """Stripe Tax: settings and registrations of the platform and a connected account, a payment with VAT and a
    tax ID, a subscription taxed for the connected account, then a schedule phase that forgets automatic tax.
    """
    teacher = client.v1.accounts.create(params={"type": "express", "country": "GB"}).id
    as_teacher = {"stripe_account": teacher}
    emitted = [client.v1.tax.settings.retrieve(options=as_teacher).to_dict()]
    office = {"address": {"country": "GB", "postal_code": "EC1A 1BB", "city": "London", "line1": "1 Long Lane"}}
    settings = client.v1.tax.settings.update(
        params={"head_office": office, "defaults": {"tax_behavior": "inclusive", "tax_code": "txcd_10103000"}},
        options=as_teacher,
    )
    emitted.append(settings.to_dict())
    client.v1.tax.settings.update(params={"defaults": {"tax_behavior": "exclusive"}})
    emitted.append(client.v1.tax.settings.retrieve().to_dict())
    for country, options in (
        ("US", {"us": {"type": "state_sales_tax", "state": "NY"}}),
        ("DE", {"de": {"type": "oss_union"}}),
        ("GB", {"gb": {"type": "standard"}}),
        ("CA", {"ca": {"type": "province_standard", "province_standard": {"province": "BC"}}}),
    ):
        created = client.v1.tax.registrations.create(
            params={"country": country, "country_options": options, "active_from": "now"}
        )
        emitted.append(created.to_dict())
    later = client.v1.tax.registrations.create(
        params={"country": "GB", "country_options": {"gb": {"type": "standard"}}, "active_from": "now"},
        options=as_teacher,
    )
    ended = client.v1.tax.registrations.update(later.id, params={"expires_at": "now"}, options=as_teacher)
    emitted.append(ended.to_dict())
    tomorrow = int(time.time()) + 86400
    fake.register_for_tax("GB", account_id=teacher, expires_at=tomorrow)  # in force until tomorrow, then renewed
    fake.register_for_tax("GB", account_id=teacher, active_from=tomorrow)
    emitted += [r.to_dict() for r in client.v1.tax.registrations.list(params={"status": "all"}, options=as_teacher)]
    fake.set_tax_rate("DE", "19")
    fake.set_tax_rate("GB", "20")
    fake.set_tax_rate("US", "8.875", state="NY")

    def item(**price: object) -> dict:
        product = {"name": "Course", "tax_code": "txcd_10103000"}
        return {"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 5000, "product_data": product, **price}}

    payment = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://aqueduct.test/ok",
            "line_items": [item(tax_behavior="exclusive")],
            "automatic_tax": {"enabled": True},
            "tax_id_collection": {"enabled": True, "required": "if_supported"},
        }
    )
    emitted.append(payment.to_dict())
    emitted.append(
        fake.complete_session(payment.id, country="DE", postal_code="10115", tax_ids=[("eu_vat", "DE123456789")])
    )
    liable = {"type": "account", "account": teacher}
    created = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "success_url": "https://aqueduct.test/ok",
            "customer_email": "learner@example.org",
            "line_items": [item(recurring={"interval": "month"})],
            "automatic_tax": {"enabled": True, "liability": liable},
            "tax_id_collection": {"enabled": True},
            "subscription_data": {
                "application_fee_percent": 10,
                "on_behalf_of": teacher,
                "transfer_data": {"destination": teacher},
                "invoice_settings": {"issuer": liable},
            },
        }
    )
    session = fake.complete_session(
        created.id, country="GB", postal_code="SW1A 1AA", tax_ids=[("gb_vat", "GB123456789")]
    )
    sub_id = session["subscription"]
    emitted += [session, fake.bill_next(sub_id)]
    emitted += [t.to_dict() for t in client.v1.customers.tax_ids.list(session["customer"])]
    schedule = client.v1.subscription_schedules.create(params={"from_subscription": sub_id})
    emitted.append(schedule.to_dict())
    phase = schedule.to_dict()["phases"][0]
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "items": [{"price": phase["items"][0]["price"], "quantity": 1}],
                    "start_date": phase["start_date"],
                    "duration": {"interval": "month", "interval_count": 3},
                }
            ],
        },
    )
    emitted += [updated.to_dict(), fake.bill_next(sub_id), fake.subscription(sub_id)]
    return emitted


def test_every_object_the_fake_emits_has_stripes_shape(fake):
    emitted = journey(fake)

    problems = [problem for obj in emitted for problem in check(obj)]

    assert problems == []
    seen = {(obj["object"], obj.get("status")) for obj in emitted}
    for status in ("pending", "requires_action", "succeeded", "failed", "canceled"):
        assert ("refund", status) in seen
    for status in ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response"):
        assert ("dispute", status) in seen
    for status in ("under_review", "won", "lost", "prevented"):
        assert ("dispute", status) in seen
    kinds = {obj["object"] for obj in emitted}
    assert kinds == set(FIXTURES)


def test_a_key_stripe_does_not_have_is_caught(fake):
    """The check itself: a misspelt key, a wrong type and an unknown status are each reported."""
    session = next(obj for obj in journey(fake) if obj["object"] == "checkout.session")
    misspelt = {**session, "amount_totl": session["amount_total"]}
    retyped = {**session, "total_details": {**session["total_details"], "amount_discount": "10"}}
    unknown = {**session, "payment_status": "half_paid"}

    assert [p for p in check(misspelt) if "amount_totl" in p]
    assert [p for p in check(retyped) if "amount_discount: string" in p]
    assert [p for p in check(unknown) if "half_paid" in p]
