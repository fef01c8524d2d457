"""Payment providers: Stripe (when STRIPE_SECRET_KEY is set) and the built-in test mode.

This is the only module that imports `stripe`. The rest of the app speaks to a
provider through the small interface below and never sees the SDK's objects: a
checkout is a `Checkout`, a payment is a `Payment`, a refund a `RefundResult`.

Both providers end in the same place: `checkout.services.fulfil_order`, called by the
webhook, by the success page and by the test-mode Pay button.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import stripe
from flask import current_app

from ..formatting import minor_units
from ..ids import MAX_INTEGER, parse_id
from ..models import CreatorProfile, Order, PaymentProvider
from ..request_guard import TEXT_FORBIDDEN, strict_loads

if TYPE_CHECKING:
    from stripe._requestor_options import BaseAddresses
    from stripe.params import AccountCreateParams, AccountLinkCreateParams, RefundCreateParams
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsPaymentIntentData

# Stripe's standard card pricing, used to estimate the processor fee in test mode.
TEST_MODE_FEE_PERCENT_BP = 290  # 2.9 %, in basis points
TEST_MODE_FEE_FIXED_CENTS = 30
WEBHOOK_TOLERANCE_SECONDS = 300
STRIPE_TIMEOUT_SECONDS = 20
# The Stripe API version this code reads: the one the installed stripe library is built for.
# The client sends it on every request; set both webhook endpoints (platform and Connect) to
# it in the Dashboard, or events arrive in another shape (see the README).
STRIPE_API_VERSION = "2026-10-28.endive"


class PaymentsError(Exception):
    """The provider could not do what was asked; `message` is safe to show to the person who asked."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class WebhookError(ValueError):
    """A webhook delivery that is not from the provider, or is too old to trust."""


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything a provider needs to open a hosted checkout for one order."""

    order: Order
    title: str
    learner_email: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    destination_account: str | None
    application_fee_cents: int


@dataclass(frozen=True)
class CheckoutTotals:
    """What a completed checkout charged, as the provider reports it, to be checked against the order."""

    currency: str | None = None
    amount_subtotal: int | None = None  # before promotion codes
    amount_total: int | None = None  # what the learner paid
    amount_discount: int = 0


@dataclass(frozen=True)
class Checkout:
    """A hosted checkout as the provider sees it."""

    id: str
    url: str
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    payment_intent_id: str | None
    order_id: int | None
    totals: CheckoutTotals | None = None

    @property
    def is_paid(self) -> bool:
        return self.status == "complete" and self.payment_status in ("paid", "no_payment_required")

    @property
    def is_processing(self) -> bool:
        """Completed with a delayed method: the money has not arrived yet."""
        return self.status == "complete" and self.payment_status == "unpaid"


@dataclass(frozen=True)
class Payment:
    """What a successful payment cost: the charge, the processor's fee and the platform fee really taken.

    `processor_fee_cents` is in the order's currency; when the payment settled in another
    currency, `settlement_currency` and `processor_fee_settled_cents` say what it was there.
    """

    charge_id: str | None
    processor_fee_cents: int
    fee_estimated: bool
    settlement_currency: str | None = None
    processor_fee_settled_cents: int | None = None
    application_fee_cents: int | None = None  # None: not reported, keep what was asked for


@dataclass(frozen=True)
class RefundResult:
    """One refund as the provider reports it; `status` is pending, succeeded, failed or canceled."""

    id: str
    amount_cents: int
    status: str = "succeeded"


@dataclass(frozen=True)
class AccountStatus:
    id: str
    charges_enabled: bool
    details_submitted: bool
    payouts_enabled: bool


def estimated_fee(amount_cents: int) -> int:
    """Stripe's card price (2.9 % + 30¢), rounded half up, never more than the amount."""
    if amount_cents <= 0:
        return 0
    return min(amount_cents, (amount_cents * TEST_MODE_FEE_PERCENT_BP + 5_000) // 10_000 + TEST_MODE_FEE_FIXED_CENTS)


class Payments(Protocol):
    kind: PaymentProvider

    def create_checkout(self, request: CheckoutRequest) -> Checkout: ...
    def retrieve_checkout(self, checkout_id: str) -> Checkout: ...
    def expire_checkout(self, checkout_id: str) -> Checkout: ...
    def payment(self, order: Order) -> Payment: ...
    def refund(self, order: Order, amount_cents: int, reason: str) -> RefundResult: ...
    def refunds_of(self, charge_id: str) -> list[RefundResult]: ...
    def dispute_status(self, dispute_id: str) -> str: ...
    def create_account(self, profile: CreatorProfile, email: str) -> str: ...
    def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str: ...
    def account_status(self, account_id: str) -> AccountStatus: ...


# ---------------------------------------------------------------------------
# Stripe
# ---------------------------------------------------------------------------


def _stripe_error_message(exc: stripe.StripeError) -> PaymentsError:
    if isinstance(exc, stripe.APIConnectionError):
        return PaymentsError("We couldn't reach our payment processor. Nothing was charged; please try again.")
    if isinstance(exc, stripe.RateLimitError):
        return PaymentsError("Our payment processor is busy. Nothing was charged; please try again in a minute.")
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        message = exc.user_message or "The payment processor refused the request."
        return PaymentsError(message, retryable=False)
    return PaymentsError("Our payment processor had a problem. Nothing was charged; please try again in a minute.")


class StripePayments:
    """Stripe Checkout with destination charges to the creator's connected account."""

    kind = PaymentProvider.STRIPE

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    @classmethod
    def from_config(cls, config) -> StripePayments:
        base = config.get("STRIPE_API_BASE")
        addresses: BaseAddresses | None = {"api": base, "connect": base} if base else None
        client = stripe.StripeClient(
            config["STRIPE_SECRET_KEY"],
            stripe_version=STRIPE_API_VERSION,
            base_addresses=addresses,
            max_network_retries=config.get("STRIPE_MAX_RETRIES", 2),
            http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
        )
        return cls(client)

    @staticmethod
    def _checkout(session) -> Checkout:
        session = _plain(session)
        intent = session.get("payment_intent")
        if intent is not None and not isinstance(intent, str):
            intent = intent["id"]
        reference = session.get("client_reference_id")
        return Checkout(
            id=session["id"],
            url=session.get("url") or "",
            status=session["status"],
            payment_status=session["payment_status"],
            payment_intent_id=intent,
            order_id=order_reference(reference),
            totals=_checkout_totals(session),
        )

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        order = request.order
        metadata = {"order_id": str(order.id), "course_id": str(order.course_id), "learner_id": str(order.learner_id)}
        intent_data: SessionCreateParamsPaymentIntentData = {"metadata": metadata}
        if request.destination_account:
            intent_data["application_fee_amount"] = request.application_fee_cents
            intent_data["transfer_data"] = {"destination": request.destination_account}
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": str(order.id),
            "customer_email": request.learner_email,
            "metadata": metadata,
            "allow_promotion_codes": True,
            # One currency end to end: a converted charge would bring refunds and disputes in the
            # customer's currency, which the order's figures can't take.
            "adaptive_pricing": {"enabled": False},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": order.currency.lower(),
                        "unit_amount": order.amount_cents,
                        "product_data": {"name": request.title},
                    },
                }
            ],
            "payment_intent_data": intent_data,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        try:
            session = self.client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"aqueduct-checkout-order-{order.id}"}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return self._checkout(session)

    def retrieve_checkout(self, checkout_id: str) -> Checkout:
        try:
            return self._checkout(self.client.v1.checkout.sessions.retrieve(checkout_id))
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def expire_checkout(self, checkout_id: str) -> Checkout:
        try:
            return self._checkout(self.client.v1.checkout.sessions.expire(checkout_id))
        except stripe.InvalidRequestError:
            # Already completed or expired: report what it is now.
            return self.retrieve_checkout(checkout_id)
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def payment(self, order: Order) -> Payment:
        """The charge and Stripe's actual fee, from the payment's balance transaction."""
        if not order.payment_intent_id or order.amount_cents == 0:
            # A promotion code took the price to zero: no payment, no charge, no fee.
            return Payment(charge_id=None, processor_fee_cents=0, fee_estimated=False)
        try:
            intent = self.client.v1.payment_intents.retrieve(
                order.payment_intent_id, params={"expand": ["latest_charge.balance_transaction"]}
            )
        except stripe.StripeError:
            current_app.logger.warning("order %s: fee not readable from Stripe; estimated", order.id)
            return Payment(charge_id=None, processor_fee_cents=estimated_fee(order.amount_cents), fee_estimated=True)
        charge = _plain(intent).get("latest_charge")
        balance = charge.get("balance_transaction") if charge and not isinstance(charge, str) else None
        if charge is None or balance is None or isinstance(balance, str):
            charge_id = charge if isinstance(charge, str) else (charge["id"] if charge else None)
            return Payment(charge_id, estimated_fee(order.amount_cents), fee_estimated=True)
        fee_taken = charge.get("application_fee_amount")
        settled_in = str(balance["currency"]).upper()
        fee = fee_in(
            order.currency, int(balance["fee"]), settled_in, str(charge["currency"]), balance.get("exchange_rate")
        )
        return Payment(
            charge_id=charge["id"],
            processor_fee_cents=estimated_fee(order.amount_cents) if fee is None else fee,
            fee_estimated=fee is None,
            settlement_currency=settled_in,
            processor_fee_settled_cents=int(balance["fee"]),
            application_fee_cents=int(fee_taken) if fee_taken is not None else None,
        )

    def refund(self, order: Order, amount_cents: int, reason: str) -> RefundResult:
        if order.payment_intent_id is None:
            raise PaymentsError("This order has no card payment to refund.", retryable=False)
        params: RefundCreateParams = {
            "payment_intent": order.payment_intent_id,
            "amount": amount_cents,
            "metadata": {"order_id": str(order.id), "reason": reason[:500]},
        }
        if order.platform_fee_cents:
            # Destination charge: take the creator's share back and return the platform's share of the fee.
            params["reverse_transfer"] = True
            params["refund_application_fee"] = True
        # One key per order and refunds recorded so far, failed ones included: a retry of a request
        # whose answer was lost refunds once, and a refund asked for after one failed is a new one.
        key = f"aqueduct-refund-order-{order.id}-after-{len(order.refunds)}-amount-{amount_cents}"
        try:
            refund = self.client.v1.refunds.create(params=params, options={"idempotency_key": key})
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return _refund_result(refund)

    def refunds_of(self, charge_id: str) -> list[RefundResult]:
        """Every refund of a charge, as Stripe has them now (a `charge.refunded` event no longer carries them)."""
        try:
            listed = self.client.v1.refunds.list(params={"charge": charge_id, "limit": 100})
            return [_refund_result(refund) for refund in listed.auto_paging_iter()]
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def dispute_status(self, dispute_id: str) -> str:
        """A dispute's status as Stripe has it now (its events can arrive in any order)."""
        try:
            dispute = _plain(self.client.v1.disputes.retrieve(dispute_id))
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return str(dispute["status"])

    def create_account(self, profile: CreatorProfile, email: str) -> str:
        params: AccountCreateParams = {
            "type": "express",
            "email": email,
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "business_profile": {"product_description": "Courses and workshops for clinicians, sold on Aqueduct"},
            "metadata": {"creator_profile_id": str(profile.id)},
        }
        try:
            account = self.client.v1.accounts.create(
                params=params, options={"idempotency_key": f"aqueduct-account-creator-{profile.id}"}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return account["id"]

    def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        params: AccountLinkCreateParams = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        try:
            link = self.client.v1.account_links.create(params=params)
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return link["url"]

    def account_status(self, account_id: str) -> AccountStatus:
        try:
            account = self.client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return account_status_from(account)


def _refund_result(refund) -> RefundResult:
    refund = _plain(refund)
    return RefundResult(id=refund["id"], amount_cents=int(refund["amount"]), status=refund_status(refund.get("status")))


def refund_status(status: object) -> str:
    """Stripe's refund status as ours: requires_action (and anything new) is still pending."""
    return status if status in ("succeeded", "failed", "canceled") else "pending"


def fee_in(currency: str, fee: int, settled_in: str, charged_in: str, exchange_rate: object) -> int | None:
    """A processor fee settled in `settled_in` as minor units of `currency` (None: it can't be converted).

    A balance transaction's `exchange_rate` is how many units of the settlement currency one
    unit of the charge's currency bought; minor units differ between currencies (¥1 is one,
    $1 is a hundred).
    """
    if settled_in.upper() == currency.upper():
        return fee
    if charged_in.upper() != currency.upper() or exchange_rate is None:
        return None
    try:
        rate = Decimal(str(exchange_rate))
    except InvalidOperation:
        return None
    if not rate.is_finite() or rate <= 0:
        return None
    units = Decimal(fee) / minor_units(settled_in) / rate
    return int((units * minor_units(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _checkout_totals(session: dict) -> CheckoutTotals:
    """The amounts of a Checkout Session (from the API or an event), unchecked: see `_checkout_facts`."""
    details = session.get("total_details") or {}
    currency = session.get("currency")
    return CheckoutTotals(
        currency=currency.upper() if isinstance(currency, str) else None,
        amount_subtotal=session.get("amount_subtotal"),
        amount_total=session.get("amount_total"),
        amount_discount=details.get("amount_discount") or 0,
    )


def _plain(obj) -> dict:
    """A Stripe object as plain nested dicts (the SDK's objects are not dicts)."""
    return obj.to_dict() if isinstance(obj, stripe.StripeObject) else obj


def account_status_from(account) -> AccountStatus:
    """An Account object (from the API or an `account.updated` event) as the app's status."""
    account = _plain(account)
    return AccountStatus(
        id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        payouts_enabled=bool(account.get("payouts_enabled")),
    )


# ---------------------------------------------------------------------------
# Test mode
# ---------------------------------------------------------------------------


class TestModePayments:
    """No money moves: the learner pays or declines on `/checkout/test/<order>`, inside the app."""

    kind = PaymentProvider.TEST

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        order = request.order
        return Checkout(
            id=f"test_{order.id}",
            url=f"/checkout/test/{order.id}",
            status="open",
            payment_status="unpaid",
            payment_intent_id=None,
            order_id=order.id,
        )

    def retrieve_checkout(self, checkout_id: str) -> Checkout:
        raise PaymentsError("Test-mode checkouts live in the app; there is nothing to retrieve.", retryable=False)

    def expire_checkout(self, checkout_id: str) -> Checkout:
        order_id = int(checkout_id.removeprefix("test_"))
        return Checkout(checkout_id, "", "expired", "unpaid", None, order_id)

    def payment(self, order: Order) -> Payment:
        return Payment(
            charge_id=f"test_charge_{order.id}",
            processor_fee_cents=estimated_fee(order.amount_cents),
            fee_estimated=True,
        )

    def refund(self, order: Order, amount_cents: int, reason: str) -> RefundResult:
        return RefundResult(
            id=f"test_refund_{order.id}_{order.refunded_cents}_{amount_cents}", amount_cents=amount_cents
        )

    def refunds_of(self, charge_id: str) -> list[RefundResult]:
        return []

    def dispute_status(self, dispute_id: str) -> str:
        raise PaymentsError("Test-mode payments can't be disputed.", retryable=False)

    def create_account(self, profile: CreatorProfile, email: str) -> str:
        raise PaymentsError("Test mode needs no Stripe account: payments work as they are.", retryable=False)

    def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        raise PaymentsError("Test mode needs no Stripe account: payments work as they are.", retryable=False)

    def account_status(self, account_id: str) -> AccountStatus:
        return AccountStatus(account_id, True, True, True)


def get_payments() -> Payments:
    """Stripe when a secret key is configured, the test-mode checkout when it is enabled.

    With neither (production without Stripe, the test checkout not allowed), nothing can be sold.
    """
    config = current_app.config
    if config["STRIPE_SECRET_KEY"]:
        return StripePayments.from_config(config)
    if config["TEST_CHECKOUT_ENABLED"]:
        return TestModePayments()
    raise PaymentsError("This site can't take payments yet, so nothing was charged.", retryable=False)


def payments_for(order: Order) -> Payments:
    """The provider that took this order's money, whatever mode the app is in now.

    A Stripe order is only ever refunded through Stripe: with no Stripe key configured
    this raises, rather than marking money as returned that never moved.
    """
    if order.provider is PaymentProvider.TEST:
        return TestModePayments()
    if not current_app.config["STRIPE_SECRET_KEY"]:
        raise PaymentsError(
            "This order was paid through Stripe, and Stripe isn't configured here, so nothing was changed.",
            retryable=False,
        )
    return StripePayments.from_config(current_app.config)


def test_mode() -> bool:
    """Whether purchases go through the built-in test checkout (no Stripe key, and the checkout enabled)."""
    config = current_app.config
    return not config["STRIPE_SECRET_KEY"] and bool(config["TEST_CHECKOUT_ENABLED"])


def webhook_secrets(config) -> list[str]:
    """The signing secrets of the webhook endpoints: the platform's, and the Connect endpoint's if separate."""
    return [
        secret for secret in (config["STRIPE_WEBHOOK_SECRET"], config.get("STRIPE_CONNECT_WEBHOOK_SECRET")) if secret
    ]


def verify_webhook(payload: bytes, signature: str | None, secrets: list[str]) -> StripeEvent:
    """The event in a Stripe delivery, after checking its signature on the raw body and its age, then its shape.

    Stripe signs a platform endpoint and a Connect endpoint with different secrets; a
    delivery is accepted when it matches either. A validly signed event whose shape isn't
    one Stripe sends raises MalformedEvent: nothing in it is used.
    """
    if not secrets:
        raise WebhookError("STRIPE_WEBHOOK_SECRET is not set, so deliveries cannot be checked.")
    if not signature:
        raise WebhookError("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookError("The body is not UTF-8.") from exc
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise WebhookError("The signature does not match, or the delivery is too old.")
    try:
        event = strict_loads(payload)
    except ValueError as exc:
        raise MalformedEvent(f"The body is not JSON this endpoint reads ({exc}).") from exc
    return parse_event(event)


# ---------------------------------------------------------------------------
# Stripe's events, as the facts the app acts on
# ---------------------------------------------------------------------------

# Stripe's ids ("evt_…", "cs_…", "pi_…", "ch_…", "acct_…"): printable ASCII without spaces.
STRIPE_ID_RE = re.compile(r"[\x21-\x7e]{1,255}")
MAX_AMOUNT_CENTS = MAX_INTEGER  # amounts are stored as database integers
MAX_TEXT = 255


class MalformedEvent(WebhookError):
    """A validly signed event whose shape isn't one Stripe sends (a wrong type, a missing or broken field)."""


@dataclass(frozen=True)
class CheckoutFacts:
    """What a `checkout.session.*` event says about one Checkout Session."""

    session_id: str
    order_id: int | None  # from client_reference_id, else metadata.order_id
    payment_status: str | None
    payment_intent_id: str | None
    totals: CheckoutTotals

    @property
    def is_paid(self) -> bool:
        return self.payment_status in ("paid", "no_payment_required")


@dataclass(frozen=True)
class ChargeFacts:
    """What a refund (`charge.refunded`, `refund.*`, `charge.refund.updated`) or `charge.dispute.*` event says.

    `refunds` is None for a `charge.refunded` whose charge doesn't carry its refunds (the
    current API): they are listed from Stripe when the event is applied.
    """

    charge_id: str | None
    payment_intent_id: str | None
    amount_refunded: int = 0  # charge.refunded: the charge's total, pending refunds included (not used)
    dispute_status: str | None = None
    dispute_reason: str = ""
    refunds: tuple[RefundResult, ...] | None = None
    dispute_id: str | None = None
    dispute_amount: int | None = None


@dataclass(frozen=True)
class StripeEvent:
    """A verified event reduced to the facts the app acts on, each checked: the only shape webhooks.py sees."""

    id: str
    type: str
    account: str | None  # set when the event is about a connected account
    checkout: CheckoutFacts | None = None
    charge: ChargeFacts | None = None
    account_status: AccountStatus | None = None

    def to_payload(self) -> dict:
        """The facts as plain JSON, to keep an event until the payment it names is recorded."""
        return {"facts": 1, **dataclasses.asdict(self)}

    @classmethod
    def from_payload(cls, payload: dict) -> StripeEvent:
        """An event kept by `to_payload`, or (kept before facts were) the whole Stripe event, parsed again."""
        if payload.get("facts") != 1:
            return parse_event(payload)
        return cls(
            id=payload["id"],
            type=payload["type"],
            account=payload.get("account"),
            checkout=None,  # checkout events are applied at once, never kept
            charge=_charge_from_payload(payload["charge"]) if payload.get("charge") else None,
            account_status=AccountStatus(**payload["account_status"]) if payload.get("account_status") else None,
        )


def _charge_from_payload(facts: dict) -> ChargeFacts:
    refunds = facts.get("refunds")
    if refunds is not None:
        refunds = tuple(RefundResult(**refund) for refund in refunds)
    return ChargeFacts(**{**facts, "refunds": refunds})


REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
_warned_api_versions: set[str] = set()


def _check_api_version(event: dict) -> None:
    """An event shaped by another API version is still read, and the first one of each version is logged."""
    version = event.get("api_version")
    if isinstance(version, str) and version != STRIPE_API_VERSION and version not in _warned_api_versions:
        _warned_api_versions.add(version)
        current_app.logger.warning(
            "Stripe event %s has API version %s; this code reads %s. Set the webhook endpoint's version to match.",
            event.get("id"),
            version[:40],
            STRIPE_API_VERSION,
        )


def parse_event(event: object) -> StripeEvent:
    """Check a decoded event's shape and keep what the app uses; MalformedEvent names the first thing wrong."""
    if not isinstance(event, dict):
        raise MalformedEvent("The event is not a JSON object.")
    event_id = _stripe_id(event, "id", "the event", required=True)
    kind = event.get("type")
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z0-9_.]{1,100}", kind):
        raise MalformedEvent("The event's type is missing or isn't a Stripe event type.")
    account = _stripe_id(event, "account", "the event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("The event's data.object is missing or isn't an object.")
    _check_api_version(event)
    facts: dict[str, Any] = {}
    if kind.startswith("checkout.session."):
        facts["checkout"] = _checkout_facts(obj)
    elif kind == "charge.refunded":
        facts["charge"] = ChargeFacts(
            charge_id=_stripe_id(obj, "id", "the charge", required=True),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the charge"),
            amount_refunded=_amount(obj, "amount_refunded", "the charge") or 0,
            refunds=_charge_refunds(obj),
        )
    elif kind in REFUND_EVENTS:
        facts["charge"] = ChargeFacts(
            charge_id=_expandable_id(obj, "charge", "the refund"),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the refund"),
            refunds=(_refund_facts(obj),),
        )
    elif kind.startswith("charge.dispute."):
        facts["charge"] = ChargeFacts(
            charge_id=_expandable_id(obj, "charge", "the dispute"),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the dispute"),
            dispute_status=_stripe_id(obj, "status", "the dispute"),
            dispute_reason=_text(obj, "reason", "the dispute"),
            dispute_id=_stripe_id(obj, "id", "the dispute", required=True),
            dispute_amount=_amount(obj, "amount", "the dispute"),
        )
    elif kind == "account.updated":
        facts["account_status"] = AccountStatus(
            id=_stripe_id(obj, "id", "the account", required=True),
            charges_enabled=_flag(obj, "charges_enabled", "the account"),
            details_submitted=_flag(obj, "details_submitted", "the account"),
            payouts_enabled=_flag(obj, "payouts_enabled", "the account"),
        )
    return StripeEvent(id=event_id, type=kind, account=account, **facts)


def _refund_facts(refund: object) -> RefundResult:
    if not isinstance(refund, dict):
        raise MalformedEvent("A refund isn't an object.")
    amount = _amount(refund, "amount", "the refund")
    if not amount:
        raise MalformedEvent("The amount of the refund is missing or zero.")
    return RefundResult(
        id=_stripe_id(refund, "id", "the refund", required=True),
        amount_cents=amount,
        status=refund_status(_stripe_id(refund, "status", "the refund")),
    )


def _charge_refunds(charge: dict) -> tuple[RefundResult, ...] | None:
    """The refunds a charge carries (older API versions, or expanded), or None when it doesn't carry them all."""
    refunds = charge.get("refunds")
    if refunds is None:
        return None
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if not isinstance(data, list):
        raise MalformedEvent("The refunds of the charge aren't a list.")
    if refunds.get("has_more") is True:
        return None
    return tuple(_refund_facts(refund) for refund in data[:100])


def _checkout_facts(session: dict) -> CheckoutFacts:
    metadata = session.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise MalformedEvent("The checkout session's metadata isn't an object.")
    reference = session.get("client_reference_id") or (metadata or {}).get("order_id")
    order_id = order_reference(reference)
    if reference is not None and order_id is None:
        raise MalformedEvent("The checkout session's client_reference_id isn't one of our order ids.")
    return CheckoutFacts(
        session_id=_stripe_id(session, "id", "the checkout session", required=True),
        order_id=order_id,
        payment_status=_stripe_id(session, "payment_status", "the checkout session"),
        payment_intent_id=_expandable_id(session, "payment_intent", "the checkout session"),
        totals=_checked_totals(session),
    )


def _checked_totals(session: dict) -> CheckoutTotals:
    what = "the checkout session"
    if session.get("total_details") is not None and not isinstance(session["total_details"], dict):
        raise MalformedEvent(f"The total_details of {what} isn't an object.")
    details = session.get("total_details") or {}
    currency = session.get("currency")
    if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)):
        raise MalformedEvent(f"The currency of {what} isn't a three-letter currency code.")
    for obj, key in ((session, "amount_subtotal"), (session, "amount_total"), (details, "amount_discount")):
        _amount(obj, key, what)
    return _checkout_totals(session)


def order_reference(value: object) -> int | None:
    """The order a Checkout Session was opened for (its `client_reference_id`: ASCII digits of an id), or None."""
    return parse_id(value) if isinstance(value, str) else None


@overload
def _stripe_id(obj: dict, key: str, what: str, *, required: Literal[True]) -> str: ...
@overload
def _stripe_id(obj: dict, key: str, what: str, *, required: bool = False) -> str | None: ...
def _stripe_id(obj: dict, key: str, what: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not STRIPE_ID_RE.fullmatch(value):
        raise MalformedEvent(f"The {key} of {what} is missing, or isn't an id of at most 255 ASCII characters.")
    return value


def _expandable_id(obj: dict, key: str, what: str) -> str | None:
    """An id Stripe sends as a string, or as the object itself when expanded."""
    value = obj.get(key)
    if isinstance(value, dict):
        return _stripe_id(value, "id", f"{what}'s {key}", required=True)
    return _stripe_id(obj, key, what)


def _amount(obj: dict, key: str, what: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT_CENTS:
        raise MalformedEvent(f"The {key} of {what} isn't a whole number of cents from 0 to {MAX_AMOUNT_CENTS}.")
    return value


def _flag(obj: dict, key: str, what: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedEvent(f"The {key} of {what} isn't true or false.")
    return value


def _text(obj: dict, key: str, what: str) -> str:
    value = obj.get(key) or ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or TEXT_FORBIDDEN.search(value):
        raise MalformedEvent(f"The {key} of {what} isn't text of at most {MAX_TEXT} characters.")
    return value
