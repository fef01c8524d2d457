"""Stripe's events, applied once each, in whatever order they arrive.

`integrations.stripe_events` reads each delivery into a payment event (CheckoutCompleted,
RefundRecorded, DisputeChanged, AccountUpdated…); this module applies it. Every delivery
is recorded in ProviderEvent before anything else; the unique (provider, event id) makes a
duplicate, a replay or a concurrent second delivery a no-op. An event about a payment the
app hasn't recorded yet (a refund or a dispute delivered before the checkout's completion)
is parked and applied by `fulfil_order` as soon as that payment is recorded.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..integrations.payments import (
    AccountStatus,
    DisputeStage,
    PaymentsError,
    RefundResult,
    SubscriptionStart,
    get_payments,
    payments_for,
)
from ..integrations.stripe_events import (
    AccountUpdated,
    ChargeEvent,
    CheckoutCompleted,
    CheckoutEvent,
    CheckoutFailed,
    DisputeChanged,
    InvoiceEvent,
    InvoiceFailed,
    InvoicePaid,
    MalformedEvent,
    PaymentEvent,
    RefundRecorded,
    SubscriptionChanged,
    TaxSettingsUpdated,
    Unhandled,
    from_payload,
)
from ..models import CreatorProfile, Order, OrderStatus, PaymentPlan, PaymentProvider, PlanStatus, ProviderEvent, utcnow
from . import plans
from .services import (
    Reversal,
    close_order,
    fulfil_order,
    lock_known_order,
    lock_order,
    lock_payment,
    mail_payment_failed,
    reverse_payment,
)

# The invoices of a plan that are its instalments: the first, and one a month after.
PLAN_INVOICES = frozenset({"subscription_create", "subscription_cycle"})
# Outcomes that leave the event unprocessed: kept for its payment, or left to be looked at.
UNPROCESSED = frozenset({"parked", "mismatch"})


def record_event(event: PaymentEvent) -> ProviderEvent | None:
    """The ledger row for a new event, or None if this event id was seen before (flushed)."""
    row = ProviderEvent(provider=PaymentProvider.STRIPE, event_id=event.id, type=event.type)
    exists = sa.select(ProviderEvent.id).where(
        ProviderEvent.provider == PaymentProvider.STRIPE, ProviderEvent.event_id == event.id
    )
    if db.session.scalar(exists) is not None:
        return None
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        # A concurrent delivery of the same event got there first; it does the work.
        return None
    return row


def handle_event(event: PaymentEvent) -> str:
    """Apply one verified, well-formed event; returns what happened, for the log and the response."""
    row = record_event(event)
    if row is None:
        return "duplicate"
    if isinstance(event, Unhandled):
        row.processed_at = utcnow()
        return "ignored"
    outcome = apply_event(event, row)
    if outcome not in UNPROCESSED:
        row.processed_at = utcnow()
    db.session.flush()
    return outcome


def apply_event(event: PaymentEvent, row: ProviderEvent) -> str:
    if isinstance(event, CheckoutEvent):
        return _checkout_event(event)
    if isinstance(event, AccountUpdated):
        return _account_updated(event.account)
    if isinstance(event, TaxSettingsUpdated):
        return _tax_settings_updated(event)
    if isinstance(event, ChargeEvent):
        return _charge_event(event, row)
    if isinstance(event, InvoiceEvent):
        return _invoice_event(event)
    if isinstance(event, SubscriptionChanged):
        return _subscription_changed(event)
    return "unchanged"


def _order_for_session(session: CheckoutEvent) -> Order | None:
    if session.order_id is None:
        return None
    order = db.session.get(Order, session.order_id)
    if order is None or order.provider is not PaymentProvider.STRIPE:
        return None
    if order.checkout_id and order.checkout_id != session.checkout_id:
        return None
    return order


def _checkout_event(event: CheckoutEvent) -> str:
    order = _order_for_session(event)
    if order is None:
        current_app.logger.warning("%s for unknown checkout %s", event.type, event.checkout_id)
        return "unknown_order"
    if order.checkout_id is None:
        order.checkout_id = event.checkout_id
    if isinstance(event, CheckoutCompleted):
        started = SubscriptionStart(event.subscription_id, event.invoice_id) if event.subscription_id else None
        result = fulfil_order(
            order.id,
            paid=event.paid,
            payment_intent_id=event.payment_intent_id,
            totals=event.totals,
            subscription=started,
        )
        if result is None:
            raise LookupError(f"Order {order.id} went missing while its checkout was being recorded.")
        return result.outcome.value
    order = lock_known_order(order.id)
    if isinstance(event, CheckoutFailed):
        closed = close_order(order, OrderStatus.FAILED, "The bank payment didn't go through.")
        if closed:
            mail_payment_failed(order)
        return "failed" if closed else "unchanged"
    closed = close_order(order, OrderStatus.EXPIRED, "The checkout expired before payment.")
    return "expired" if closed else "unchanged"


# ---------------------------------------------------------------------------
# Payment plans: Stripe's subscriptions and their invoices
# ---------------------------------------------------------------------------


def _plan_for(subscription_id: str | None, order_id: int | None) -> PaymentPlan | None:
    """The plan an invoice or subscription is about: by the subscription, or by the first order its metadata names."""
    plan = plans.plan_of_subscription(subscription_id) if subscription_id else None
    if plan is not None or order_id is None:
        return plan
    order = db.session.get(Order, order_id)
    if order is None or order.plan is None or order.provider is not PaymentProvider.STRIPE:
        return None
    known = order.plan.provider_subscription_id
    return order.plan if known in (None, subscription_id) else None


def _invoice_event(event: InvoiceEvent) -> str:
    plan = _plan_for(event.subscription_id, event.order_id)
    if plan is None:
        current_app.logger.warning(
            "%s %s for an unknown subscription %s", event.type, event.invoice_id, event.subscription_id
        )
        return "unknown_plan"
    if event.currency != plan.currency:
        current_app.logger.error(
            "invoice %s in %s for plan %s in %s: not booked", event.invoice_id, event.currency, plan.id, plan.currency
        )
        return "mismatch"
    first = plans.first_order(plan)
    if event.billing_reason not in PLAN_INVOICES:
        # A one-off or prorated invoice on the subscription isn't an instalment: left for someone to look at.
        current_app.logger.error(
            "invoice %s (%s) on plan %s: not an instalment", event.invoice_id, event.billing_reason, plan.id
        )
        return "mismatch"
    if isinstance(event, InvoicePaid):
        if first is not None and (event.billing_reason == "subscription_create" or not first.is_settled):
            # The first instalment: the checkout's order, whichever of its events comes first.
            result = fulfil_order(
                first.id,
                paid=True,
                totals=event.totals,
                subscription=SubscriptionStart(event.subscription_id, event.invoice_id, event.period_end),
            )
            return result.outcome.value if result else "unknown_order"
        return plans.record_instalment(
            plan.id,
            totals=event.totals,
            payments=plans.payments_for_plan(plan),
            invoice_id=event.invoice_id,
            next_charge_at=event.period_end,
        )
    if not isinstance(event, InvoiceFailed) or event.billing_reason == "subscription_create":
        return "unchanged"  # the first payment fails inside Checkout, which says so itself
    locked = plans.lock_plan(plan.id)
    if locked is None:
        return "unknown_plan"
    if plans.invoice_booked(PaymentProvider.STRIPE, event.invoice_id):
        return "unchanged"  # a failure delivered after the same invoice's payment: it was paid in the end
    return plans.instalment_failed(locked, "Your card was declined.", event.next_attempt)


def _subscription_changed(event: SubscriptionChanged) -> str:
    """The plan follows its subscription as Stripe has it now, whatever order the events came in."""
    plan = plans.plan_of_subscription(event.subscription_id)
    if plan is None:
        return "unknown_plan"
    locked = plans.lock_plan(plan.id)  # before reading Stripe: a second delivery reads after this one applied
    if locked is None or locked.status in (PlanStatus.COMPLETED, PlanStatus.CANCELED, PlanStatus.ABANDONED):
        return "unchanged"
    state = plans.payments_for_plan(locked).plan_state(event.subscription_id)
    return plans.sync_plan(locked, state)


def _order_for_charge(charge: ChargeEvent) -> tuple[Order | None, str | None]:
    """The order a charge or dispute is about, and the payment reference to park it under."""
    clauses = []
    if charge.payment_intent_id:
        clauses.append(Order.payment_intent_id == charge.payment_intent_id)
    if charge.charge_id:
        clauses.append(Order.charge_id == charge.charge_id)
    if not clauses:
        return None, None
    order_id = db.session.scalar(
        sa.select(Order.id).where(Order.provider == PaymentProvider.STRIPE, sa.or_(*clauses)).limit(1)
    )
    order = lock_order(order_id) if order_id else None
    return order, charge.payment_intent_id or charge.charge_id


def _charge_event(event: ChargeEvent, row: ProviderEvent, *, locked: bool = False) -> str:
    if not locked:
        # Wait for a completion of the same payment that is being recorded right now (see fulfil_order).
        lock_payment(event.payment_intent_id, event.charge_id)
    order, ref = _order_for_charge(event)
    if order is None or not order.is_settled:
        # Not recorded as paid yet: keep the event and apply it when the payment is recorded.
        row.object_ref = ref
        row.payload = event.to_payload()
        return "parked"
    if isinstance(event, RefundRecorded):
        for refund in _refunds(order, event):
            reverse_payment(order, Reversal.refund(refund, "Refunded in Stripe"))
        return "refund"
    if not isinstance(event, DisputeChanged):
        return "unchanged"
    change = _dispute_change(_dispute_now(order, event))
    if change is None:
        return "unchanged"
    reverse_payment(order, change)
    return change.kind


def _refunds(order: Order, charge: RefundRecorded) -> tuple[RefundResult, ...] | list[RefundResult]:
    """The refunds an event names: those it carries, else (a charge without them) Stripe's list; PaymentsError."""
    if charge.refunds is not None:
        return charge.refunds
    charge_id = charge.charge_id or order.charge_id
    return payments_for(order).refunds_of(charge_id) if charge_id else ()


def _dispute_now(order: Order, dispute: DisputeChanged) -> DisputeChanged:
    """The dispute with its status as Stripe has it now: an opening delivered after the closure must not reopen it.

    If Stripe can't be asked, the event's own status stands.
    """
    if dispute.dispute_id is None:
        return dispute
    try:
        status = payments_for(order).dispute_status(dispute.dispute_id)
    except PaymentsError as exc:
        current_app.logger.warning("dispute %s: status not readable from Stripe: %s", dispute.dispute_id, exc.message)
        return dispute
    return dataclasses.replace(dispute, status=status)


def _dispute_change(dispute: DisputeChanged) -> Reversal | None:
    """What a dispute event does: an open dispute pauses access; any closure but a lost one gives it back."""
    stage = dispute.stage
    if stage is DisputeStage.LOST:
        return Reversal(Reversal.DISPUTE_LOST, dispute.amount or 0, dispute.dispute_id, reason="Dispute lost")
    if stage is DisputeStage.WON:
        return Reversal(Reversal.DISPUTE_WON)
    if stage is DisputeStage.OPEN:
        return Reversal(Reversal.DISPUTE_OPENED, reason=dispute.reason)
    return None  # an update to a status this code doesn't know yet


def _account_updated(account: AccountStatus) -> str:
    profile = db.session.scalar(sa.select(CreatorProfile).where(CreatorProfile.stripe_account_id == account.id))
    if profile is None:
        return "unknown_account"
    try:
        # Events can arrive out of order: the account as it is now beats the one in an older event.
        status = get_payments().account_status(account.id)
    except PaymentsError:
        status = account
    profile.stripe_charges_enabled = status.charges_enabled
    profile.stripe_details_submitted = status.details_submitted
    profile.stripe_payouts_enabled = status.payouts_enabled
    return "account_updated"


def _tax_settings_updated(event: TaxSettingsUpdated) -> str:
    """A creator's Stripe Tax settings changed at Stripe: checkouts carry automatic tax only while they are active.

    Settings Stripe no longer finds complete would make it refuse every checkout asking for tax, so the
    creator's sales go on without it (their tax page says so) until the settings are active again.
    """
    profile = db.session.scalar(sa.select(CreatorProfile).where(CreatorProfile.stripe_account_id == event.account_id))
    if profile is None:
        return "unknown_account"
    try:
        # Out of order, an older event could say the opposite of now: Stripe's settings as they are now win.
        active = get_payments().tax_settings(event.account_id).is_active
    except PaymentsError:
        active = event.active
    profile.stripe_tax_active = active
    return "tax_settings_updated"


def replay_parked(order: Order) -> None:
    """Apply the parked events naming this order's payment, oldest first (called by fulfil_order)."""
    refs = [ref for ref in (order.payment_intent_id, order.charge_id) if ref]
    if not refs:
        return
    parked = db.session.scalars(
        sa.select(ProviderEvent)
        .where(ProviderEvent.object_ref.in_(refs), ProviderEvent.processed_at.is_(None))
        .order_by(ProviderEvent.received_at, ProviderEvent.id)
        .with_for_update()
    ).all()
    for row in parked:
        try:
            event = from_payload(row.payload or {})
        except MalformedEvent:
            current_app.logger.warning("parked event %s can't be read again; left unprocessed", row.event_id)
            continue
        try:
            outcome = _charge_event(event, row, locked=True) if isinstance(event, ChargeEvent) else "unchanged"
        except PaymentsError:
            current_app.logger.warning("parked event %s: Stripe unreachable; left for the next try", row.event_id)
            continue
        if outcome != "parked":
            row.processed_at = utcnow()
            row.payload = None
    db.session.flush()
