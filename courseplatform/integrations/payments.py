"""Payment providers: Stripe (when STRIPE_SECRET_KEY is set) and the built-in test mode.

This module and `stripe_events.py` (Stripe's webhook events) are the only ones that import
`stripe`. The rest of the app speaks to a provider through the small interface below and
never sees the SDK's objects or Stripe's field names and statuses: a checkout is a
`Checkout`, a payment is a `Payment`, a refund a `RefundResult`, a dispute's status a
`DisputeStage`.

Both providers end in the same place: `checkout.services.fulfil_order`, called by the
webhook, by the success page and by the test-mode Pay button.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal, Protocol, cast

import stripe
from flask import current_app

from ..formatting import minor_units
from ..ids import parse_id
from ..models import CreatorProfile, Order, PaymentProvider

if TYPE_CHECKING:
    from stripe._requestor_options import BaseAddresses
    from stripe.params import (
        AccountCreateParams,
        AccountLinkCreateParams,
        RefundCreateParams,
        SubscriptionScheduleUpdateParams,
        SubscriptionScheduleUpdateParamsPhase,
        SubscriptionScheduleUpdateParamsPhaseItem,
    )
    from stripe.params.checkout import (
        SessionCreateParams,
        SessionCreateParamsAutomaticTaxLiability,
        SessionCreateParamsPaymentIntentData,
        SessionCreateParamsSubscriptionData,
    )
    from stripe.params.tax import RegistrationCreateParams, SettingsUpdateParams, SettingsUpdateParamsHeadOfficeAddress

# Stripe's standard card pricing, used to estimate the processor fee in test mode.
TEST_MODE_FEE_PERCENT_BP = 290  # 2.9 %, in basis points
TEST_MODE_FEE_FIXED_CENTS = 30
STRIPE_TIMEOUT_SECONDS = 20
# The least a payment may be, in minor units: Stripe refuses to charge less (50 cents, pence, euro cents).
MINIMUM_CHARGE_CENTS = 50
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


@dataclass(frozen=True)
class PlanTerms:
    """A checkout for a payment plan's first instalment: the order's amount, monthly, `instalments` times."""

    instalments: int | None  # None: a membership, renewing until canceled
    plan_id: int
    platform_fee_percent: int
    interval: str = "month"  # month | year


@dataclass(frozen=True)
class SubscriptionStart:
    """What a completed plan checkout started: the provider's subscription, its first invoice, the next due date."""

    subscription_id: str | None
    invoice_id: str | None
    next_charge_at: datetime | None = None


@dataclass(frozen=True)
class PlanState:
    """A plan's subscription as the provider has it now."""

    status: str  # Stripe's: active, past_due, unpaid, canceled, incomplete, incomplete_expired, trialing, paused
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False  # a membership canceled in the customer portal: it ends at the period's end


@dataclass(frozen=True)
class TaxTerms:
    """Stripe Tax on a checkout: worked out from the learner's address, the creator's account liable for it."""

    liable_account: str  # the creator's connected account: its head office and registrations decide the tax
    prices_include_tax: bool  # the price holds the tax (VAT-style), or it is added on top
    collect_tax_ids: bool  # business buyers may give a VAT or GST number
    tax_code: str  # Stripe's product tax code for the offering


@dataclass(frozen=True)
class TaxAddress:
    """A creator's head office, which Stripe Tax works from (an ISO 3166-1 alpha-2 country; a state in the US)."""

    country: str
    state: str = ""
    postal_code: str = ""
    city: str = ""
    line1: str = ""


@dataclass(frozen=True)
class TaxSettings:
    """A connected account's Stripe Tax settings: `active` once Stripe has what it needs to work out tax."""

    status: str  # active | pending
    head_office: TaxAddress | None
    missing: tuple[str, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class TaxRegistration:
    """Where a creator is registered to collect tax, as Stripe keeps it: tax is worked out only there."""

    id: str
    country: str
    state: str  # a US state's code, else ""
    type: str  # Stripe's: standard, oss_union, oss_non_union, state_sales_tax, simplified…
    status: str  # active | scheduled | expired
    active_from: datetime | None
    expires_at: datetime | None


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
    # A coupon: the checkout shows the list price (`order.list_price_cents`) less this discount, named so.
    discount_cents: int = 0
    discount_name: str = ""
    plan: PlanTerms | None = None
    tax: TaxTerms | None = None


@dataclass(frozen=True)
class CheckoutTotals:
    """What a completed checkout charged, as the provider reports it, to be checked against the order."""

    currency: str | None = None
    amount_subtotal: int | None = None  # before promotion codes
    amount_total: int | None = None  # what the learner paid
    amount_discount: int = 0
    amount_tax: int = 0  # sales tax or VAT, added on top of the price or inside it
    buyer_tax_id: tuple[str, str] | None = None  # (type, value) a business buyer gave: eu_vat, DE123456789


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
    # A payment plan's checkout: the subscription it started and the invoice of its first payment.
    subscription_id: str | None = None
    invoice_id: str | None = None

    @property
    def started(self) -> SubscriptionStart | None:
        """What a completed plan checkout started, for `fulfil_order` (None for a one-off payment)."""
        return SubscriptionStart(self.subscription_id, self.invoice_id) if self.subscription_id else None

    @property
    def is_complete(self) -> bool:
        """The learner got to the end: paid, or paying with a delayed method."""
        return self.status == "complete"

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
    payment_intent_id: str | None = None  # a plan's instalment: the payment its invoice was paid by


@dataclass(frozen=True)
class RefundResult:
    """One refund as the provider reports it; `status` is pending, succeeded, failed or canceled."""

    id: str
    amount_cents: int
    status: str = "succeeded"


class DisputeStage(enum.Enum):
    """Where a dispute stands, for access: paused while open, given back when won, ended when lost."""

    OPEN = "open"  # the bank is deciding
    WON = "won"  # closed without taking the money (won, a warning closed, prevented)
    LOST = "lost"  # the bank took the money back


# Stripe's dispute statuses, as stages.
DISPUTE_STAGES = {
    "warning_needs_response": DisputeStage.OPEN,
    "warning_under_review": DisputeStage.OPEN,
    "needs_response": DisputeStage.OPEN,
    "under_review": DisputeStage.OPEN,
    "won": DisputeStage.WON,
    "warning_closed": DisputeStage.WON,
    "prevented": DisputeStage.WON,
    "lost": DisputeStage.LOST,
}


def dispute_stage(status: object) -> DisputeStage | None:
    """Stripe's dispute status as a stage; None for a status this code doesn't know yet."""
    return DISPUTE_STAGES.get(status) if isinstance(status, str) else None


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
    def dispute_status(self, dispute_id: str) -> DisputeStage | None: ...
    def create_account(self, profile: CreatorProfile, email: str) -> str: ...
    def delete_checkout_coupon(self, checkout_id: str) -> bool: ...
    def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str: ...
    def account_status(self, account_id: str) -> AccountStatus: ...
    def plan_state(self, subscription_id: str) -> PlanState: ...
    def end_plan_after(self, subscription_id: str, instalments: int, plan_id: int) -> None: ...
    def cancel_plan(self, subscription_id: str) -> None: ...
    def plan_card_url(self, subscription_id: str, return_url: str, *, overdue: bool) -> str: ...
    def portal_url(self, subscription_id: str, return_url: str) -> str: ...
    def return_platform_fee(self, order: Order, amount_cents: int) -> int: ...
    def tax_settings(self, account_id: str) -> TaxSettings: ...
    def update_tax_settings(
        self, account_id: str, head_office: TaxAddress, *, prices_include_tax: bool
    ) -> TaxSettings: ...
    def tax_registrations(self, account_id: str) -> list[TaxRegistration]: ...
    def add_tax_registration(self, account_id: str, country: str, kind: str, state: str = "") -> TaxRegistration: ...
    def end_tax_registration(self, account_id: str, registration_id: str) -> TaxRegistration: ...


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
        subscription, invoice = session.get("subscription"), session.get("invoice")
        return Checkout(
            id=session["id"],
            url=session.get("url") or "",
            status=session["status"],
            payment_status=session["payment_status"],
            payment_intent_id=intent,
            order_id=order_reference(reference),
            totals=checkout_totals(session),
            subscription_id=subscription if isinstance(subscription, str) else (subscription or {}).get("id"),
            invoice_id=invoice if isinstance(invoice, str) else (invoice or {}).get("id"),
        )

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        order = request.order
        metadata = {"order_id": str(order.id), "course_id": str(order.offering_id), "learner_id": str(order.learner_id)}
        intent_data: SessionCreateParamsPaymentIntentData = {"metadata": metadata}
        if request.destination_account:
            intent_data["application_fee_amount"] = request.application_fee_cents
            intent_data["transfer_data"] = {"destination": request.destination_account}
        params: SessionCreateParams = {
            "mode": "payment",
            "client_reference_id": str(order.id),
            "customer_email": request.learner_email,
            "metadata": metadata,
            # One currency end to end: a converted charge would bring refunds and disputes in the
            # customer's currency, which the order's figures can't take.
            "adaptive_pricing": {"enabled": False},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": order.currency.lower(),
                        "unit_amount": order.list_price_cents,
                        "product_data": {"name": request.title},
                    },
                }
            ],
            "payment_intent_data": intent_data,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        if request.plan is not None:
            self._as_plan(params, request, metadata)
        if request.tax is not None:
            self._with_tax(params, request.tax)
        try:
            if request.discount_cents:
                params["discounts"] = [{"coupon": self._order_coupon(request)}]
            session = self.client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"aqueduct-checkout-order-{order.id}"}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return self._checkout(session)

    @staticmethod
    def _as_plan(params: SessionCreateParams, request: CheckoutRequest, metadata: dict[str, str]) -> None:
        """The checkout as a subscription: the instalment monthly, the platform fee as a percentage of each.

        The subscription ends on its own after the last instalment: once the first is paid, a job puts it
        on a schedule that cancels it then (`end_plan_after`).
        """
        plan = request.plan
        if plan is None:
            return
        described = (
            f"{request.title}: {plan.instalments} monthly payments"
            if plan.instalments
            else f"{request.title}: membership, renewed {'yearly' if plan.interval == 'year' else 'monthly'}"
        )
        data: SessionCreateParamsSubscriptionData = {
            "metadata": {**metadata, "plan_id": str(plan.plan_id)},
            "description": described,
        }
        if request.destination_account:
            data["application_fee_percent"] = plan.platform_fee_percent
            data["transfer_data"] = {"destination": request.destination_account}
        params["mode"] = "subscription"
        params["subscription_data"] = data
        del params["payment_intent_data"]
        item = params["line_items"][0]
        price = item["price_data"]
        price["recurring"] = {"interval": "year" if plan.interval == "year" else "month"}
        price["product_data"] = {"name": described.replace(": ", " (", 1) + ")"}

    @staticmethod
    def _with_tax(params: SessionCreateParams, tax: TaxTerms) -> None:
        """Stripe Tax on the checkout, the creator's account liable, as Stripe's guide for software platforms has it.

        The creator is the seller: their account is the liable party, the settlement merchant (`on_behalf_of`)
        and, for a subscription, its invoices' issuer, which Stripe requires to match the liable party.
        """
        liability: SessionCreateParamsAutomaticTaxLiability = {"type": "account", "account": tax.liable_account}
        params["automatic_tax"] = {"enabled": True, "liability": liability}
        if tax.collect_tax_ids:
            params["tax_id_collection"] = {"enabled": True}
        price = params["line_items"][0]["price_data"]
        price["tax_behavior"] = tax_behavior(tax.prices_include_tax)
        price["product_data"]["tax_code"] = tax.tax_code
        if params["mode"] == "subscription":
            data = params["subscription_data"]
            data["on_behalf_of"] = tax.liable_account
            data["invoice_settings"] = {"issuer": {"type": "account", "account": tax.liable_account}}
        else:
            params["payment_intent_data"]["on_behalf_of"] = tax.liable_account

    def _order_coupon(self, request: CheckoutRequest) -> str:
        """A Stripe coupon for this one order: our coupon's discount as an amount, usable once.

        Our coupon's rules (expiry, limits, offerings) were applied when the order was made;
        Stripe only shows and takes the discount, so its coupon is the amount, not the rule.
        """
        order = request.order
        coupon = self.client.v1.coupons.create(
            params={
                "amount_off": request.discount_cents,
                "currency": order.currency.lower(),
                "duration": "once",
                "max_redemptions": 1,
                "name": request.discount_name[:40] or "Discount",
                "metadata": {"order_id": str(order.id)},
            },
            options={"idempotency_key": f"aqueduct-coupon-order-{order.id}"},
        )
        return coupon["id"]

    def delete_checkout_coupon(self, checkout_id: str) -> bool:
        """Remove the one-use coupon of a checkout Stripe has expired, so it can never be paid; whether one was.

        The coupon is found on the session itself (its `discounts`), so nothing else is stored; one
        already gone is no error.
        """
        try:
            session = _plain(self.client.v1.checkout.sessions.retrieve(checkout_id))
            if session.get("status") != "expired":
                # Still open (Stripe's expire call failed: it may yet be paid), or paid after all: its coupon stays.
                return False
            coupons = [d.get("coupon") for d in session.get("discounts") or [] if isinstance(d, dict)]
            coupons = [c if isinstance(c, str) else (c or {}).get("id") for c in coupons]
            for coupon_id in filter(None, coupons):
                try:
                    self.client.v1.coupons.delete(coupon_id)
                except stripe.InvalidRequestError as exc:
                    if exc.code != "resource_missing":
                        raise
            return any(coupons)
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

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
        """The charge and Stripe's actual fee, from the payment's balance transaction.

        A plan's instalment is paid by its invoice: the payment is found through the invoice's payments.
        """
        intent_id = order.payment_intent_id
        if not intent_id and order.provider_invoice_id and order.amount_cents:
            intent_id = self._invoice_intent(order.provider_invoice_id)
            if intent_id is None:
                current_app.logger.warning(
                    "order %s: invoice payment not readable from Stripe; fee estimated", order.id
                )
                return Payment(
                    charge_id=None, processor_fee_cents=estimated_fee(order.amount_cents), fee_estimated=True
                )
        if not intent_id or order.amount_cents == 0:
            # A promotion code took the price to zero: no payment, no charge, no fee.
            return Payment(charge_id=None, processor_fee_cents=0, fee_estimated=False)
        try:
            intent = self.client.v1.payment_intents.retrieve(
                intent_id, params={"expand": ["latest_charge.balance_transaction"]}
            )
        except stripe.StripeError:
            current_app.logger.warning("order %s: fee not readable from Stripe; estimated", order.id)
            return Payment(None, estimated_fee(order.amount_cents), fee_estimated=True, payment_intent_id=intent_id)
        charge = _plain(intent).get("latest_charge")
        balance = charge.get("balance_transaction") if charge and not isinstance(charge, str) else None
        if charge is None or balance is None or isinstance(balance, str):
            charge_id = charge if isinstance(charge, str) else (charge["id"] if charge else None)
            return Payment(
                charge_id, estimated_fee(order.amount_cents), fee_estimated=True, payment_intent_id=intent_id
            )
        fee_taken = charge.get("application_fee_amount")
        settled_in = str(balance["currency"]).upper()
        fee = fee_in(
            order.currency, int(balance["fee"]), settled_in, str(charge["currency"]), balance.get("exchange_rate")
        )
        return Payment(
            charge_id=charge["id"],
            payment_intent_id=intent_id,
            processor_fee_cents=estimated_fee(order.amount_cents) if fee is None else fee,
            fee_estimated=fee is None,
            settlement_currency=settled_in,
            processor_fee_settled_cents=int(balance["fee"]),
            application_fee_cents=int(fee_taken) if fee_taken is not None else None,
        )

    def _invoice_intent(self, invoice_id: str) -> str | None:
        """The PaymentIntent that paid an invoice (Stripe lists an invoice's payments since API 2025-03-31)."""
        try:
            listed = self.client.v1.invoice_payments.list(params={"invoice": invoice_id, "status": "paid", "limit": 10})
        except stripe.StripeError:
            return None
        for row in _plain(listed).get("data") or []:
            payment = row.get("payment") or {}
            intent = payment.get("payment_intent")
            if payment.get("type") == "payment_intent" and intent:
                return intent if isinstance(intent, str) else intent.get("id")
        return None

    # ------------------------------------------------------------------ payment plans

    def plan_state(self, subscription_id: str) -> PlanState:
        try:
            subscription = _plain(self.client.v1.subscriptions.retrieve(subscription_id))
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        ends = [item.get("current_period_end") for item in (subscription.get("items") or {}).get("data") or []]
        ends = [end for end in ends if isinstance(end, int)]
        return PlanState(
            status=str(subscription.get("status")),
            current_period_end=datetime.fromtimestamp(min(ends), UTC) if ends else None,
            cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        )

    def end_plan_after(self, subscription_id: str, instalments: int, plan_id: int) -> None:
        """Put the subscription on a schedule of one phase of `instalments` months that cancels it at the end.

        Stripe's documented way to bill a fixed number of times: a schedule made from the
        subscription, then its phase given a duration and the schedule `end_behavior=cancel`.
        Both calls carry idempotency keys; a subscription already on a schedule reuses it.
        """
        try:
            subscription = _plain(self.client.v1.subscriptions.retrieve(subscription_id))
            schedule = subscription.get("schedule")
            if isinstance(schedule, dict):
                schedule = schedule.get("id")
            if not schedule:
                made = self.client.v1.subscription_schedules.create(
                    params={"from_subscription": subscription_id},
                    options={"idempotency_key": f"aqueduct-plan-{plan_id}-schedule"},
                )
                schedule = made["id"]
            current = _plain(self.client.v1.subscription_schedules.retrieve(schedule))
            phase = (current.get("phases") or [{}])[0]
            items: list[SubscriptionScheduleUpdateParamsPhaseItem] = [
                {"price": item["price"] if isinstance(item["price"], str) else item["price"]["id"], "quantity": 1}
                for item in phase.get("items") or []
            ]
            new_phase: SubscriptionScheduleUpdateParamsPhase = {
                "items": items,
                "start_date": phase["start_date"],
                "duration": {"interval": "month", "interval_count": instalments},
            }
            # An update replaces the phases whole: what the subscription was made with is sent again, so the
            # creator's share and the platform fee go on for every instalment.
            transfer = subscription.get("transfer_data") or {}
            destination = transfer.get("destination")
            if destination:
                new_phase["transfer_data"] = {
                    "destination": destination if isinstance(destination, str) else destination["id"]
                }
            if subscription.get("application_fee_percent") is not None:
                new_phase["application_fee_percent"] = float(subscription["application_fee_percent"])
            _keep_tax(new_phase, subscription)
            update: SubscriptionScheduleUpdateParams = {
                "end_behavior": "cancel",
                "phases": [new_phase],
                "metadata": {"plan_id": str(plan_id)},
            }
            self.client.v1.subscription_schedules.update(
                schedule, params=update, options={"idempotency_key": f"aqueduct-plan-{plan_id}-schedule-end"}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def cancel_plan(self, subscription_id: str) -> None:
        try:
            self.client.v1.subscriptions.cancel(subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise _stripe_error_message(exc) from exc
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def plan_card_url(self, subscription_id: str, return_url: str, *, overdue: bool) -> str:
        """Where the learner pays: an overdue instalment's own invoice page (a new card pays it there), else
        Stripe's customer portal, straight to updating the card for the instalments to come."""
        try:
            subscription = _plain(self.client.v1.subscriptions.retrieve(subscription_id))
            if overdue:
                # The oldest overdue payment first: once it is paid, the link leads to the next one.
                listed = _plain(
                    self.client.v1.invoices.list(
                        params={"subscription": subscription_id, "status": "open", "limit": 100}
                    )
                )
                waiting = sorted(listed.get("data") or [], key=lambda invoice: invoice.get("created") or 0)
                for invoice in waiting:
                    if invoice.get("hosted_invoice_url"):
                        return str(invoice["hosted_invoice_url"])
            portal = self.client.v1.billing_portal.sessions.create(
                params={
                    "customer": str(subscription["customer"]),
                    "return_url": return_url,
                    "flow_data": {
                        "type": "payment_method_update",
                        "after_completion": {"type": "redirect", "redirect": {"return_url": return_url}},
                    },
                }
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return str(portal["url"])

    def portal_url(self, subscription_id: str, return_url: str) -> str:
        """Stripe's customer portal for the subscription's customer (cancel, resume, card, invoices)."""
        try:
            subscription = _plain(self.client.v1.subscriptions.retrieve(subscription_id))
            portal = self.client.v1.billing_portal.sessions.create(
                params={"customer": str(subscription["customer"]), "return_url": return_url}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return str(portal["url"])

    def return_platform_fee(self, order: Order, amount_cents: int) -> int:
        """Give the creator back part of the application fee Stripe took on an order's charge; how much went back.

        Stripe takes a subscription's `application_fee_percent` of the invoice's total, tax included, and a
        one-off sale's fee is fixed before Checkout knows the tax a tax-inclusive price holds: the platform's
        share of the tax goes back to the creator's account as an application fee refund (once per order).
        """
        if not order.charge_id:
            raise PaymentsError("This order has no charge whose fee could be returned.", retryable=False)
        try:
            charge = _plain(self.client.v1.charges.retrieve(order.charge_id))
            fee_id = _account_id(charge.get("application_fee"))
            if fee_id is None:
                return 0
            refund = self.client.v1.application_fees.refunds.create(
                fee_id,
                params={"amount": amount_cents, "metadata": {"order_id": str(order.id), "why": "fee on tax"}},
                options={"idempotency_key": f"aqueduct-fee-on-tax-order-{order.id}-{amount_cents}"},
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return int(refund["amount"])

    # Stripe Tax for a creator's connected account (Stripe's guide for software platforms: the platform's own
    # interface sets the head office and registrations of Express accounts, which have no Stripe Dashboard).

    def tax_settings(self, account_id: str) -> TaxSettings:
        try:
            return _tax_settings(self.client.v1.tax.settings.retrieve(options={"stripe_account": account_id}))
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc

    def update_tax_settings(self, account_id: str, head_office: TaxAddress, *, prices_include_tax: bool) -> TaxSettings:
        address = {key: value for key, value in dataclasses.asdict(head_office).items() if value}
        params: SettingsUpdateParams = {
            "head_office": {"address": cast("SettingsUpdateParamsHeadOfficeAddress", address)},
            "defaults": {"tax_behavior": tax_behavior(prices_include_tax)},
        }
        try:
            updated = self.client.v1.tax.settings.update(params=params, options={"stripe_account": account_id})
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return _tax_settings(updated)

    def tax_registrations(self, account_id: str) -> list[TaxRegistration]:
        try:
            found = self.client.v1.tax.registrations.list(
                params={"status": "all", "limit": 100}, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return [_tax_registration(registration) for registration in found.data]

    def add_tax_registration(self, account_id: str, country: str, kind: str, state: str = "") -> TaxRegistration:
        options: dict = {"type": kind}
        if country == "US":
            options["state"] = state
        elif kind == "standard" and country in EU_COUNTRIES:
            # Under the EU's €10,000 threshold for cross-border digital sales, the home country's VAT applies.
            options["standard"] = {"place_of_supply_scheme": "small_seller"}
        params = {"country": country, "active_from": "now", "country_options": {country.lower(): options}}
        try:
            made = self.client.v1.tax.registrations.create(
                params=cast("RegistrationCreateParams", params), options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return _tax_registration(made)

    def end_tax_registration(self, account_id: str, registration_id: str) -> TaxRegistration:
        try:
            ended = self.client.v1.tax.registrations.update(
                registration_id, params={"expires_at": "now"}, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return _tax_registration(ended)

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

    def dispute_status(self, dispute_id: str) -> DisputeStage | None:
        """A dispute's stage as Stripe has it now (its events can arrive in any order)."""
        try:
            dispute = _plain(self.client.v1.disputes.retrieve(dispute_id))
        except stripe.StripeError as exc:
            raise _stripe_error_message(exc) from exc
        return dispute_stage(dispute["status"])

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


def _account_id(value: object) -> str | None:
    """An account as Stripe sends it: an id, or the object when expanded."""
    return value if isinstance(value, str) else (value or {}).get("id") if isinstance(value, dict) else None


def _keep_tax(phase: SubscriptionScheduleUpdateParamsPhase, subscription: dict) -> None:
    """Stripe Tax as the subscription was made with it, for a schedule's phase (phases are replaced whole).

    Without it the later instalments would be billed with no tax, and by the platform rather than the creator.
    """
    automatic = subscription.get("automatic_tax") or {}
    if not automatic.get("enabled"):
        return
    liability = automatic.get("liability") or {}
    liable = _account_id(liability.get("account"))
    if liability.get("type") == "account" and liable:
        phase["automatic_tax"] = {"enabled": True, "liability": {"type": "account", "account": liable}}
    else:
        phase["automatic_tax"] = {"enabled": True}
    on_behalf_of = _account_id(subscription.get("on_behalf_of"))
    if on_behalf_of:
        phase["on_behalf_of"] = on_behalf_of
    issuer = (subscription.get("invoice_settings") or {}).get("issuer") or {}
    issuing = _account_id(issuer.get("account"))
    if issuer.get("type") == "account" and issuing:
        phase["invoice_settings"] = {"issuer": {"type": "account", "account": issuing}}


# The European Union's member states: VAT registrations there may be the One-Stop Shop's.
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def _when(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and not isinstance(value, bool) else None


def _tax_settings(settings) -> TaxSettings:
    settings = _plain(settings)
    address = (settings.get("head_office") or {}).get("address") or {}
    missing = ((settings.get("status_details") or {}).get("pending") or {}).get("missing_fields") or []
    head_office = (
        TaxAddress(**{key: address.get(key) or "" for key in ("country", "state", "postal_code", "city", "line1")})
        if address.get("country")
        else None
    )
    return TaxSettings(status=str(settings.get("status") or "pending"), head_office=head_office, missing=tuple(missing))


def _tax_registration(registration) -> TaxRegistration:
    registration = _plain(registration)
    country = str(registration.get("country") or "")
    options = (registration.get("country_options") or {}).get(country.lower()) or {}
    return TaxRegistration(
        id=registration["id"],
        country=country,
        state=str(options.get("state") or ""),
        type=str(options.get("type") or ""),
        status=str(registration.get("status") or ""),
        active_from=_when(registration.get("active_from")),
        expires_at=_when(registration.get("expires_at")),
    )


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


def checkout_totals(session: dict) -> CheckoutTotals:
    """The amounts of a Checkout Session (from the API or an event), unchecked: see `stripe_events`."""
    details = session.get("total_details") or {}
    currency = session.get("currency")
    return CheckoutTotals(
        currency=currency.upper() if isinstance(currency, str) else None,
        amount_subtotal=session.get("amount_subtotal"),
        amount_total=session.get("amount_total"),
        amount_discount=details.get("amount_discount") or 0,
        amount_tax=details.get("amount_tax") or 0,
        buyer_tax_id=buyer_tax_id(session.get("customer_details")),
    )


# A tax id as Stripe types it (eu_vat, gb_vat, au_abn, ca_gst_hst, eu_oss_vat…) and a value fit to print on a receipt.
TAX_ID_TYPE = re.compile(r"[a-z]{2}(?:_[a-z]{2,12}){1,3}")
TAX_ID_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .\-/]{0,62}")


def tax_behavior(prices_include_tax: bool) -> Literal["inclusive", "exclusive"]:
    """Stripe's word for whether a price holds its tax (VAT-style) or has it added at checkout (US-style)."""
    return "inclusive" if prices_include_tax else "exclusive"


def buyer_tax_id(details: object) -> tuple[str, str] | None:
    """The first VAT or GST number a business buyer gave at checkout, as (type, value); None if none fits.

    A value that isn't one a tax authority issues (control characters, markup, too long) is left out,
    not stored: it would only ever be printed on a receipt.
    """
    tax_ids = details.get("tax_ids") if isinstance(details, dict) else None
    for tax_id in tax_ids if isinstance(tax_ids, list) else []:
        kind, value = (tax_id.get("type"), tax_id.get("value")) if isinstance(tax_id, dict) else (None, None)
        if isinstance(kind, str) and isinstance(value, str):
            value = value.strip()
            if TAX_ID_TYPE.fullmatch(kind) and TAX_ID_VALUE.fullmatch(value):
                return kind, value
    return None


def order_reference(value: object) -> int | None:
    """The order a Checkout Session was opened for (its `client_reference_id`: ASCII digits of an id), or None."""
    return parse_id(value) if isinstance(value, str) else None


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

    def dispute_status(self, dispute_id: str) -> DisputeStage | None:
        raise PaymentsError("Test-mode payments can't be disputed.", retryable=False)

    def create_account(self, profile: CreatorProfile, email: str) -> str:
        raise PaymentsError("Test mode needs no Stripe account: payments work as they are.", retryable=False)

    def delete_checkout_coupon(self, checkout_id: str) -> bool:
        """Test-mode discounts live in the app alone: there is nothing to remove."""
        return False

    def account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        raise PaymentsError("Test mode needs no Stripe account: payments work as they are.", retryable=False)

    def account_status(self, account_id: str) -> AccountStatus:
        return AccountStatus(account_id, True, True, True)

    def plan_state(self, subscription_id: str) -> PlanState:
        raise PaymentsError("Test-mode plans are billed inside the app; there is nothing to ask.", retryable=False)

    def end_plan_after(self, subscription_id: str, instalments: int, plan_id: int) -> None:
        """Test-mode plans end on their own in the app's billing run."""

    def cancel_plan(self, subscription_id: str) -> None:
        """A stopped test-mode plan is simply no longer billed."""

    def plan_card_url(self, subscription_id: str, return_url: str, *, overdue: bool) -> str:
        raise PaymentsError("Test-mode cards are changed on the app's own page.", retryable=False)

    def portal_url(self, subscription_id: str, return_url: str) -> str:
        raise PaymentsError("Test-mode memberships are managed on My orders.", retryable=False)

    def return_platform_fee(self, order: Order, amount_cents: int) -> int:
        return 0  # test-mode sales carry no tax, so no fee is ever taken on it

    def tax_settings(self, account_id: str) -> TaxSettings:
        raise PaymentsError(TEST_MODE_TAX, retryable=False)

    def update_tax_settings(self, account_id: str, head_office: TaxAddress, *, prices_include_tax: bool) -> TaxSettings:
        raise PaymentsError(TEST_MODE_TAX, retryable=False)

    def tax_registrations(self, account_id: str) -> list[TaxRegistration]:
        raise PaymentsError(TEST_MODE_TAX, retryable=False)

    def add_tax_registration(self, account_id: str, country: str, kind: str, state: str = "") -> TaxRegistration:
        raise PaymentsError(TEST_MODE_TAX, retryable=False)

    def end_tax_registration(self, account_id: str, registration_id: str) -> TaxRegistration:
        raise PaymentsError(TEST_MODE_TAX, retryable=False)


TEST_MODE_TAX = "Tax is worked out by Stripe Tax, and payments are in test mode: there is no tax to set up."


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
