"""Stripe's webhook events, read into the payment events the app acts on.

`verify_webhook` checks a delivery's signature and age, then `parse_event` checks the
event's shape and turns it into one of the events below, every field it keeps checked.
Stripe's event types, field paths and statuses are known here and in `payments.py` only:
`checkout/webhooks.py` dispatches on the class of the event.

    CheckoutCompleted   checkout.session.completed, checkout.session.async_payment_succeeded
    CheckoutFailed      checkout.session.async_payment_failed (a delayed payment didn't go through)
    CheckoutExpired     checkout.session.expired
    RefundRecorded      charge.refunded, refund.created, refund.updated, refund.failed, charge.refund.updated
    DisputeChanged      charge.dispute.created, charge.dispute.updated, charge.dispute.closed
    InvoicePaid         invoice.paid (a payment plan's instalment)
    InvoiceFailed       invoice.payment_failed (an instalment couldn't be taken; Stripe retries it)
    SubscriptionChanged customer.subscription.updated, customer.subscription.deleted
    AccountUpdated      account.updated, read from a connected account
    TaxSettingsUpdated  tax.settings.updated, read from a connected account (a creator's Stripe Tax settings)
    Unhandled           anything else, and a connected account's own charges: recorded, not applied

An event of a type the app reads is refused whole (MalformedEvent) when a field it would
use has the wrong shape, even when it ends up Unhandled; nothing in it is used then.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, overload

import stripe
from flask import current_app

from ..ids import MAX_INTEGER
from ..request_guard import TEXT_FORBIDDEN, strict_loads
from .payments import (
    STRIPE_API_VERSION,
    AccountStatus,
    CheckoutTotals,
    DisputeStage,
    RefundResult,
    buyer_tax_id,
    checkout_totals,
    dispute_stage,
    order_reference,
    refund_status,
)

WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe's ids ("evt_…", "cs_…", "pi_…", "ch_…", "acct_…"): printable ASCII without spaces.
STRIPE_ID_RE = re.compile(r"[\x21-\x7e]{1,255}")
MAX_AMOUNT_CENTS = MAX_INTEGER  # amounts are stored as database integers
MAX_TEXT = 255

CHECKOUT_PAID = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
# A refund's own events (charge.refunded carries the charge instead).
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"})
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
SUBSCRIPTION_EVENTS = frozenset({"customer.subscription.updated", "customer.subscription.deleted"})
# Far enough for any real due date, near enough for datetime: a timestamp past it is refused.
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
# (charge.dispute.funds_withdrawn / funds_reinstated move money, not status: checked, recorded and ignored.)


class WebhookError(ValueError):
    """A webhook delivery that is not from the provider, or is too old to trust."""


class MalformedEvent(WebhookError):
    """A validly signed event whose shape isn't one Stripe sends (a wrong type, a missing or broken field)."""


# ---------------------------------------------------------------------------
# The events
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentEvent:
    """What every event carries: the provider's id (to apply it once) and its type (for the ledger and the log)."""

    id: str
    type: str


@dataclass(frozen=True)
class Unhandled(PaymentEvent):
    """An event the app records and doesn't apply."""


@dataclass(frozen=True)
class CheckoutEvent(PaymentEvent):
    """Something happened to a hosted checkout opened for an order."""

    checkout_id: str
    order_id: int | None  # the order it was opened for, if it names one of ours


@dataclass(frozen=True)
class CheckoutCompleted(CheckoutEvent):
    """The learner finished the checkout: paid, or (a delayed method such as a bank debit) the money is on its way."""

    paid: bool
    payment_intent_id: str | None
    totals: CheckoutTotals
    subscription_id: str | None = None  # a payment plan's checkout: the subscription it started
    invoice_id: str | None = None  # and the invoice its first instalment was paid by


@dataclass(frozen=True)
class CheckoutFailed(CheckoutEvent):
    """A delayed payment didn't go through."""


@dataclass(frozen=True)
class CheckoutExpired(CheckoutEvent):
    """The checkout expired before it was paid."""


@dataclass(frozen=True)
class ChargeEvent(PaymentEvent):
    """Something happened to a payment already taken (at least one of its references is set)."""

    charge_id: str | None
    payment_intent_id: str | None

    def to_payload(self) -> dict:
        """The event as plain JSON, to keep it until the payment it names is recorded (read by `from_payload`)."""
        facts = dataclasses.asdict(self)
        if isinstance(self, DisputeChanged):
            facts["status"] = self.status.value if self.status else None
        return {"facts": PAYLOAD_FORMAT, "event": type(self).__name__, **facts}


@dataclass(frozen=True)
class RefundRecorded(ChargeEvent):
    """Money went back on a payment.

    `refunds` is None when the event doesn't carry them all (a `charge.refunded` in the
    current API): they are listed from the provider when the event is applied.
    """

    refunds: tuple[RefundResult, ...] | None
    amount_refunded: int = 0  # charge.refunded: the charge's total, pending refunds included (not used)


@dataclass(frozen=True)
class DisputeChanged(ChargeEvent):
    """A cardholder's bank disputes a payment, or the dispute moved on.

    `status` is where the dispute's own status puts it (None: a status this code doesn't
    know yet); `opening` and `closing` say whether the event announced its opening or its
    closure. `stage` weighs them.
    """

    dispute_id: str | None  # None only in an event kept by an older release
    amount: int | None  # what the bank holds back, and takes if the dispute is lost
    reason: str
    status: DisputeStage | None
    opening: bool = False
    closing: bool = False

    @property
    def stage(self) -> DisputeStage | None:
        """Lost if its status says so; else won once closed; else open once opened; else None (nothing to do)."""
        if self.status is DisputeStage.LOST:
            return DisputeStage.LOST
        if self.closing or self.status is DisputeStage.WON:
            return DisputeStage.WON
        if self.opening or self.status is DisputeStage.OPEN:
            return DisputeStage.OPEN
        return None


@dataclass(frozen=True)
class InvoiceEvent(PaymentEvent):
    """Something happened to a subscription's invoice (a payment plan's instalment)."""

    invoice_id: str
    subscription_id: str | None
    order_id: int | None  # the plan's first order, from the subscription's metadata
    billing_reason: str | None
    amount_cents: int  # paid (InvoicePaid), or due (InvoiceFailed); tax included
    currency: str | None
    period_end: datetime | None  # the end of the period it pays for: when the next instalment falls due
    tax_cents: int = 0  # Stripe Tax's tax on the invoice, added on top of the instalment or inside it
    tax_included: bool = False
    buyer_tax_id: tuple[str, str] | None = None

    @property
    def totals(self) -> CheckoutTotals:
        """The invoice's amounts as a checkout's, for the plan's first order: its price, the tax, what was paid."""
        added = 0 if self.tax_included else self.tax_cents
        return CheckoutTotals(
            self.currency,
            amount_subtotal=self.amount_cents - added,
            amount_total=self.amount_cents,
            amount_tax=self.tax_cents,
            buyer_tax_id=self.buyer_tax_id,
        )


@dataclass(frozen=True)
class InvoicePaid(InvoiceEvent):
    """An instalment was paid."""


@dataclass(frozen=True)
class InvoiceFailed(InvoiceEvent):
    """An instalment couldn't be taken; Stripe tries again at `next_attempt` (None: no more tries)."""

    next_attempt: datetime | None = None
    attempt_count: int = 0


@dataclass(frozen=True)
class SubscriptionChanged(PaymentEvent):
    """A subscription changed or ended: the app reads it from Stripe as it is now."""

    subscription_id: str


@dataclass(frozen=True)
class AccountUpdated(PaymentEvent):
    """A creator's connected account changed: what it can do now, as the event tells it."""

    account: AccountStatus


@dataclass(frozen=True)
class TaxSettingsUpdated(PaymentEvent):
    """A creator's Stripe Tax settings changed: whether Stripe can work out tax for them (`active`), as it says."""

    account_id: str
    active: bool


# The events read from a creator's connected account; anything else from one is its own business.
CONNECTED_ACCOUNT_EVENTS = ("account.updated", "tax.settings.updated")


# ---------------------------------------------------------------------------
# Deliveries
# ---------------------------------------------------------------------------


def webhook_secrets(config) -> list[str]:
    """The signing secrets of the webhook endpoints: the platform's, and the Connect endpoint's if separate."""
    return [
        secret for secret in (config["STRIPE_WEBHOOK_SECRET"], config.get("STRIPE_CONNECT_WEBHOOK_SECRET")) if secret
    ]


def verify_webhook(payload: bytes, signature: str | None, secrets: list[str]) -> PaymentEvent:
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


def parse_event(event: object) -> PaymentEvent:
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
    parsed = _read_object(event_id, kind, obj, account)
    if account and kind not in CONNECTED_ACCOUNT_EVENTS:
        # Connected accounts' own charges (a transfer reversal's payment, say) are not our orders.
        return Unhandled(event_id, kind)
    return parsed


def _read_object(event_id: str, kind: str, obj: dict, account: str | None = None) -> PaymentEvent:
    """The event for a type the app reads (its object checked), else Unhandled."""
    if kind.startswith("checkout.session."):
        return _checkout_event(event_id, kind, obj)
    if kind == "charge.refunded":
        return RefundRecorded(
            event_id,
            kind,
            charge_id=_stripe_id(obj, "id", "the charge", required=True),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the charge"),
            amount_refunded=_amount(obj, "amount_refunded", "the charge") or 0,
            refunds=_charge_refunds(obj),
        )
    if kind in REFUND_EVENTS:
        return RefundRecorded(
            event_id,
            kind,
            charge_id=_expandable_id(obj, "charge", "the refund"),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the refund"),
            refunds=(_refund(obj),),
        )
    if kind.startswith("charge.dispute."):
        dispute = DisputeChanged(
            event_id,
            kind,
            charge_id=_expandable_id(obj, "charge", "the dispute"),
            payment_intent_id=_expandable_id(obj, "payment_intent", "the dispute"),
            status=dispute_stage(_stripe_id(obj, "status", "the dispute")),
            reason=_text(obj, "reason", "the dispute"),
            dispute_id=_stripe_id(obj, "id", "the dispute", required=True),
            amount=_amount(obj, "amount", "the dispute"),
            opening=kind == "charge.dispute.created",
            closing=kind == "charge.dispute.closed",
        )
        return dispute if kind in DISPUTE_EVENTS else Unhandled(event_id, kind)
    if kind in INVOICE_EVENTS:
        return _invoice_event(event_id, kind, obj)
    if kind in SUBSCRIPTION_EVENTS:
        return SubscriptionChanged(event_id, kind, _stripe_id(obj, "id", "the subscription", required=True))
    if kind == "tax.settings.updated":
        if account is None:
            return Unhandled(event_id, kind)  # the platform's own settings: nothing of a creator's
        status = _stripe_id(obj, "status", "the tax settings")
        return TaxSettingsUpdated(event_id, kind, account_id=account, active=status == "active")
    if kind == "account.updated":
        return AccountUpdated(
            event_id,
            kind,
            AccountStatus(
                id=_stripe_id(obj, "id", "the account", required=True),
                charges_enabled=_flag(obj, "charges_enabled", "the account"),
                details_submitted=_flag(obj, "details_submitted", "the account"),
                payouts_enabled=_flag(obj, "payouts_enabled", "the account"),
            ),
        )
    return Unhandled(event_id, kind)


def _checkout_event(event_id: str, kind: str, session: dict) -> PaymentEvent:
    metadata = session.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise MalformedEvent("The checkout session's metadata isn't an object.")
    reference = session.get("client_reference_id") or (metadata or {}).get("order_id")
    order_id = order_reference(reference)
    if reference is not None and order_id is None:
        raise MalformedEvent("The checkout session's client_reference_id isn't one of our order ids.")
    checkout_id = _stripe_id(session, "id", "the checkout session", required=True)
    payment_status = _stripe_id(session, "payment_status", "the checkout session")
    payment_intent_id = _expandable_id(session, "payment_intent", "the checkout session")
    totals = _checked_totals(session)
    if kind in CHECKOUT_PAID:
        paid = payment_status in ("paid", "no_payment_required")
        return CheckoutCompleted(
            event_id,
            kind,
            checkout_id,
            order_id,
            paid,
            payment_intent_id,
            totals,
            subscription_id=_expandable_id(session, "subscription", "the checkout session"),
            invoice_id=_expandable_id(session, "invoice", "the checkout session"),
        )
    if kind == "checkout.session.async_payment_failed":
        return CheckoutFailed(event_id, kind, checkout_id, order_id)
    if kind == "checkout.session.expired":
        return CheckoutExpired(event_id, kind, checkout_id, order_id)
    return Unhandled(event_id, kind)


def _invoice_event(event_id: str, kind: str, invoice: dict) -> PaymentEvent:
    what = "the invoice"
    parent = invoice.get("parent")
    if parent is not None and not isinstance(parent, dict):
        raise MalformedEvent("The parent of the invoice isn't an object.")
    details = (parent or {}).get("subscription_details")
    if details is not None and not isinstance(details, dict):
        raise MalformedEvent("The subscription_details of the invoice aren't an object.")
    details = details or {}
    # Since API 2025-03-31 the subscription is under parent.subscription_details; before, at the top.
    subscription_id = _expandable_id(details, "subscription", what) or _expandable_id(invoice, "subscription", what)
    metadata = details.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise MalformedEvent("The subscription metadata of the invoice isn't an object.")
    reference = (metadata or {}).get("order_id")
    order_id = order_reference(reference)
    if reference is not None and order_id is None:
        raise MalformedEvent("The invoice's order_id isn't one of our order ids.")
    currency = invoice.get("currency")
    if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)):
        raise MalformedEvent("The currency of the invoice isn't a three-letter currency code.")
    paid = kind == "invoice.paid"
    for key in ("amount_paid", "amount_due", "amount_remaining"):
        _amount(invoice, key, what)
    tax_cents, tax_included = _invoice_tax(invoice)
    customer_tax_ids = invoice.get("customer_tax_ids")
    event = InvoicePaid(
        event_id,
        kind,
        invoice_id=_stripe_id(invoice, "id", what, required=True),
        subscription_id=subscription_id,
        order_id=order_id,
        billing_reason=_stripe_id(invoice, "billing_reason", what),
        amount_cents=_amount(invoice, "amount_paid" if paid else "amount_due", what) or 0,
        currency=currency.upper() if isinstance(currency, str) else None,
        period_end=_period_end(invoice),
        tax_cents=tax_cents,
        tax_included=tax_included,
        buyer_tax_id=buyer_tax_id({"tax_ids": customer_tax_ids}),
    )
    if paid:
        return event
    return InvoiceFailed(
        **dataclasses.asdict(event),
        next_attempt=_timestamp(invoice, "next_payment_attempt", what),
        attempt_count=_amount(invoice, "attempt_count", what) or 0,
    )


def _period_end(invoice: dict) -> datetime | None:
    """The latest end of the periods an invoice's lines pay for (a subscription invoice bills the period ahead)."""
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, dict) else None
    if lines is not None and not isinstance(data, list):
        raise MalformedEvent("The lines of the invoice aren't a list.")
    ends = []
    for line in (data or [])[:100]:
        period = line.get("period") if isinstance(line, dict) else None
        if isinstance(period, dict):
            end = _timestamp(period, "end", "an invoice line's period")
            if end is not None:
                ends.append(end)
    return max(ends) if ends else None


def _timestamp(obj: dict, key: str, what: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMESTAMP:
        raise MalformedEvent(f"The {key} of {what} isn't a Unix timestamp.")
    return datetime.fromtimestamp(value, UTC)


def _refund(refund: object) -> RefundResult:
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
    return tuple(_refund(refund) for refund in data[:100])


def _invoice_tax(invoice: dict) -> tuple[int, bool]:
    """(tax, included) of an invoice from its `total_taxes` (Stripe Tax's amounts; none without it)."""
    taxes = invoice.get("total_taxes")
    if taxes is None:
        return 0, False
    if not isinstance(taxes, list) or not all(isinstance(tax, dict) for tax in taxes[:100]) or len(taxes) > 100:
        raise MalformedEvent("The total_taxes of the invoice aren't a list of taxes.")
    amounts = [_amount(tax, "amount", "a tax of the invoice") or 0 for tax in taxes]
    behaviours = [tax.get("tax_behavior") for tax in taxes if tax.get("amount")]
    if not all(behaviour in ("inclusive", "exclusive") for behaviour in behaviours) or len(set(behaviours)) > 1:
        raise MalformedEvent("The taxes of the invoice aren't all inclusive or all exclusive.")
    total = sum(amounts)
    if total > MAX_AMOUNT_CENTS:
        raise MalformedEvent("The taxes of the invoice add up to more than an amount can be.")
    return total, set(behaviours) == {"inclusive"}


def _checked_totals(session: dict) -> CheckoutTotals:
    what = "the checkout session"
    if session.get("total_details") is not None and not isinstance(session["total_details"], dict):
        raise MalformedEvent(f"The total_details of {what} isn't an object.")
    details = session.get("total_details") or {}
    currency = session.get("currency")
    if currency is not None and not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)):
        raise MalformedEvent(f"The currency of {what} isn't a three-letter currency code.")
    for obj, key in ((session, "amount_subtotal"), (session, "amount_total")):
        _amount(obj, key, what)
    for key in ("amount_discount", "amount_tax"):
        _amount(details, key, what)
    return checkout_totals(session)


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


# ---------------------------------------------------------------------------
# Events kept until their payment is recorded
# ---------------------------------------------------------------------------

# 2: an event's own fields (`ChargeEvent.to_payload`); 1: the facts of the release before, with
# Stripe's dispute status; no "facts" key: the whole Stripe event, as kept before that.
PAYLOAD_FORMAT = 2
_KEPT = {cls.__name__: cls for cls in (RefundRecorded, DisputeChanged)}


def from_payload(payload: dict) -> PaymentEvent:
    """An event kept by `ChargeEvent.to_payload` (or by an older release); MalformedEvent if it can't be read."""
    try:
        if payload.get("facts") == PAYLOAD_FORMAT:
            return _from_fields(payload)
        if payload.get("facts") == 1:
            return _from_facts(payload)
        return parse_event(payload)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, MalformedEvent):
            raise
        raise MalformedEvent(f"The kept event can't be read ({exc!r}).") from exc


def _refunds_from(kept: list | None) -> tuple[RefundResult, ...] | None:
    return None if kept is None else tuple(RefundResult(**refund) for refund in kept)


def _from_fields(payload: dict) -> ChargeEvent:
    fields = {key: value for key, value in payload.items() if key not in ("facts", "event")}
    cls = _KEPT[payload["event"]]
    if cls is RefundRecorded:
        fields["refunds"] = _refunds_from(fields["refunds"])
    else:
        fields["status"] = DisputeStage(fields["status"]) if fields["status"] else None
    return cls(**fields)


def _from_facts(payload: dict) -> PaymentEvent:
    """An event kept by the release before: its type, and the charge's facts in Stripe's terms."""
    event_id, kind, facts = payload["id"], payload["type"], payload.get("charge")
    if not facts:
        return Unhandled(event_id, kind)
    if not kind.startswith("charge.dispute."):
        return RefundRecorded(
            event_id,
            kind,
            charge_id=facts["charge_id"],
            payment_intent_id=facts["payment_intent_id"],
            refunds=_refunds_from(facts.get("refunds")),
            amount_refunded=facts.get("amount_refunded", 0),
        )
    return DisputeChanged(
        event_id,
        kind,
        charge_id=facts["charge_id"],
        payment_intent_id=facts["payment_intent_id"],
        dispute_id=facts.get("dispute_id"),
        amount=facts.get("dispute_amount"),
        reason=facts.get("dispute_reason", ""),
        status=dispute_stage(facts.get("dispute_status")),
        opening=kind == "charge.dispute.created",
        closing=kind == "charge.dispute.closed",
    )
