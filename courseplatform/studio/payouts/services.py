"""Getting a creator paid: their Stripe Connect account, its onboarding, and what their sales earned.

- `payout_stage`: where the creator stands (test mode, not connected, onboarding, under
  review, ready), read from the profile: the page never waits on Stripe.
- `start_onboarding` / `fresh_onboarding_link` / `refresh_account_status`: the connect
  button, an expired onboarding link, and the creator's return from Stripe.
- `earnings`: the ledger of settled orders for all the creator's offerings, totals
  summed in SQL, in two queries whatever the number of orders.

Functions flush and never commit: the caller's request commits once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from ...checkout.services import platform_fee
from ...extensions import db
from ...integrations.payments import AccountStatus, Payments, PaymentsError, estimated_fee, get_payments, test_mode
from ...models import Coupon, CreatorProfile, Offering, Order, OrderStatus, PaymentPlan, PlanStatus, User
from ...models.base import whole_sum
from ...models.commerce import SETTLED_STATUSES, order_net_cents, order_refunds
from ...models.plans import RUNNING_STATUSES
from ...pagination import paginate

LEDGER_PAGE_SIZE = 25


class PayoutStage(enum.Enum):
    """Where a creator stands with Stripe, in the order they move through it."""

    TEST_MODE = "test_mode"  # no Stripe key: payments are simulated, nothing to connect
    NOT_CONNECTED = "not_connected"  # no connected account yet
    ONBOARDING = "onboarding"  # an account, but Stripe's form is not finished
    REVIEWING = "reviewing"  # details submitted, Stripe has not enabled charges yet
    READY = "ready"  # charges enabled: paid offerings can be published and sold


def payout_stage(profile: CreatorProfile) -> PayoutStage:
    """The creator's stage, from what the profile last heard from Stripe."""
    if test_mode():
        return PayoutStage.TEST_MODE
    if not profile.stripe_account_id:
        return PayoutStage.NOT_CONNECTED
    if profile.stripe_charges_enabled:
        return PayoutStage.READY
    if profile.stripe_details_submitted:
        return PayoutStage.REVIEWING
    return PayoutStage.ONBOARDING


class PayoutsError(Exception):
    """Stripe could not be asked, or there is nothing to ask it; `message` tells the creator."""

    def __init__(self, message: str, category: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.category = category


TEST_MODE_MESSAGE = "Payments are in test mode: there is no Stripe account to connect."
NO_ACCOUNT_MESSAGE = "Connect with Stripe first: there is no account to continue yet."


def start_onboarding(
    profile: CreatorProfile, refresh_url: str, return_url: str, payments: Payments | None = None
) -> str:
    """Create the creator's connected account if they have none, and return a Stripe onboarding link.

    The account id is stored (flushed) as soon as Stripe gives it, so if the link then
    fails the caller may still commit: the next attempt reuses the same account.
    """
    if test_mode():
        raise PayoutsError(TEST_MODE_MESSAGE, "info")
    payments = payments or get_payments()
    if not profile.stripe_account_id:
        try:
            profile.stripe_account_id = payments.create_account(profile, profile.user.email)
        except PaymentsError as exc:
            raise PayoutsError(exc.message) from exc
        db.session.flush()
    return fresh_onboarding_link(profile, refresh_url, return_url, payments)


def fresh_onboarding_link(
    profile: CreatorProfile, refresh_url: str, return_url: str, payments: Payments | None = None
) -> str:
    """A new single-use onboarding link for the creator's existing account (links expire within minutes)."""
    if test_mode():
        raise PayoutsError(TEST_MODE_MESSAGE, "info")
    if not profile.stripe_account_id:
        raise PayoutsError(NO_ACCOUNT_MESSAGE, "info")
    payments = payments or get_payments()
    try:
        return payments.account_link(profile.stripe_account_id, refresh_url, return_url)
    except PaymentsError as exc:
        raise PayoutsError(exc.message) from exc


def refresh_account_status(profile: CreatorProfile, payments: Payments | None = None) -> AccountStatus:
    """Ask Stripe where the creator's account stands and keep it on the profile (flushed).

    Raises PayoutsError when Stripe can't be reached; the `account.updated` webhook
    brings the same news later.
    """
    if test_mode():
        raise PayoutsError(TEST_MODE_MESSAGE, "info")
    if not profile.stripe_account_id:
        raise PayoutsError(NO_ACCOUNT_MESSAGE, "info")
    payments = payments or get_payments()
    try:
        status = payments.account_status(profile.stripe_account_id)
    except PaymentsError as exc:
        raise PayoutsError(
            "We couldn't check with Stripe just now. Your status will update here shortly, as soon as Stripe tells us.",
            "info",
        ) from exc
    profile.stripe_charges_enabled = status.charges_enabled
    profile.stripe_details_submitted = status.details_submitted
    profile.stripe_payouts_enabled = status.payouts_enabled
    db.session.flush()
    return status


# ---------------------------------------------------------------------------
# Earnings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleSplit:
    """Where one card sale's money goes: the worked example on the payouts page."""

    amount_cents: int
    platform_fee_cents: int
    processor_fee_cents: int  # Stripe's standard card price; the real fee varies by card and country

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.platform_fee_cents - self.processor_fee_cents


def sale_split(amount_cents: int) -> SaleSplit:
    """How a sale of this amount splits, with the configured platform fee and Stripe's usual card fee."""
    return SaleSplit(amount_cents, platform_fee(amount_cents), estimated_fee(amount_cents))


@dataclass(frozen=True)
class EarningsTotals:
    """What all the creator's settled orders in one currency came to."""

    currency: str
    orders: int
    gross_cents: int  # what learners paid, less the tax in it
    discount_cents: int  # what coupons took off the list prices (gross is what learners paid)
    refunded_cents: int  # less the tax given back with it
    processor_fee_cents: int
    platform_fee_cents: int  # after the share given back with refunds
    platform_fee_refunded_cents: int
    net_cents: int
    estimated_fees: int  # how many of the orders' processor fees are estimates
    plan_owed_cents: int = 0  # what learners on running payment plans still owe (not earned yet)
    plans_running: int = 0
    tax_cents: int = 0  # sales tax and VAT collected for the creator to remit, less what refunds gave back


@dataclass(frozen=True)
class EarningsRow:
    """One settled order as the ledger shows it."""

    order_id: int
    paid_at: datetime
    offering_title: str
    learner_email: str
    currency: str
    amount_cents: int  # paid for the offering, without tax
    discount_cents: int
    coupon_code: str | None
    processor_fee_cents: int
    processor_fee_estimated: bool
    platform_fee_cents: int  # after the share given back with refunds
    refunded_cents: int
    refund_pending_cents: int  # refunds Stripe is still processing: not money returned yet
    net_cents: int
    status: OrderStatus
    # A payment plan's instalment: which one, of how many, and the plan's standing.
    instalment: int | None = None
    plan_instalments: int | None = None
    plan_paid_cents: int = 0
    plan_owed_cents: int = 0
    plan_status: PlanStatus | None = None
    tax_cents: int = 0  # the tax paid with it (not the creator's income), less what refunds gave back
    buyer_tax_id: str | None = None
    list_price_cents: int = 0  # the offering's price before a code, without tax (amount + discount)

    @property
    def status_label(self) -> str:
        return self.status.label


@dataclass(frozen=True)
class Earnings:
    """The ledger page: totals per currency (usually one) and one page of recent orders."""

    totals: list[EarningsTotals]
    rows: list[EarningsRow]
    page: int
    pages: int
    total_orders: int


def earnings(profile: CreatorProfile, page: int = 1, per_page: int = LEDGER_PAGE_SIZE) -> Earnings:
    """The creator's settled orders across all their offerings: totals, what running payment plans still
    owe, and one page, in three queries.

    Each row reads amount − refunded − processor fee − (platform fee − platform fee returned)
    = net, the net of `order_net_cents`, the amount and refunds both without their tax: Stripe keeps
    its processing fee when a payment is refunded; the platform fee is returned in proportion to the refund.
    """
    refunds = order_refunds()
    refunded = sa.func.coalesce(refunds.c.revenue_cents, 0)
    tax = Order.tax_cents - sa.func.coalesce(refunds.c.tax_cents, 0)
    fee_back = sa.func.coalesce(refunds.c.platform_fee_cents, 0)
    net = order_net_cents(refunds)
    settled = (
        sa.select()
        .select_from(Order)
        .join(Offering, Order.offering_id == Offering.id)
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(Offering.creator_id == profile.id, Order.status.in_(SETTLED_STATUSES))
    )

    totals = [
        EarningsTotals(
            currency=row.currency,
            orders=row.orders,
            gross_cents=row.gross,
            discount_cents=row.discount,
            refunded_cents=row.refunded,
            processor_fee_cents=row.processor,
            platform_fee_cents=row.platform - row.platform_back,
            platform_fee_refunded_cents=row.platform_back,
            net_cents=row.net,
            estimated_fees=row.estimated,
            tax_cents=row.tax,
        )
        for row in db.session.execute(
            settled.add_columns(
                Order.currency.label("currency"),
                sa.func.count(Order.id).label("orders"),
                whole_sum(Order.revenue_cents).label("gross"),
                whole_sum(tax).label("tax"),
                whole_sum(Order.revenue_discount_cents).label("discount"),
                whole_sum(refunded).label("refunded"),
                whole_sum(Order.processor_fee_cents).label("processor"),
                whole_sum(Order.platform_fee_cents).label("platform"),
                whole_sum(fee_back).label("platform_back"),
                whole_sum(net).label("net"),
                whole_sum(sa.case((Order.processor_fee_estimated, 1), else_=0)).label("estimated"),
            )
            .group_by(Order.currency)
            .order_by(sa.func.count(Order.id).desc(), Order.currency)
        )
    ]
    owed = {
        row.currency: (row.owed, row.plans)
        for row in db.session.execute(
            sa.select(
                PaymentPlan.currency.label("currency"),
                whole_sum(PaymentPlan.unpaid_revenue_cents).label("owed"),
                sa.func.count(PaymentPlan.id).label("plans"),
            )
            .join(Offering, PaymentPlan.offering_id == Offering.id)
            .where(
                Offering.creator_id == profile.id,
                PaymentPlan.status.in_(RUNNING_STATUSES),
                PaymentPlan.instalments.is_not(None),  # memberships owe nothing ahead
            )
            .group_by(PaymentPlan.currency)
        )
    }
    totals = [
        replace(t, plan_owed_cents=owed[t.currency][0], plans_running=owed[t.currency][1]) if t.currency in owed else t
        for t in totals
    ] + [
        EarningsTotals(currency, 0, 0, 0, 0, 0, 0, 0, 0, 0, plan_owed_cents=amount, plans_running=plans)
        for currency, (amount, plans) in sorted(owed.items())
        if currency not in {t.currency for t in totals}
    ]
    total_orders = sum(t.orders for t in totals)
    paid_at = sa.func.coalesce(Order.paid_at, Order.created_at)
    found = paginate(
        settled.add_columns(
            Order.id,
            paid_at.label("paid_at"),
            Offering.title,
            User.email,
            Order.currency,
            Order.revenue_cents.label("revenue_cents"),
            tax.label("tax_cents"),
            (Order.revenue_cents + Order.revenue_discount_cents).label("list_price_cents"),
            Order.buyer_tax_id,
            Order.revenue_discount_cents.label("discount_cents"),
            Coupon.code.label("coupon_code"),
            Order.processor_fee_cents,
            Order.processor_fee_estimated,
            Order.platform_fee_cents,
            fee_back.label("fee_back"),
            refunded.label("refunded_cents"),
            Order.refund_pending_cents,
            net.label("net"),
            Order.status,
            Order.instalment,
            PaymentPlan.instalments.label("plan_instalments"),
            PaymentPlan.paid_count.label("plan_paid_count"),
            PaymentPlan.revenue_per_payment_cents.label("plan_instalment_cents"),
            PaymentPlan.status.label("plan_status"),
            PaymentPlan.unpaid_revenue_cents.label("plan_unpaid_cents"),
        )
        .join(User, Order.learner_id == User.id)
        .outerjoin(Coupon, Order.coupon_id == Coupon.id)
        .outerjoin(PaymentPlan, Order.plan_id == PaymentPlan.id)
        .order_by(paid_at.desc(), Order.id.desc()),
        page,
        per_page,
        total=total_orders,
        rows=True,
    )
    rows = [
        EarningsRow(
            order_id=row.id,
            paid_at=row.paid_at,
            offering_title=row.title,
            learner_email=row.email,
            currency=row.currency,
            amount_cents=row.revenue_cents,
            tax_cents=row.tax_cents,
            buyer_tax_id=row.buyer_tax_id,
            list_price_cents=row.list_price_cents,
            discount_cents=row.discount_cents,
            coupon_code=row.coupon_code,
            processor_fee_cents=row.processor_fee_cents,
            processor_fee_estimated=row.processor_fee_estimated,
            platform_fee_cents=row.platform_fee_cents - row.fee_back,
            refunded_cents=row.refunded_cents,
            refund_pending_cents=row.refund_pending_cents,
            net_cents=row.net,
            status=row.status,
            instalment=row.instalment,
            plan_instalments=row.plan_instalments,
            plan_paid_cents=(row.plan_paid_count or 0) * (row.plan_instalment_cents or 0),
            plan_owed_cents=row.plan_unpaid_cents if row.plan_status in RUNNING_STATUSES else 0,
            plan_status=row.plan_status,
        )
        for row in found.items
    ]
    return Earnings(totals=totals, rows=rows, page=found.page, pages=found.pages, total_orders=total_orders)
