"""Buying, fulfilling and giving money back: the rules every payment path goes through.

- `begin_checkout` / `open_checkout`: the Buy button, in two steps with a commit between,
  so a seat is held (and visible to everyone) before the provider is called.
- `fulfil_order`: the one place an order becomes paid and a learner enrolled. The
  webhook, the success page and the test-mode Pay button all call it; it locks the
  order row, so any number of concurrent or repeated calls enrol once.
- `reverse_payment`: the one place money goes back or is contested (refunds from the
  studio or the provider's dashboard, disputes opened, won and lost).

Functions flush and never commit: the caller's request commits once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, render_template

from ..bundles import bundle_problems, has_everything, missing_offerings, purchase_refusals
from ..enrollments import access_changes
from ..enrollments.access_changes import enrollment_of, enrollments_for_order
from ..enrollments.notes import learner_note
from ..enrollments.seats import has_seat, lock_offering
from ..enrollments.states import AccessState
from ..enrollments.waitlist import offer_open_seats
from ..extensions import db
from ..formatting import format_money
from ..ids import parse_id
from ..integrations.mail import send_after_commit
from ..integrations.payments import (
    CheckoutRequest,
    CheckoutTotals,
    Payments,
    PaymentsError,
    PlanTerms,
    SubscriptionStart,
    TaxTerms,
    get_payments,
    payments_for,
    test_mode,
)
from ..jobs import enqueue
from ..links import absolute_url, learn_url, offering_url
from ..models import (
    AccessEvent,
    CreatorProfile,
    Enrollment,
    Offering,
    OfferingKind,
    Order,
    OrderStatus,
    PaymentProvider,
    Refund,
    RefundStatus,
    User,
    utcnow,
)
from ..models.base import whole_sum
from ..models.commerce import SETTLED_STATUSES
from . import coupons, plans

# How long a pending checkout holds a live-workshop seat: Stripe's shortest session life
# (30 minutes from when Stripe creates it), plus a minute for the round trip.
CHECKOUT_HOLD = timedelta(minutes=31)
# A pending checkout is reused for a second press of Buy only if it has this long left.
REUSE_MARGIN = timedelta(minutes=5)


class CheckoutError(Exception):
    """The learner can't buy right now; `message` says why and what to do."""

    def __init__(self, message: str, *, category: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.category = category


class AlreadyEnrolled(CheckoutError):
    def __init__(self, enrollment: Enrollment) -> None:
        super().__init__("You're already enrolled, so there's nothing to pay.", category="info")
        self.enrollment = enrollment


class RefundError(ValueError):
    """A refund that can't be made; the message says why."""


# ---------------------------------------------------------------------------
# Fees and locks
# ---------------------------------------------------------------------------


def platform_fee(amount_cents: int) -> int:
    """PLATFORM_FEE_PERCENT of the price, rounded half up, in minor units."""
    percent = current_app.config["PLATFORM_FEE_PERCENT"]
    return (amount_cents * percent + 50) // 100


def _locking_order(order_id: int) -> sa.Select[Order]:
    return sa.select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)


def lock_order(order_id: int) -> Order | None:
    """The order's row, locked until commit, read fresh from the database; None if there is no such order."""
    return db.session.scalar(_locking_order(order_id))


def lock_known_order(order_id: int) -> Order:
    """As lock_order, for an order already read in this request: orders are never deleted, so it is there."""
    return db.session.execute(_locking_order(order_id)).scalar_one()


def lock_payment(*refs: str | None) -> None:
    """Hold PostgreSQL advisory locks on payment references until commit.

    A refund or dispute event takes them before looking for its order, and
    `fulfil_order` takes them before applying parked events: whichever comes second
    sees what the first committed, so an event is never parked after its payment was
    recorded. (SQLite runs one writer at a time and needs no lock.)
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for ref in refs:
        if ref:
            db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:ref))"), {"ref": ref})


# ---------------------------------------------------------------------------
# Buying
# ---------------------------------------------------------------------------


def tax_terms(creator: CreatorProfile, payments: Payments) -> TaxTerms | None:
    """Stripe Tax for a creator's checkout: when the operator turned it on and the creator's tax settings are active.

    The creator's account is the liable party; until they have given Stripe their head office, Stripe can
    work out no tax for them, so their sales go on without it (Studio -> Payouts -> Tax says so).
    """
    config = current_app.config
    if not (config["STRIPE_TAX"] and payments.kind is PaymentProvider.STRIPE):
        return None
    if not (creator.stripe_account_id and creator.stripe_tax_active):
        return None
    return TaxTerms(
        liable_account=creator.stripe_account_id,
        prices_include_tax=creator.prices_include_tax,
        collect_tax_ids=config["STRIPE_TAX_ID_COLLECTION"],
        tax_code=config["STRIPE_TAX_CODE"],
    )


def begin_checkout(
    user: User, offering: Offering, amount_cents: int, coupon_code: str | None = None, *, plan: bool = False
) -> Order | Enrollment:
    """Step one of Buy: a free enrollment, or a pending order holding a seat; raises CheckoutError.

    `amount_cents` is the price the learner chose (the offering's, or theirs on a sliding
    scale); a coupon takes its discount off it, and one that takes all of it enrols at once
    with a paid order of zero. With `plan`, the learner pays in the offering's monthly instalments
    and the order is the first of them (codes apply to paying at once only). Commit after this and
    before `open_checkout`, so the seat (and the coupon's use) is held while the provider is called.
    """
    _check_may_buy(user, offering)
    offering = lock_offering(offering.id)
    if offering.is_free:
        return _grant_or_refuse(user, offering, AccessEvent.FREE)
    if offering.is_membership:
        # A membership is always a subscription: its price every period, until the member cancels.
        if coupon_code:
            raise CheckoutError("Codes apply to one-off purchases, not to memberships.")
        plan, amount_cents = True, offering.price_cents
    elif plan:
        if not offering.has_plan or offering.plan_instalment_cents is None:
            raise CheckoutError("This offering isn't sold in instalments. You can pay for it at once.")
        if coupon_code:
            raise CheckoutError("Codes apply to paying at once, not to the payment plan.")
        amount_cents = offering.plan_instalment_cents
    priced = None
    if coupon_code:
        try:
            priced = coupons.redeem(offering, coupon_code, user.id, amount_cents)
        except coupons.CouponError as exc:
            raise CheckoutError(exc.message) from None
        amount_cents = priced.amount_cents
    if amount_cents > 0 and not test_mode():
        creator = offering.creator
        if not (creator.stripe_account_id and creator.stripe_charges_enabled):
            raise CheckoutError("This offering can't take payments right now. Please try again later.")
    reusable = _open_checkout_of(
        user, offering, amount_cents, priced.discount_cents if priced else 0, priced.coupon.id if priced else None, plan
    )
    if reusable is not None:
        return reusable
    if not has_seat(offering, for_learner=user.id):
        raise CheckoutError(WORKSHOP_FULL)
    try:
        provider = get_payments().kind
    except PaymentsError as exc:
        raise CheckoutError(exc.message) from None
    fee = platform_fee(amount_cents)
    payment_plan = plans.start_plan(user, offering, provider) if plan else None
    order = Order(
        learner_id=user.id,
        offering_id=offering.id,
        amount_cents=amount_cents,
        discount_cents=priced.discount_cents if priced else 0,
        coupon_id=priced.coupon.id if priced else None,
        currency=offering.currency,
        provider=provider,
        status=OrderStatus.PENDING,
        platform_fee_cents=fee,
        net_cents=amount_cents - fee,
        expires_at=utcnow() + CHECKOUT_HOLD,
        plan_id=payment_plan.id if payment_plan else None,
        instalment=1 if payment_plan else None,
    )
    db.session.add(order)
    db.session.flush()
    if priced is not None and priced.is_whole:
        return _enrol_without_payment(order, offering)
    return order


ALREADY_HAVE_BUNDLE = "You already have everything in this {what}, so there's nothing to buy."
WORKSHOP_FULL = "Sorry, this workshop has just filled up. Join the waitlist to hear if a seat opens."


def _check_may_buy(user: User, offering: Offering) -> None:
    """CheckoutError (or AlreadyEnrolled) when this learner can't sign up for this offering at all."""
    if not offering.is_listed or offering.waitlist_only:
        raise CheckoutError("This offering isn't open for sign-ups right now.")
    profile = user.creator_profile
    if profile is not None and profile.id == offering.creator_id:
        raise CheckoutError("This is your own offering, so you already have access to all of it.", category="info")
    if offering.holds_offerings:
        what = offering.kind.label.lower()
        if offering.is_membership and plans.running_membership(user, offering) is not None:
            raise CheckoutError("You're already a member. Your membership is on My orders.", category="info")
        if bundle_problems(offering):
            raise CheckoutError(f"This {what} isn't available right now. Its offerings can still be bought one by one.")
        if has_everything(user, offering):
            raise CheckoutError(ALREADY_HAVE_BUNDLE.format(what=what), category="info")
        refusals = purchase_refusals(user, offering)
        if refusals:
            verb = "joined" if offering.is_membership else "sold to you"
            raise CheckoutError(f"This {what} can't be {verb}: {'; '.join(refusals)}.")
    existing = enrollment_of(user.id, offering.id)
    if existing is not None and existing.is_active:
        raise AlreadyEnrolled(existing)
    note = learner_note(existing, user.time_zone)
    if note is not None and not note.may_buy:
        raise CheckoutError(note.text)


def _open_checkout_of(
    user: User, offering: Offering, amount_cents: int, discount_cents: int, coupon_id: int | None, plan: bool
) -> Order | None:
    """The learner's own open checkout for the same price, discount and code (Buy pressed again, or Back
    from Stripe), which keeps its seat and its code's use; None if there is none with time left."""
    return db.session.scalar(
        sa.select(Order)
        .where(
            Order.learner_id == user.id,
            Order.offering_id == offering.id,
            Order.status == OrderStatus.PENDING,
            Order.amount_cents == amount_cents,
            Order.discount_cents == discount_cents,
            Order.coupon_id == coupon_id,
            Order.plan_id.is_not(None) if plan else Order.plan_id.is_(None),
            Order.checkout_url.is_not(None),
            Order.payment_intent_id.is_(None),
            Order.expires_at > utcnow() + REUSE_MARGIN,
        )
        .order_by(Order.id.desc())
        .limit(1)
    )


def _grant_or_refuse(user: User, offering: Offering, event: AccessEvent, order: Order | None = None) -> Enrollment:
    """Access without a payment (a free offering, or a coupon that took the whole price), or CheckoutError."""
    try:
        enrollment = access_changes.grant(user, offering, event, order).enrollment
    except access_changes.NoSeat:
        raise CheckoutError(WORKSHOP_FULL) from None
    except access_changes.AccessRefused as refused:
        refusal = learner_note(refused.enrollment, user.time_zone)
        if refusal is None:
            raise  # can't happen: only paused or ended access refuses a sign-up, and both have a note
        raise CheckoutError(refusal.text) from None
    if enrollment is None:  # can't happen: a sign-up that isn't refused leaves an enrollment
        raise RuntimeError(f"A sign-up to offering {offering.id} left no enrollment.")
    return enrollment


def _enrol_without_payment(order: Order, offering: Offering) -> Enrollment:
    """A coupon took the whole price: the order is paid (at zero) and the learner enrolled, or nothing happens.

    Nothing is asked of the provider, so no fee is taken; a refusal raises CheckoutError,
    and the caller's rollback takes the order away with it.
    """
    order.transition_to(OrderStatus.PAID)
    order.paid_at = utcnow()
    order.expires_at = None
    order.platform_fee_cents = order.net_cents = 0
    if offering.holds_offerings:
        # The offerings the learner doesn't have yet (begin_checkout refused a bundle they have all of, or
        # one that can't give them all it holds).
        missing = missing_offerings(order.learner, offering)
        granted = [_grant_or_refuse(order.learner, o, AccessEvent.PURCHASE, order) for o in missing]
        if not granted:
            raise CheckoutError(ALREADY_HAVE_BUNDLE.format(what="bundle"), category="info")
        enrollment = granted[0]
    else:
        enrollment = _grant_or_refuse(order.learner, offering, AccessEvent.PURCHASE, order)
    db.session.flush()
    _mail_receipt(order)
    return enrollment


def open_checkout(order: Order, payments: Payments | None = None) -> str:
    """Step two of Buy: the provider's checkout for a pending order; returns where to send the learner.

    On failure the order is marked failed (its seat freed) and CheckoutError says what
    happened; pressing Buy again starts afresh.
    """
    if order.checkout_url:
        return order.checkout_url
    payments = payments or get_payments()
    offering = order.offering
    creator = offering.creator
    if order.expires_at is None:
        # Every pending order is made with its hold's end (begin_checkout), and only those come here.
        raise ValueError(f"Order {order.id} has no end to its hold, so no checkout can be opened for it.")
    success = absolute_url("checkout.success") + "?session_id={CHECKOUT_SESSION_ID}"
    request = CheckoutRequest(
        order=order,
        title=offering.title,
        learner_email=order.learner.email,
        success_url=success,
        cancel_url=absolute_url("checkout.cancel", order=order.id),
        expires_at=order.expires_at,
        destination_account=creator.stripe_account_id,
        application_fee_cents=order.platform_fee_cents,
        discount_cents=order.discount_cents,
        discount_name=order.coupon.code if order.coupon else "",
        tax=tax_terms(creator, payments),
        plan=PlanTerms(
            order.plan.instalments,
            order.plan.id,
            current_app.config["PLATFORM_FEE_PERCENT"],
            interval=order.plan.interval.value,
        )
        if order.plan
        else None,
    )
    try:
        checkout = payments.create_checkout(request)
    except PaymentsError as exc:
        order.transition_to(OrderStatus.FAILED)
        order.failure_reason = exc.message[:255]
        plans.plan_not_started(order)
        db.session.flush()
        raise CheckoutError(exc.message) from exc
    order.checkout_id = checkout.id
    order.checkout_url = checkout.url
    db.session.flush()
    return checkout.url


# ---------------------------------------------------------------------------
# Fulfilling
# ---------------------------------------------------------------------------


class FulfilmentOutcome(enum.Enum):
    ENROLLED = "enrolled"  # paid just now, and the learner has access
    ALREADY = "already"  # this order was settled before (a repeat delivery)
    PROCESSING = "processing"  # finished with a delayed method; the money is on its way
    REFUNDED_FULL = "refunded_full"  # paid for a workshop that had filled up: refunded
    REFUNDED_DUPLICATE = "refunded_duplicate"  # paid twice for the same offering: the second refunded
    REFUNDED_ENDED = "refunded_ended"  # paid after access ended in a way buying can't undo: refunded
    CLOSED = "closed"  # the order was given up (expired or failed) and can't be paid
    MISMATCH = "mismatch"  # the checkout charged another amount or currency than the order's: not booked


@dataclass(frozen=True)
class Fulfilment:
    order: Order
    outcome: FulfilmentOutcome


def fulfil_order(
    order_id: int,
    *,
    paid: bool,
    payment_intent_id: str | None = None,
    totals: CheckoutTotals | None = None,
    payments: Payments | None = None,
    subscription: SubscriptionStart | None = None,
) -> Fulfilment | None:
    """Record a finished checkout and give access, exactly once; None if there is no such order.

    Safe to call any number of times, from any path, concurrently: the order row is
    locked and a settled order is left as it is (so a late or replayed event never
    re-activates a refunded order). A provider's checkout (`totals`) is booked only if it
    charged the order's list price in its currency, less its discount (MISMATCH otherwise). A
    payment plan's first instalment (`subscription`: Stripe's subscription and first invoice) starts
    the plan.
    """
    order = lock_order(order_id)
    if order is None:
        return None
    if order.plan_id is not None and subscription is not None:
        plans.link_subscription(order, subscription, payments)
    if order.is_settled:
        return Fulfilment(order, FulfilmentOutcome.ALREADY)
    if payment_intent_id and not order.payment_intent_id:
        order.payment_intent_id = payment_intent_id
    if not paid:
        db.session.flush()
        return Fulfilment(order, FulfilmentOutcome.PROCESSING)
    if not order.can_transition_to(OrderStatus.PAID):
        return Fulfilment(order, FulfilmentOutcome.CLOSED)
    if totals is not None:
        try:
            charged = amounts_paid(order, totals)
        except CheckoutMismatch as exc:
            current_app.logger.error("order %s: checkout not booked: %s", order.id, exc)
            return Fulfilment(order, FulfilmentOutcome.MISMATCH)
        # What was actually paid, the discount (the coupon's, or more from a promotion code) and the tax.
        charged.book(order)
    payments = payments or payments_for(order)
    book_payment(order, payments)
    offering = lock_offering(order.offering_id)
    outcome = _give_access(order, offering, payments)
    db.session.flush()
    if order.plan_id is not None:
        if outcome is FulfilmentOutcome.ENROLLED:
            plans.plan_started(order, subscription.next_charge_at if subscription else None)
        else:  # the first instalment was refunded: nothing more is taken
            plans.stop_plan(order.plan_id, "The first payment was refunded, so the plan stopped.")
    lock_payment(order.payment_intent_id, order.charge_id)
    replay_parked_events(order)
    if outcome is FulfilmentOutcome.ENROLLED and order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        _mail_receipt(order)
    return Fulfilment(order, outcome)


def book_payment(order: Order, payments: Payments) -> None:
    """A pending order's payment arrived: its charge and fees as the provider reports them, and paid now."""
    book_payment_facts(order, payments)
    order.transition_to(OrderStatus.PAID)
    order.paid_at = utcnow()
    if fee_on_tax(order):
        # Stripe took the platform's percentage of the tax too: it goes back to the creator, off the request.
        enqueue("payments.return_fee_on_tax", {"order_id": order.id})


def fee_on_tax(order: Order) -> int:
    """How much of the platform fee Stripe took on an order was taken on its tax, and not yet given back.

    The platform's fee is a percentage of the price only. A one-off sale's fee was asked on the price, so on
    tax added on top it took nothing, but on a price holding VAT it took its share of the VAT; a plan's or
    membership's `application_fee_percent` is of each invoice's total, tax included. Either way the fee on the
    tax is the fee taken × tax / amount, whatever the percentage was then.
    """
    if not order.tax_cents or not order.amount_cents or (order.plan_id is None and not order.tax_included):
        return 0
    on_tax = (2 * order.platform_fee_taken_cents * order.tax_cents + order.amount_cents) // (
        2 * order.amount_cents
    )  # rounded half up
    return max(0, on_tax - order.fee_returned_cents)


def _fee_given_back(order: Order) -> int:
    """The platform fee refunds have given back (or are giving back) on an order so far."""
    given_back = db.session.scalar(
        sa.select(whole_sum(Refund.platform_fee_refunded_cents)).where(
            Refund.order_id == order.id, Refund.status.in_((RefundStatus.SUCCEEDED, RefundStatus.PENDING))
        )
    )
    return int(given_back or 0)


def return_fee_on_tax_job(job) -> dict:
    """Give back the platform fee Stripe took on an order's tax, with an application fee refund, exactly once.

    After a partial refund, only what Stripe still holds of the fee can come back; a payment refunded in full
    gave all its fee back already.
    """
    order_id = parse_id(job.payload.get("order_id"))
    order = lock_order(order_id) if order_id is not None else None
    if order is None or order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.DISPUTED):
        return {"returned": 0}
    over = min(fee_on_tax(order), order.platform_fee_cents - _fee_given_back(order))
    if over <= 0:
        return {"returned": 0}
    returned = min(payments_for(order).return_platform_fee(order, over), over)
    order.platform_fee_cents -= returned
    order.fee_returned_cents += returned
    order.net_cents = order.sale_net_cents
    order.updated_at = utcnow()
    return {"returned": returned}


def book_payment_facts(order: Order, payments: Payments) -> None:
    """The order's charge, PaymentIntent and fees, as the provider reports them."""
    payment = payments.payment(order)
    order.charge_id = payment.charge_id or order.charge_id
    order.payment_intent_id = order.payment_intent_id or payment.payment_intent_id
    if payment.application_fee_cents is not None:
        # The platform fee Stripe really took: the one asked for, capped at what was paid.
        order.platform_fee_cents = min(payment.application_fee_cents, order.revenue_cents)
    order.processor_fee_cents = min(payment.processor_fee_cents, order.revenue_cents - order.platform_fee_cents)
    order.processor_fee_estimated = payment.fee_estimated
    order.settlement_currency = payment.settlement_currency
    order.processor_fee_settled_cents = payment.processor_fee_settled_cents
    order.net_cents = order.sale_net_cents


def refund_unexpected(order: Order, payments: Payments, reason: str) -> None:
    """A paid order nobody should have paid (a plan's instalment after it was paid off or stopped): all of it back."""
    _refund_whole(order, payments, reason)
    _mail_refund_notice(order, "plan_over")


def _give_access(order: Order, offering: Offering, payments: Payments) -> FulfilmentOutcome:
    """Enrol the buyer of a paid order; a payment that can't give access is refunded in full, with a note."""
    if offering.holds_offerings:
        return _give_bundle_access(order, offering, payments)
    learner = order.learner
    existing = enrollment_of(learner.id, offering.id)
    if existing is not None and existing.is_active and existing.order_id not in (None, order.id):
        _refund_whole(order, payments, "You were already enrolled, so this second payment was refunded in full.")
        _mail_refund_notice(order, "already_enrolled")
        return FulfilmentOutcome.REFUNDED_DUPLICATE
    try:
        access_changes.grant(learner, offering, AccessEvent.PURCHASE, order)
    except access_changes.NoSeat:
        _refund_whole(order, payments, "The workshop filled up before the payment arrived; refunded in full.")
        _mail_refund_notice(order, "workshop_full")
        return FulfilmentOutcome.REFUNDED_FULL
    except access_changes.AccessRefused:
        _refund_whole(order, payments, "Your access to this offering had ended, so this payment was refunded in full.")
        _mail_refund_notice(order, "access_ended")
        return FulfilmentOutcome.REFUNDED_ENDED
    return FulfilmentOutcome.ENROLLED


def _give_bundle_access(order: Order, bundle: Offering, payments: Payments) -> FulfilmentOutcome:
    """Enrol the buyer in each of the bundle's offerings they don't have yet, all on this order.

    Access they already have (bought alone, or given by the creator) stays as it is and is not
    the bundle's to take away. A payment that gives nothing (they had it all, or access to the
    rest had ended in a way buying can't undo) is refunded in full, with a note.
    """
    learner = order.learner
    if purchase_refusals(learner, bundle) or bundle_problems(bundle):
        # Something changed since Buy: all of it or none of it, never the whole price for part of the bundle.
        _refund_whole(order, payments, "The bundle couldn't give you all it holds, so this payment was refunded.")
        _mail_refund_notice(order, "access_ended")
        return FulfilmentOutcome.REFUNDED_ENDED
    granted = 0
    try:
        with db.session.begin_nested():  # all of it or none of it
            for item in missing_offerings(learner, bundle):
                if item.kind is OfferingKind.LIVE_WORKSHOP:  # a membership's group: its seats are counted under lock
                    lock_offering(item.id)
                granted += access_changes.grant(learner, item, AccessEvent.PURCHASE, order).changed
    except access_changes.NoSeat:
        _refund_whole(order, payments, "The group filled up before the payment arrived; refunded in full.")
        _mail_refund_notice(order, "workshop_full")
        return FulfilmentOutcome.REFUNDED_FULL
    if granted:
        return FulfilmentOutcome.ENROLLED
    _refund_whole(order, payments, "You already had everything in this bundle, so this payment was refunded in full.")
    _mail_refund_notice(order, "already_enrolled")
    return FulfilmentOutcome.REFUNDED_DUPLICATE


class CheckoutMismatch(ValueError):
    """A completed checkout that charged something other than the order: the message says what."""


@dataclass(frozen=True)
class Charged:
    """What a completed checkout took for an order, checked against it (`amounts_paid`)."""

    paid_cents: int  # the whole charge, tax included
    discount_cents: int
    tax_cents: int = 0
    tax_included: bool = False  # the price held the tax; otherwise it was added on top
    buyer_tax_id: tuple[str, str] | None = None

    def book(self, order: Order) -> None:
        """Write what was charged on the order: the amount (tax included), the discount, the tax, the buyer's tax id."""
        order.amount_cents, order.discount_cents = self.paid_cents, self.discount_cents
        order.tax_cents, order.tax_included = self.tax_cents, self.tax_included
        order.buyer_tax_id_type, order.buyer_tax_id = self.buyer_tax_id or (None, None)
        # The platform fee was asked on the price, never on the tax: a percentage of what was paid for the offering.
        order.platform_fee_cents = min(order.platform_fee_cents, order.revenue_cents)


def amounts_paid(order: Order, totals: CheckoutTotals) -> Charged:
    """What the checkout charged, in the order's currency, or CheckoutMismatch.

    The checkout must be in the order's currency (sessions are opened with Adaptive Pricing
    off, so the charge, its refunds and its disputes are all in it); its subtotal must be
    the order's list price, and its total that price less its discounts: the order's coupon,
    or a Stripe promotion code on a checkout opened before coupons (never less than the coupon).
    Stripe Tax adds its tax on top of that total, or reports the tax the price held (`amount_tax`).
    """
    if totals.currency != order.currency:
        raise CheckoutMismatch(f"charged in {totals.currency or 'no currency'}, the order is in {order.currency}")
    subtotal, total, discount = totals.amount_subtotal, totals.amount_total, totals.amount_discount
    tax = totals.amount_tax
    if subtotal is None or total is None:
        raise CheckoutMismatch("the checkout reports no amounts")
    if subtotal != order.list_price_cents:
        raise CheckoutMismatch(f"a subtotal of {subtotal}, the order's list price is {order.list_price_cents}")
    added = total - (subtotal - discount)  # tax on top of the price, or 0 when the price held it (or there is none)
    if added not in (0, tax) or not 0 <= tax <= total:
        raise CheckoutMismatch(f"a total of {total} from {subtotal} with a discount of {discount} and tax of {tax}")
    if not 0 <= total - added <= order.amount_cents:
        raise CheckoutMismatch(f"a total of {total} from {subtotal} with a discount of {discount}")
    return Charged(
        paid_cents=total,
        discount_cents=discount,
        tax_cents=tax,
        tax_included=bool(tax) and not added,
        buyer_tax_id=totals.buyer_tax_id,
    )


def withdraw_open_checkouts(creator_id: int, reason: str) -> int:
    """Close every open checkout of a creator's offerings, so nothing more of theirs is sold; how many closed.

    For a suspension: each Stripe session is expired first, so it can't be paid afterwards. One
    paid in the meantime is left open for its webhook to fulfil, as the money has been taken; a
    checkout already paying (a delayed payment on its way) is left too, for the same reason.
    """
    orders = db.session.scalars(
        sa.select(Order)
        .join(Offering, Order.offering_id == Offering.id)
        .where(
            Offering.creator_id == creator_id,
            Order.status == OrderStatus.PENDING,
            Order.payment_intent_id.is_(None),
        )
        .order_by(Order.id)
    ).all()
    closed = 0
    for order in orders:
        if order.checkout_id:
            try:
                checkout = payments_for(order).expire_checkout(order.checkout_id)
            except PaymentsError:
                checkout = None  # expires on its own within the hold; its webhook finds the offering withdrawn
            if checkout is not None and checkout.is_complete:
                continue
        locked = lock_known_order(order.id)
        closed += close_order(locked, OrderStatus.EXPIRED, reason)
    return closed


def close_order(order: Order, status: OrderStatus, reason: str) -> bool:
    """A pending order that will never be paid (expired, declined, failed): free its seat. False if not pending."""
    if order.status is not OrderStatus.PENDING:
        return False
    order.transition_to(status)
    order.failure_reason = reason[:255]
    plans.plan_not_started(order)
    db.session.flush()
    offer_open_seats(order.offering)
    if order.discount_cents and order.provider is PaymentProvider.STRIPE and order.checkout_id:
        # Its one-use Stripe coupon will never be used: removed once this commits, off the request.
        enqueue("payments.delete_coupon", {"order_id": order.id})
    return True


def delete_order_coupon_job(job) -> dict:
    """The job that removes a lapsed order's Stripe coupon (a paid order's stays, as Stripe's record)."""
    order = db.session.get(Order, job.payload.get("order_id"))
    if order is None or order.is_settled or order.status is OrderStatus.PENDING or not order.checkout_id:
        return {"deleted": False}
    return {"deleted": payments_for(order).delete_checkout_coupon(order.checkout_id)}


def _refund_whole(order: Order, payments: Payments, reason: str) -> None:
    result = payments.refund(order, order.amount_cents, reason)
    reverse_payment(order, Reversal.refund(result, reason))


# ---------------------------------------------------------------------------
# Money going back
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reversal:
    """A change to a paid order's money: one refund in its current status, or a dispute's turn."""

    REFUND = "refund"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"

    kind: str
    amount_cents: int = 0  # refunds and lost disputes: this one's amount
    provider_refund_id: str | None = None  # the provider's refund (or lost dispute) id: one row per id
    reason: str = ""
    by: User | None = None
    status: RefundStatus = RefundStatus.SUCCEEDED

    @classmethod
    def refund(cls, result, reason: str, by: User | None = None) -> Reversal:
        """A provider's refund (a RefundResult) as it stands now."""
        return cls(cls.REFUND, result.amount_cents, result.id, reason, by, RefundStatus(result.status))


# A refund's status only moves forward: an older event (pending) never undoes a newer one (failed).
REFUND_STAGE = {RefundStatus.PENDING: 0, RefundStatus.SUCCEEDED: 1, RefundStatus.FAILED: 2, RefundStatus.CANCELED: 2}


def reverse_payment(order: Order, change: Reversal) -> None:
    """Apply a refund or a dispute to a locked, settled order, and to the access it gave.

    Each provider refund is one row following its status, so the same refund reported
    twice, or by both the studio and a webhook, counts once; only succeeded refunds count
    as money returned. A refund that completes the whole amount, or a lost dispute, ends
    access; a dispute opened pauses it; a dispute closed any other way gives it back; a
    refund that fails after it had ended access gives it back too. A bundle's order does each
    of these to every enrollment it gave.
    """
    if not order.is_settled:
        raise ValueError(f"order {order.id} was never paid; nothing to reverse")
    if order.plan_id is not None:
        # Locks in one order everywhere: the order, its plan, then the enrollments (as a renewal takes them).
        plans.lock_plan(order.plan_id)
    enrollments = enrollments_for_order(order)
    if change.kind in (Reversal.REFUND, Reversal.DISPUTE_LOST):
        refund = _record_refund(order, change)
        _settle_refunds(order, enrollments, refund, lost_dispute=change.kind == Reversal.DISPUTE_LOST)
    elif change.kind == Reversal.DISPUTE_OPENED:
        if order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
            order.transition_to(OrderStatus.DISPUTED)
            _apply_to_all(enrollments, AccessEvent.DISPUTE_OPENED)
    elif change.kind == Reversal.DISPUTE_WON:
        if order.status is OrderStatus.DISPUTED:
            order.transition_to(OrderStatus.PARTIALLY_REFUNDED if order.refunded_cents else OrderStatus.PAID)
            _apply_to_all(enrollments, AccessEvent.DISPUTE_WON)
            if order.plan_id is not None:
                plans.pause_again_if_overdue(order.plan_id)  # the bank's pause is over; the plan's isn't
    else:
        raise ValueError(f"unknown reversal {change.kind!r}")
    order.updated_at = utcnow()
    db.session.flush()


def _record_refund(order: Order, change: Reversal) -> Refund | None:
    """The refund's row, new or moved to its newer status; None for an amount there is no room for."""
    refund = None
    if change.provider_refund_id:
        refund = db.session.scalar(
            sa.select(Refund).where(Refund.provider_refund_id == change.provider_refund_id).with_for_update()
        )
    if refund is not None:
        if refund.order_id == order.id and REFUND_STAGE[change.status] > REFUND_STAGE[refund.status]:
            refund.status = change.status
        return refund if refund.order_id == order.id else None
    # A lost dispute has taken its money whatever refunds are still pending: only succeeded ones leave less room.
    given = order.refunded_cents if change.kind == Reversal.DISPUTE_LOST else order.refunds_requested_cents
    amount = min(change.amount_cents, order.amount_cents - given)
    if amount <= 0:
        return None
    # The platform fee goes back in proportion to the fee Stripe took (before any of it was returned on tax),
    # up to what is left of it; the tax in proportion too: a whole refund returns all of each.
    left = order.platform_fee_cents - _fee_given_back(order)
    fee_back = min(_share(order.platform_fee_taken_cents, order.amount_cents, given, amount), left)
    refund = Refund(
        order_id=order.id,
        amount_cents=amount,
        platform_fee_refunded_cents=max(0, fee_back),
        tax_cents=_share(order.tax_cents, order.amount_cents, given, amount),
        provider_refund_id=change.provider_refund_id,
        status=change.status,
        reason=change.reason[:255],
        created_by_id=change.by.id if change.by else None,
    )
    db.session.add(refund)
    db.session.flush()
    return refund


def _share(part: int, whole: int, given: int, amount: int) -> int:
    """The share of `part` (of an order of `whole`) that refunding `amount` after `given` gives back.

    Counted on the running total, so the shares of every refund together are exactly `part` once all is back.
    """
    whole = whole or 1
    return (part * (given + amount)) // whole - (part * given) // whole


def _apply_to_all(enrollments: list[Enrollment], event: AccessEvent) -> list[access_changes.Change]:
    """The payment news applied to every enrollment the order gave (one, or a bundle's several)."""
    return [access_changes.apply(enrollment, event) for enrollment in enrollments]


def _settle_refunds(order: Order, enrollments: list[Enrollment], refund: Refund | None, *, lost_dispute: bool) -> None:
    """The order's totals, status and access after a refund moved: only succeeded refunds gave money back."""
    rows = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    succeeded = sum(r.amount_cents for r in rows if r.status is RefundStatus.SUCCEEDED)
    order.refunded_cents = min(succeeded, order.amount_cents)
    order.refund_pending_cents = sum(r.amount_cents for r in rows if r.status is RefundStatus.PENDING)
    if refund is not None and refund.status is RefundStatus.SUCCEEDED:
        order.refunded_at = utcnow()
    whole = order.refunded_cents >= order.amount_cents
    if whole:
        order.transition_to(OrderStatus.REFUNDED)
    elif lost_dispute or order.status is not OrderStatus.DISPUTED:
        order.transition_to(OrderStatus.PARTIALLY_REFUNDED if order.refunded_cents else OrderStatus.PAID)
    if lost_dispute:
        _apply_to_all(enrollments, AccessEvent.DISPUTE_LOST)
    elif whole and refund is not None and refund.status is RefundStatus.SUCCEEDED and _all_paid_back(order):
        ended = _apply_to_all(enrollments, AccessEvent.REFUND)
        # Remember that this refund is what took access away, so its failure gives it back.
        refund.ended_access = any(
            change.changed and change.before in (AccessState.ACTIVE, AccessState.PAUSED, AccessState.OVERDUE)
            for change in ended
        )
    elif not whole and any(row.ended_access for row in rows):
        # A refund that ended access failed, and the order is no longer refunded in full: the learner
        # paid after all. (Access a lost dispute or the creator ended stays ended: the table says so.)
        _apply_to_all(enrollments, AccessEvent.REFUND_FAILED)


def _all_paid_back(order: Order) -> bool:
    """Whether everything paid for the access this order answers for went back: the order; for a payment plan
    every instalment paid so far (one instalment refunded leaves the rest paying for access); for a
    membership, the payment for the period it is in."""
    if order.plan_id is None:
        return True
    if order.plan is not None and order.plan.is_membership:
        # Each payment of a membership pays for its own period: the latest one refunded in full ends it now.
        latest = db.session.scalar(
            sa.select(sa.func.max(Order.instalment)).where(
                Order.plan_id == order.plan_id, Order.status.in_(SETTLED_STATUSES)
            )
        )
        return order.instalment == latest
    short = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Order)
        .where(
            Order.plan_id == order.plan_id,
            Order.id != order.id,
            Order.status.in_((OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.DISPUTED)),
        )
    )
    return not short


def refund_order(
    order: Order, amount_cents: int, *, by: User, reason: str = "", payments: Payments | None = None
) -> Refund | None:
    """The studio's Refund button: give back part or all of a paid order; raises RefundError.

    Returns the refund as the provider answered it: succeeded, or pending (the money is
    not back yet, and access stays until it is).
    """
    order = lock_known_order(order.id)
    if order.refundable_cents <= 0:
        raise RefundError("This order has nothing left to refund.")
    if amount_cents <= 0:
        raise RefundError("Enter an amount above zero.")
    if amount_cents > order.refundable_cents:
        left = format_money(order.refundable_cents, order.currency)
        raise RefundError(f"You can refund at most {left} on this order.")
    try:
        payments = payments or payments_for(order)
        result = payments.refund(order, amount_cents, reason or "Refunded by the creator")
    except PaymentsError as exc:
        raise RefundError(exc.message.replace("Nothing was charged; please", "Nothing was refunded; please")) from exc
    change = Reversal.refund(result, reason or "Refunded by the creator", by=by)
    reverse_payment(order, change)
    _mail_refund_notice(order, "refunded", amount_cents=result.amount_cents)
    return db.session.scalar(sa.select(Refund).where(Refund.provider_refund_id == result.id))


def refund_as_seen(
    order_id: int, amount_cents: int, refunded_before: str | None, *, by: User, reason: str = ""
) -> tuple[Order, Refund | None]:
    """A Refund button pressed on a page that showed `refunded_before`: refused (RefundError) if the order's
    refunds moved since (a second click, or someone else), so a double submit refunds once.

    The studio and the operator's console both refund through here, then `refund_order`.
    """
    order = lock_order(order_id)
    if order is None:
        raise RefundError("This order no longer exists.")
    if refunded_before and refunded_before != str(order.refunds_requested_cents):
        raise RefundError(
            "This order was refunded in the meantime (perhaps by a second click). Check the amount left and try again."
        )
    return order, refund_order(order, amount_cents, by=by, reason=reason)


def refund_outcome(order: Order, refund: Refund | None, amount_cents: int) -> str:
    """What the person who pressed Refund is told: refunded or still processing, and whether access ended."""
    amount = format_money(amount_cents, order.currency)
    if refund is not None and refund.status is RefundStatus.PENDING:
        message = (
            f"Refund of {amount} to {order.learner.email} requested: Stripe is still processing it. "
            "It counts once it goes through, and they keep their access until then."
        )
    else:
        message = f"Refunded {amount} to {order.learner.email}."
    if order.status is OrderStatus.REFUNDED:
        message += " That was the whole payment, so their access has ended."
    return message


# ---------------------------------------------------------------------------
# Parked webhook events (delivered before the payment they name was recorded)
# ---------------------------------------------------------------------------


def replay_parked_events(order: Order) -> None:
    """Apply events that arrived before this order's payment was known (a refund before the completion)."""
    from .webhooks import replay_parked

    replay_parked(order)


# ---------------------------------------------------------------------------
# E-mails
# ---------------------------------------------------------------------------


def mail_payment_failed(order: Order) -> None:
    """Tell the learner a delayed payment (a bank debit) didn't go through, and how to try again."""
    send_after_commit(
        order.learner.email,
        f"Your payment for {order.offering.title} didn't go through",
        render_template(
            "checkout/email/payment_failed.txt",
            order=order,
            offering=order.offering,
            offering_link=offering_url(order.offering),
        ),
    )


def _mail_receipt(order: Order) -> None:
    send_after_commit(
        order.learner.email,
        f"Your receipt for {order.offering.title}",
        render_template(
            "checkout/email/receipt.txt",
            order=order,
            offering=order.offering,
            test_mode=order.provider.value == "test",
            learn_link=absolute_url("learning.index") if order.offering.holds_offerings else learn_url(order.offering),
            orders_link=absolute_url("accounts.orders"),
        ),
    )


REFUND_SUBJECTS = {
    "workshop_full": "{title} filled up: your payment is refunded",
    "access_ended": "Your access to {title} had ended: your payment is refunded",
    "already_enrolled": "You were already enrolled in {title}: your payment is refunded",
    "plan_over": "Your payment plan for {title} was over: this payment is refunded",
    "refunded": "A refund for {title}",
}


def _mail_refund_notice(order: Order, why: str, amount_cents: int | None = None) -> None:
    send_after_commit(
        order.learner.email,
        REFUND_SUBJECTS[why].format(title=order.offering.title),
        render_template(
            "checkout/email/refund.txt",
            order=order,
            offering=order.offering,
            why=why,
            amount_cents=order.amount_cents if amount_cents is None else amount_cents,
            offering_link=offering_url(order.offering),
        ),
    )
