"""Payment plans: an offering paid in monthly instalments, ending on its own after the last.

- Buy → `begin_checkout(..., plan=True)`: a pending plan and its first instalment's order, paid
  through the provider's checkout (Stripe Checkout in subscription mode) like any order.
- `fulfil_order` pays instalment 1 and gives access; `plan_started` starts the plan.
- Each later instalment is an order of its own (`record_instalment`), from Stripe's `invoice.paid`
  or, in test mode, from `bill_test_plans`, which stands in for Stripe's billing and its retries
  with a clock the caller gives.
- A failed instalment is retried (`instalment_failed`); once the retries run out, access is paused
  (`plan_overdue`) with an e-mail and a link to update the card; paying gives it back.
- Access that ends (a refund in full, a lost dispute, the creator's revoke) stops the plan, so no
  instalment is taken after it (`stop_plan`).

Functions flush and never commit: the caller commits once.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, render_template

from ..bundles import missing_offerings
from ..enrollments import access_changes
from ..enrollments.access_changes import enrollments_for_order
from ..extensions import db
from ..formatting import format_money
from ..integrations.mail import send_after_commit
from ..integrations.payments import (
    CheckoutTotals,
    Payments,
    PaymentsError,
    PlanState,
    SubscriptionStart,
    get_payments,
    payments_for,
)
from ..jobs import enqueue
from ..links import absolute_url, offering_url
from ..models import (
    AccessEvent,
    BillingInterval,
    Offering,
    Order,
    OrderStatus,
    PaymentPlan,
    PaymentProvider,
    PlanStatus,
    User,
    utcnow,
)

# The test mode's retries of a failed instalment, days after the try before (as a Stripe retry
# schedule of three retries over 15 days); after the last, access is paused.
TEST_RETRY_DAYS = (3, 5, 7)
RUNNING = (PlanStatus.ACTIVE, PlanStatus.PAST_DUE, PlanStatus.PAUSED)


def add_months(when: datetime, months: int) -> datetime:
    """The same day and time `months` later, on the month's last day when it is shorter (Jan 31 → Feb 28)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def plan_summary(offering: Offering) -> str:
    """The plan as the buy box says it: "3 monthly payments of $45"."""
    if not offering.has_plan or offering.plan_instalment_cents is None:
        return ""
    amount = format_money(offering.plan_instalment_cents, offering.currency)
    return f"{offering.plan_instalments} monthly payments of {amount}"


def period_after(plan: PaymentPlan, start: datetime, periods: int) -> datetime:
    """When the `periods`-th payment after the one at `start` falls due (months, or years for yearly memberships)."""
    return add_months(start, periods * (12 if plan.interval is BillingInterval.YEAR else 1))


def running_membership(user: User, offering: Offering) -> PaymentPlan | None:
    """The learner's membership of this offering that still runs (or is being paid for right now)."""
    return db.session.scalar(
        sa.select(PaymentPlan)
        .where(
            PaymentPlan.learner_id == user.id,
            PaymentPlan.offering_id == offering.id,
            PaymentPlan.status.in_(RUNNING),
        )
        .limit(1)
    )


def invoice_booked(provider: PaymentProvider, invoice_id: str) -> bool:
    """Whether a payment of this provider invoice is already an order (each invoice is booked once)."""
    booked = sa.select(Order.id).where(Order.provider == provider, Order.provider_invoice_id == invoice_id)
    return db.session.scalar(booked) is not None


def lock_plan(plan_id: int) -> PaymentPlan | None:
    """The plan's row, locked until commit, read fresh."""
    return db.session.scalar(
        sa.select(PaymentPlan)
        .where(PaymentPlan.id == plan_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def plan_of_subscription(subscription_id: str) -> PaymentPlan | None:
    return db.session.scalar(
        sa.select(PaymentPlan).where(
            PaymentPlan.provider == PaymentProvider.STRIPE, PaymentPlan.provider_subscription_id == subscription_id
        )
    )


# ---------------------------------------------------------------------------
# Starting
# ---------------------------------------------------------------------------


def start_plan(user: User, offering: Offering, provider: PaymentProvider) -> PaymentPlan:
    """A pending plan for the offering's terms (a membership's: its price every period, no end); its first
    payment's order is made by the caller."""
    if offering.is_membership:
        terms = {
            "instalments": None,
            "instalment_cents": offering.price_cents,
            "interval": offering.billing_interval or BillingInterval.MONTH,
        }
    elif offering.has_plan and offering.plan_instalments and offering.plan_instalment_cents:
        terms = {"instalments": offering.plan_instalments, "instalment_cents": offering.plan_instalment_cents}
    else:
        raise ValueError(f"Offering {offering.id} has no payment plan.")
    plan = PaymentPlan(
        learner_id=user.id,
        offering_id=offering.id,
        provider=provider,
        currency=offering.currency,
        status=PlanStatus.PENDING,
        **terms,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def link_subscription(order: Order, started: SubscriptionStart, payments: Payments | None = None) -> None:
    """Record the subscription a plan's checkout started and its first invoice, whichever path tells first.

    The success page, `checkout.session.completed` and the first `invoice.paid` each know them; the
    one that books the payment may not (a success page read before this release), so a later one
    fills them in, with the first payment's charge and fees, and sets off what needs the
    subscription: the schedule that ends a running plan, or the cancellation of a stopped one.
    """
    plan = lock_plan(order.plan_id) if order.plan_id is not None else None
    if plan is None or plan.provider is not PaymentProvider.STRIPE:
        return
    if order.provider_invoice_id is None and started.invoice_id:
        order.provider_invoice_id = started.invoice_id
        if order.is_settled and order.payment_intent_id is None:
            from .services import book_payment_facts

            book_payment_facts(order, payments or payments_for(order))
    if plan.provider_subscription_id is not None or not started.subscription_id:
        return
    plan.provider_subscription_id = started.subscription_id
    db.session.flush()
    if plan.is_running and not plan.is_membership:
        enqueue("payments.plan_schedule", {"plan_id": plan.id})
    elif plan.status is PlanStatus.CANCELED:
        enqueue("payments.plan_cancel", {"plan_id": plan.id})


def plan_started(order: Order, next_charge_at: datetime | None = None) -> None:
    """Instalment 1 is paid and access given: the plan runs, and Stripe is told to end it after the last."""
    if order.plan_id is None:
        return
    plan = lock_plan(order.plan_id)
    if plan is None or plan.status not in (PlanStatus.PENDING, PlanStatus.ABANDONED):
        return
    plan.status = PlanStatus.ACTIVE
    plan.tax_cents, plan.tax_included = order.tax_cents, order.tax_included
    plan.paid_count = max(plan.paid_count, 1)
    plan.started_at = order.paid_at or utcnow()
    plan.ended_at = plan.paused_at = None  # a lapsed checkout paid after all: it runs from now
    plan.next_charge_at = next_charge_at or period_after(plan, plan.started_at, 1)
    db.session.flush()
    if plan.provider is PaymentProvider.STRIPE and plan.provider_subscription_id and not plan.is_membership:
        enqueue("payments.plan_schedule", {"plan_id": plan.id})


def plan_not_started(order: Order) -> None:
    """The first instalment's checkout lapsed or failed: the plan never ran."""
    if order.plan_id is None:
        return
    plan = lock_plan(order.plan_id)
    if plan is not None and plan.status is PlanStatus.PENDING:
        plan.status = PlanStatus.ABANDONED
        plan.ended_at = utcnow()


def stop_plan(plan_id: int, reason: str) -> bool:
    """No instalment is taken after this (access ended, or the first payment was refunded); whether it stopped."""
    plan = lock_plan(plan_id)
    if plan is None or plan.status not in (*RUNNING, PlanStatus.PENDING):
        return False
    plan.status = PlanStatus.CANCELED
    plan.ended_at = utcnow()
    plan.next_charge_at = None
    plan.last_failure = reason[:255]
    db.session.flush()
    if plan.provider is PaymentProvider.STRIPE and plan.provider_subscription_id:
        enqueue("payments.plan_cancel", {"plan_id": plan.id})
    return True


# ---------------------------------------------------------------------------
# Instalments
# ---------------------------------------------------------------------------


def record_instalment(
    plan_id: int,
    *,
    totals: CheckoutTotals,
    payments: Payments,
    invoice_id: str | None = None,
    next_charge_at: datetime | None = None,
) -> str:
    """A later instalment was paid: its order, the plan moved on, paused access given back; what happened.

    Exactly once per provider invoice. `totals` are the invoice's: the instalment, and Stripe Tax's tax
    on top of it or inside it. A payment the plan doesn't expect (it was paid off or stopped) is booked and
    refunded in full, so nobody pays more than the plan.
    """
    from .services import (
        CheckoutMismatch,
        amounts_paid,
        book_payment,
        lock_payment,
        platform_fee,
        refund_unexpected,
        replay_parked_events,
    )

    plan = lock_plan(plan_id)
    if plan is None:
        return "unknown_plan"
    if invoice_id is not None and invoice_booked(plan.provider, invoice_id):
        return "duplicate"
    fee = platform_fee(plan.instalment_cents)
    order = Order(
        learner_id=plan.learner_id,
        offering_id=plan.offering_id,
        amount_cents=plan.instalment_cents,
        discount_cents=0,
        tax_cents=0,
        tax_included=False,
        currency=plan.currency,
        provider=plan.provider,
        status=OrderStatus.PENDING,
        platform_fee_cents=fee,
        net_cents=plan.instalment_cents - fee,
        plan_id=plan.id,
        provider_invoice_id=invoice_id,
    )
    try:
        charged = amounts_paid(order, totals)
        if charged.discount_cents:
            raise CheckoutMismatch(f"a discount of {charged.discount_cents}")
    except CheckoutMismatch as exc:
        current_app.logger.error(
            "plan %s: a payment for instalments of %s not booked: %s", plan.id, plan.instalment_cents, exc
        )
        return "mismatch"
    charged.book(order)
    plan.tax_cents, plan.tax_included = order.tax_cents, order.tax_included  # what the next payments will hold
    number = plan.paid_count + 1
    # A plan the provider stopped while a payment was overdue still takes that payment (its invoice stays payable).
    owed = plan.is_running or _stopped_owing(plan)
    order.instalment = number if owed and (plan.instalments is None or number <= plan.instalments) else None
    db.session.add(order)
    db.session.flush()
    book_payment(order, payments)
    # A refund or dispute Stripe told of before this payment was booked is applied now (see fulfil_order).
    lock_payment(order.payment_intent_id, order.charge_id)
    replay_parked_events(order)
    if order.instalment is None:
        refund_unexpected(order, payments, "Your payment plan was already paid off or stopped, so this was refunded.")
        if plan.provider_subscription_id:  # whatever billed it must stop
            enqueue("payments.plan_cancel", {"plan_id": plan.id})
        return "refunded_unexpected"
    plan.paid_count = number
    plan.failed_attempts = 0
    plan.last_failure = None
    stopped = plan.status is PlanStatus.CANCELED
    if plan.instalments is not None and number >= plan.instalments:
        plan.status = PlanStatus.COMPLETED
        plan.ended_at = plan.ended_at or utcnow()
        plan.next_charge_at = None
    elif not stopped:
        plan.status = PlanStatus.ACTIVE
        plan.next_charge_at = next_charge_at or period_after(plan, plan.started_at or utcnow(), number)
    if plan.paused_at is not None and (plan.status is PlanStatus.ACTIVE or plan.status is PlanStatus.COMPLETED):
        _apply(plan, AccessEvent.PAYMENT_RECOVERED)
        plan.paused_at = None
    if plan.is_membership and plan.status is PlanStatus.ACTIVE:
        _give_what_it_holds(plan)  # what was added meanwhile (while paused, or while a group was full)
    db.session.flush()
    if plan.is_membership:
        _mail(plan, "instalment_paid", "Your membership of {title} is renewed: your receipt", order=order)
    else:
        _mail(
            plan, "instalment_paid", f"Your receipt: payment {number} of {plan.instalments} for {{title}}", order=order
        )
    return "instalment"


def end_membership(plan: PaymentPlan, reason: str = "") -> str:
    """A canceled membership reaches the end of what was paid: the access it gave ends, and it renews no more."""
    if not plan.is_membership or plan.status in (PlanStatus.CANCELED, PlanStatus.ABANDONED):
        return "unchanged"
    now = utcnow()
    period_end = plan.next_charge_at if plan.status is PlanStatus.ACTIVE else None
    plan.status = PlanStatus.CANCELED
    plan.ended_at = min(period_end, now) if period_end is not None else now  # a late run keeps the real end
    plan.next_charge_at = None
    plan.paused_at = None  # nothing is owed on an ended membership: a late payment is refunded
    if reason:
        plan.last_failure = reason[:255]
    _apply(plan, AccessEvent.MEMBERSHIP_ENDED)
    db.session.flush()
    _mail(plan, "membership_ended", "Your membership of {title} has ended")
    return "membership_ended"


def set_cancel_at_period_end(plan: PaymentPlan, cancel: bool) -> None:
    """Test mode's Cancel and Keep buttons (Stripe's customer portal does this for Stripe memberships)."""
    if plan.is_membership and plan.is_running:
        plan.cancel_at_period_end = cancel
        db.session.flush()


def instalment_failed(plan: PaymentPlan, reason: str, next_try: datetime | None) -> str:
    """An instalment couldn't be taken and will be tried again (`next_try`); the first failure is e-mailed."""
    if plan.status not in (PlanStatus.ACTIVE, PlanStatus.PAST_DUE):
        return "unchanged"
    first = plan.failed_attempts == 0
    plan.failed_attempts += 1
    plan.last_failure = reason[:255]
    plan.status = PlanStatus.PAST_DUE
    if next_try is not None:
        plan.next_charge_at = next_try
    db.session.flush()
    if first:
        _mail(plan, "instalment_failed", "A payment for {title} didn't go through", next_try=next_try)
    return "instalment_failed"


def plan_overdue(plan: PaymentPlan, reason: str = "") -> str:
    """The retries ran out: access pauses until the learner pays, and they are told how."""
    if plan.status not in (PlanStatus.ACTIVE, PlanStatus.PAST_DUE):
        return "unchanged"
    plan.status = PlanStatus.PAUSED
    plan.paused_at = utcnow()
    plan.next_charge_at = None
    if reason:
        plan.last_failure = reason[:255]
    _apply(plan, AccessEvent.PAYMENT_OVERDUE)
    db.session.flush()
    _mail(plan, "plan_paused", "A payment for {title} is overdue: access is paused")
    return "plan_paused"


def pause_again_if_overdue(plan_id: int) -> None:
    """Access a dispute's end gave back stays paused while the plan is overdue."""
    plan = lock_plan(plan_id)
    if plan is not None and plan.status is PlanStatus.PAUSED:
        _apply(plan, AccessEvent.PAYMENT_OVERDUE)


def sync_plan(plan: PaymentPlan, state: PlanState) -> str:
    """Stripe's subscription as it is now (its events arrive in any order): the plan follows its status.

    Money moves only through invoices (`record_instalment`); this follows the retries running out
    (`unpaid`), a subscription Stripe canceled before the plan was paid off, and the next due date.
    """
    if state.current_period_end is not None and plan.status is PlanStatus.ACTIVE and state.status == "active":
        plan.next_charge_at = state.current_period_end  # a failed one's next try is the invoice's, kept as it is
    flagged = None
    if plan.is_membership:
        if state.status in ("canceled", "incomplete_expired"):
            return end_membership(plan, "The membership was canceled.")
        if plan.cancel_at_period_end != state.cancel_at_period_end:
            plan.cancel_at_period_end = state.cancel_at_period_end
            flagged = "membership_canceled" if state.cancel_at_period_end else "membership_resumed"
    outcome = _follow_status(plan, state)
    return flagged if outcome == "unchanged" and flagged else outcome


def _follow_status(plan: PaymentPlan, state: PlanState) -> str:
    if state.status == "past_due" and plan.status is PlanStatus.ACTIVE:
        plan.status = PlanStatus.PAST_DUE
        return "plan_past_due"
    if state.status == "active" and plan.status is PlanStatus.PAST_DUE:
        # The failed instalment was paid (its invoice.paid books it); a paused plan waits for that payment.
        plan.status = PlanStatus.ACTIVE
        plan.failed_attempts = 0
        return "plan_active"
    if state.status == "unpaid":
        return plan_overdue(plan, "The retries of an instalment ran out.")
    if state.status in ("canceled", "incomplete_expired") and plan.is_running:
        if plan.instalments is not None and plan.paid_count >= plan.instalments:
            plan.status = PlanStatus.COMPLETED
            plan.ended_at = plan.ended_at or utcnow()
            return "plan_completed"
        if plan.status is not PlanStatus.PAUSED:
            plan_overdue(plan, "Stripe stopped the plan after its retries ran out.")
        plan.status = PlanStatus.CANCELED
        plan.ended_at = utcnow()
        return "plan_canceled"
    return "unchanged"


def _apply(plan: PaymentPlan, event: AccessEvent) -> None:
    first = first_order(plan)
    if first is None:
        return
    for enrollment in enrollments_for_order(first):
        access_changes.apply(enrollment, event)


def first_order(plan: PaymentPlan) -> Order | None:
    """The plan's first payment: the checkout's order, which the access it gives points at."""
    return db.session.scalar(sa.select(Order).where(Order.plan_id == plan.id, Order.instalment == 1))


# ---------------------------------------------------------------------------
# Test mode: the billing Stripe would do, on a clock the caller gives
# ---------------------------------------------------------------------------


def bill_test_plans(now: datetime | None = None, limit: int = 500) -> dict:
    """Take the test-mode instalments due by `now`: paid with the test card, or failed and retried."""
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(PaymentPlan.id)
        .where(
            PaymentPlan.provider == PaymentProvider.TEST,
            PaymentPlan.status.in_((PlanStatus.ACTIVE, PlanStatus.PAST_DUE)),
            PaymentPlan.next_charge_at <= now,
        )
        .order_by(PaymentPlan.next_charge_at, PaymentPlan.id)
        .limit(limit)
    ).all()
    figures = {"paid": 0, "failed": 0, "paused": 0, "ended": 0}  # ended: memberships canceled, at their period's end
    for plan_id in due:
        plan = lock_plan(plan_id)
        if plan is None or plan.next_charge_at is None or plan.next_charge_at > now:
            continue
        if plan.cancel_at_period_end:
            outcome = end_membership(plan, "Canceled by the member.")
        else:
            outcome = charge_test_instalment(plan, now)
        key = {
            "instalment": "paid",
            "instalment_failed": "failed",
            "plan_paused": "paused",
            "membership_ended": "ended",
        }.get(outcome)
        if key:
            figures[key] += 1
    return figures


def charge_test_instalment(plan: PaymentPlan, now: datetime) -> str:
    """One try at a test-mode plan's next instalment."""
    from ..integrations.payments import TestModePayments

    if plan.test_card_declines:
        tries = plan.failed_attempts
        if tries >= len(TEST_RETRY_DAYS):
            return plan_overdue(plan, "The test card declined every retry.")
        return instalment_failed(plan, "The test card was declined.", now + timedelta(days=TEST_RETRY_DAYS[tries]))
    paid = plan.instalment_cents
    return record_instalment(plan.id, totals=CheckoutTotals(plan.currency, paid, paid), payments=TestModePayments())


def may_pay(plan: PaymentPlan) -> bool:
    """Whether the learner can still pay into the plan: it runs, or (a payment plan, not a membership) it was
    stopped while a payment was overdue."""
    return plan.is_running or _stopped_owing(plan)


def _stopped_owing(plan: PaymentPlan) -> bool:
    """A payment plan the provider stopped while a payment was overdue: what it owes can still be paid."""
    return plan.status is PlanStatus.CANCELED and plan.paused_at is not None and not plan.is_membership


def card_update_url(plan: PaymentPlan) -> str:
    """Where a Stripe plan's learner updates their card and pays what is overdue: Stripe's own page."""
    if not plan.provider_subscription_id:
        raise PaymentsError("Stripe hasn't confirmed this plan yet. Please try again in a minute.")
    return payments_for_plan(plan).plan_card_url(
        plan.provider_subscription_id, absolute_url("accounts.orders"), overdue=plan.status is not PlanStatus.ACTIVE
    )


def give_members(membership: Offering) -> int:
    """What a membership holds now, given to its members who lack it (an offering just added); how many gained.

    Each new enrollment points at the member's first payment, so the membership's end ends it too. A full
    group, or access ended in a way joining can't undo, is skipped for that member.
    """
    first_orders = db.session.scalars(
        sa.select(Order)
        .join(PaymentPlan, Order.plan_id == PaymentPlan.id)
        .where(
            PaymentPlan.offering_id == membership.id,
            PaymentPlan.status.in_((PlanStatus.ACTIVE, PlanStatus.PAST_DUE)),  # a paused member gets it on paying
            Order.instalment == 1,
        )
        .order_by(Order.id)
    ).all()
    return sum(_grant_missing(order, membership) for order in first_orders)


def _give_what_it_holds(plan: PaymentPlan) -> None:
    first = first_order(plan)
    if first is not None:
        _grant_missing(first, plan.offering)


def _grant_missing(order: Order, membership: Offering) -> bool:
    """The membership's offerings its member lacks, given on their first order; whether any was."""
    changed = False
    for item in missing_offerings(order.learner, membership):
        try:
            with db.session.begin_nested():
                changed |= access_changes.grant(order.learner, item, AccessEvent.PURCHASE, order).changed
        except (access_changes.NoSeat, access_changes.AccessRefused):
            continue
    return changed


def manage_url(plan: PaymentPlan) -> str:
    """Stripe's customer portal for a Stripe membership: the member cancels, resumes or changes their card there."""
    if not plan.provider_subscription_id:
        raise PaymentsError("Stripe hasn't confirmed this membership yet. Please try again in a minute.")
    return payments_for_plan(plan).portal_url(plan.provider_subscription_id, absolute_url("accounts.orders"))


def payments_for_plan(plan: PaymentPlan) -> Payments:
    """The provider of the plan's payments (its first order's)."""
    first = first_order(plan)
    if first is None:
        return get_payments()
    return payments_for(first)


# ---------------------------------------------------------------------------
# Jobs: Stripe calls made after the commit, retried
# ---------------------------------------------------------------------------


def plan_schedule_job(job) -> dict:
    """Tell Stripe to end the plan's subscription after its last instalment (a schedule with end_behavior cancel)."""
    plan = db.session.get(PaymentPlan, job.payload.get("plan_id"))
    if plan is None or plan.ends_on_its_own or not plan.provider_subscription_id or not plan.is_running:
        return {"scheduled": False}
    if plan.instalments is None:  # a membership renews until canceled
        return {"scheduled": False}
    # The schedule starts with the current period: the instalments paid before it are not billed again.
    left = max(1, plan.instalments - max(plan.paid_count - 1, 0))
    payments_for_plan(plan).end_plan_after(plan.provider_subscription_id, left, plan.id)
    plan.ends_on_its_own = True
    return {"scheduled": True}


def plan_cancel_job(job) -> dict:
    """Cancel the subscription of a plan that no longer runs (stopped, or paid off yet billed) at Stripe at once."""
    plan = db.session.get(PaymentPlan, job.payload.get("plan_id"))
    if plan is None or plan.is_running or not plan.provider_subscription_id:
        return {"canceled": False}
    try:
        payments_for_plan(plan).cancel_plan(plan.provider_subscription_id)
    except PaymentsError as exc:
        if not exc.retryable:
            current_app.logger.warning("plan %s: Stripe refused to cancel: %s", plan.id, exc.message)
            return {"canceled": False}
        raise
    return {"canceled": True}


# ---------------------------------------------------------------------------
# E-mails
# ---------------------------------------------------------------------------


def _mail(plan: PaymentPlan, template: str, subject: str, **context) -> None:
    offering = plan.offering
    send_after_commit(
        plan.learner.email,
        subject.format(title=offering.title),
        render_template(
            f"checkout/email/{template}.txt",
            plan=plan,
            offering=offering,
            card_link=absolute_url("accounts.plan_card", plan_id=plan.id),
            orders_link=absolute_url("accounts.orders"),
            offering_link=offering_url(offering),
            test_mode=plan.provider is PaymentProvider.TEST,
            **context,
        ),
    )
