"""Money: orders with an explicit state machine, what a creator keeps of them, and the webhook idempotency ledger."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, money_check, utcnow, whole_sum

if TYPE_CHECKING:
    from .accounts import User
    from .coupons import Coupon
    from .offerings import Offering
    from .plans import PaymentPlan


class PaymentProvider(enum.Enum):
    STRIPE = "stripe"
    TEST = "test"


class OrderStatus(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """What creators and operators read: `Partly refunded`."""
        return ORDER_STATUS_LABELS[self]

    @property
    def learner_label(self) -> str:
        """What the buyer reads in their orders: a failed or expired checkout is one `Not completed`."""
        return LEARNER_ORDER_STATUS_LABELS.get(self, self.label)


ORDER_STATUS_LABELS = {
    OrderStatus.PENDING: "Pending",
    OrderStatus.PAID: "Paid",
    OrderStatus.PARTIALLY_REFUNDED: "Partly refunded",
    OrderStatus.REFUNDED: "Refunded",
    OrderStatus.DISPUTED: "Disputed",
    OrderStatus.FAILED: "Failed",
    OrderStatus.EXPIRED: "Expired",
}
LEARNER_ORDER_STATUS_LABELS = {
    OrderStatus.PENDING: "Awaiting payment",
    OrderStatus.FAILED: "Not completed",
    OrderStatus.EXPIRED: "Not completed",
}


# Which status an order may move to from each status. Anything else is refused,
# so a late or replayed event can never resurrect a refunded or failed order.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.EXPIRED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED}),
    # Back to paid when the only refund fails after it succeeded.
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED}
    ),
    OrderStatus.DISPUTED: frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    # Only a refund that fails after it succeeded (a closed card) leaves a refunded order.
    OrderStatus.REFUNDED: frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED}),
    # A payment can still succeed after the app gave up on it (a late webhook, a delayed
    # method): the money was taken, so the order must be able to record it.
    OrderStatus.FAILED: frozenset({OrderStatus.PAID}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID}),
}


# Orders whose money was taken, and those that can still give some back.
SETTLED_STATUSES = frozenset(
    {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED}
)
REFUNDABLE_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})


class RefundStatus(enum.Enum):
    """Where the provider's refund stands; only a succeeded refund has given money back."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class InvalidTransition(ValueError):
    """An order was asked to move to a status its current status does not allow."""


class Order(Model):
    """One attempt by a learner to buy one offering, and what became of the money."""

    __tablename__ = "orders"
    __table_args__ = (
        money_check("amount_cents"),
        money_check("processor_fee_cents"),
        money_check("platform_fee_cents"),
        money_check("net_cents"),
        money_check("refunded_cents"),
        money_check("refund_pending_cents"),
        money_check("discount_cents"),
        money_check("processor_fee_settled_cents"),
        money_check("tax_cents"),
        money_check("fee_returned_cents"),
        sa.CheckConstraint("refunded_cents <= amount_cents", name="refund_within_amount"),
        sa.CheckConstraint("tax_cents <= amount_cents", name="tax_within_amount"),
        sa.UniqueConstraint("provider", "checkout_id", name="uq_orders_provider_checkout_id"),
        sa.Index("ix_orders_course_status", "course_id", "status"),
        sa.Index("ix_orders_learner_created", "learner_id", "created_at"),
        sa.Index("ix_orders_payment_intent_id", "payment_intent_id"),
        # The operator's order search finds an order by any of the provider's ids.
        sa.Index("ix_orders_checkout_id", "checkout_id"),
        sa.Index("ix_orders_charge_id", "charge_id"),
        sa.Index("ix_orders_status_paid_at", "status", "paid_at"),
        # The revenue view sums each of a creator's offerings' sales in a period.
        sa.Index("ix_orders_course_paid_at", "course_id", "paid_at"),
        # A coupon's uses are counted at every Buy that names it.
        sa.Index("ix_orders_coupon_status", "coupon_id", "status"),
        # A payment plan's instalments: one order per instalment, and per provider invoice.
        sa.UniqueConstraint("plan_id", "instalment", name="uq_orders_plan_instalment"),
        sa.UniqueConstraint("provider", "provider_invoice_id", name="uq_orders_provider_invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="RESTRICT"))
    # What the learner paid (the price less any promotion code), in `currency`.
    # Columns the running totals follow (courseplatform/stats.py) keep their value before a change.
    amount_cents: Mapped[int] = mapped_column(active_history=True)
    # What a coupon (or, on checkouts opened before coupons, a Stripe promotion code) took off the
    # list price: list price = amount_cents + discount_cents.
    discount_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    coupon_id: Mapped[int | None] = mapped_column(sa.ForeignKey("coupons.id", ondelete="RESTRICT"))
    # Sales tax or VAT inside `amount_cents` (Stripe Tax): the creator's to remit, never income. With
    # `tax_included` the price held it (VAT-style); without, it was added on top of the price at checkout.
    tax_cents: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    tax_included: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The VAT or GST number a business buyer gave at checkout (Stripe's type, e.g. eu_vat, and value), for its receipt.
    buyer_tax_id_type: Mapped[str | None] = mapped_column(sa.String(32))
    buyer_tax_id: Mapped[str | None] = mapped_column(sa.String(64))
    # A payment plan's instalment: the plan, which instalment (1 is the checkout's), and for Stripe its invoice.
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment_plans.id", ondelete="RESTRICT"))
    instalment: Mapped[int | None] = mapped_column()
    provider_invoice_id: Mapped[str | None] = mapped_column(sa.String(255))
    currency: Mapped[str] = mapped_column(sa.String(3))
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider, "payment_provider"))
    checkout_id: Mapped[str | None] = mapped_column(sa.String(255))
    # Where the learner pays (the provider's hosted page); reused if they press Buy again.
    checkout_url: Mapped[str | None] = mapped_column(sa.String(2000))
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255))
    charge_id: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "order_status"), default=OrderStatus.PENDING, active_history=True
    )
    processor_fee_cents: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    processor_fee_estimated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The currency the provider settled the payment in, and its fee as settled there
    # (processor_fee_cents is that fee converted into the order's currency).
    settlement_currency: Mapped[str | None] = mapped_column(sa.String(3))
    processor_fee_settled_cents: Mapped[int | None] = mapped_column()
    platform_fee_cents: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    # What of the fee Stripe took was given back to the creator because it was taken on tax: the fee Stripe
    # took is `platform_fee_cents + fee_returned_cents` (the share refunds return is counted on it, as Stripe does).
    fee_returned_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # What checkout recorded at payment; figures use sale_net_cents and order_net_cents below.
    net_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # Refunds that succeeded (money back with the learner), and those the provider is still processing.
    refunded_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    refund_pending_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # A pending order holds a seat in a live workshop until this instant.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    learner: Mapped[User] = relationship()
    offering: Mapped[Offering] = relationship()
    coupon: Mapped[Coupon | None] = relationship()
    plan: Mapped[PaymentPlan | None] = relationship()

    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", order_by="Refund.created_at", cascade="all, delete-orphan"
    )

    @property
    def is_settled(self) -> bool:
        """The money was taken (whatever happened to it since)."""
        return self.status in SETTLED_STATUSES

    @property
    def is_processing(self) -> bool:
        """Checkout finished with a delayed method (a bank debit): the money is on its way."""
        return self.status is OrderStatus.PENDING and self.payment_intent_id is not None

    @hybrid_property
    def revenue_cents(self) -> int:
        """What the learner paid for the offering itself: the amount less the tax collected with it."""
        return self.amount_cents - self.tax_cents

    @hybrid_property
    def revenue_discount_cents(self) -> int:
        """What a coupon took off, without the tax a tax-inclusive price held in it (so revenue + this = list
        price without tax, the figures' terms); with tax added on top, the discount itself."""
        if self.tax_included and self.amount_cents:
            return self.discount_cents * self.revenue_cents // self.amount_cents
        return self.discount_cents

    @revenue_discount_cents.inplace.expression
    @classmethod
    def _revenue_discount_expression(cls) -> sa.ColumnElement[int]:
        share = sa.cast(cls.discount_cents, sa.BigInteger) * (cls.amount_cents - cls.tax_cents) // cls.amount_cents
        return sa.case((sa.and_(cls.tax_included, cls.amount_cents > 0), share), else_=cls.discount_cents)

    @hybrid_property
    def sale_net_cents(self) -> int:
        """What the sale brought the creator: the amount less the tax in it, the processor's and the platform's fees.

        Tax passes through the creator's account to the tax authority: it is never income.
        """
        return self.amount_cents - self.tax_cents - self.processor_fee_cents - self.platform_fee_cents

    @property
    def refunds_requested_cents(self) -> int:
        """What refunds have given back or are still giving back: succeeded and pending."""
        return self.refunded_cents + self.refund_pending_cents

    @property
    def refundable_cents(self) -> int:
        """What is left to refund: neither refunded nor in a refund still pending."""
        if self.status not in REFUNDABLE_STATUSES:
            return 0
        return max(0, self.amount_cents - self.refunds_requested_cents)

    @property
    def platform_fee_taken_cents(self) -> int:
        """The platform fee Stripe took on the payment, before any of it was given back for being on tax."""
        return self.platform_fee_cents + self.fee_returned_cents

    @property
    def list_price_cents(self) -> int:
        """The offering's price before a coupon (tax included if the price included it, as the learner saw it)."""
        return self.amount_cents + self.discount_cents - self.tax_added_cents

    @property
    def tax_added_cents(self) -> int:
        """Tax added on top of the price at checkout (none when the price included it)."""
        return 0 if self.tax_included else self.tax_cents

    def can_transition_to(self, status: OrderStatus) -> bool:
        return status in ORDER_TRANSITIONS[self.status]

    def transition_to(self, status: OrderStatus) -> None:
        """Move to `status` (staying put is allowed), or raise InvalidTransition if the state machine forbids it."""
        if status is self.status:
            return
        if not self.can_transition_to(status):
            raise InvalidTransition(f"order {self.id}: {self.status.value} -> {status.value}")
        self.status = status

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.status.value} {self.amount_cents} {self.currency}>"


class Refund(Model):
    """Money given back on an order: a refund (from the studio or the provider's dashboard) or a lost dispute.

    One row per provider refund (or lost dispute), keyed by its id, following its status:
    only succeeded rows count in the order's `refunded_cents`; these rows say when and how
    much, so income can be counted in the month the money went back.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="refund_amount_positive"),
        money_check("platform_fee_refunded_cents"),
        money_check("tax_cents"),
        sa.UniqueConstraint("provider_refund_id", name="uq_refunds_provider_refund_id"),
        sa.Index("ix_refunds_order_id", "order_id"),
        sa.Index("ix_refunds_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    # Columns the running totals follow (courseplatform/stats.py) keep their value before a change.
    amount_cents: Mapped[int] = mapped_column(active_history=True)
    # The share of the platform fee given back with it (refunds are proportional).
    platform_fee_refunded_cents: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    # The share of the order's tax given back with it (proportional too, as Stripe Tax reverses it).
    tax_cents: Mapped[int] = mapped_column(default=0, server_default="0", active_history=True)
    provider_refund_id: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status"),
        default=RefundStatus.SUCCEEDED,
        server_default="succeeded",
        active_history=True,
    )
    # This refund ended the learner's access: if it fails afterwards, the access comes back.
    ended_access: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    reason: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")

    @hybrid_property
    def revenue_cents(self) -> int:
        """The refund less the tax given back with it: what it took from the sale's revenue."""
        return self.amount_cents - self.tax_cents

    @hybrid_property
    def refund_net_cents(self) -> int:
        """What the refund took back from the creator: the amount less its tax and the platform fee returned with it.

        The processor keeps its fee on a refunded payment, so none of it comes back.
        """
        return self.amount_cents - self.tax_cents - self.platform_fee_refunded_cents


# ---------------------------------------------------------------------------
# What a creator keeps: the one definition of net revenue
# ---------------------------------------------------------------------------
#
# A settled order's net to the creator = amount − tax − processor fee − platform fee (Order.sale_net_cents)
# − for each counted refund, its amount − its share of the tax − the platform fee returned with it
# (Refund.refund_net_cents). Tax collected for the creator is theirs to remit, never income. Every
# screen and export sums these, in SQL: the studio, an offering's overview, the payouts ledger, the
# running sales totals (courseplatform/stats.py), and the revenue view and its CSV (which count the
# two halves in the months they happened).


def counted_refunds() -> sa.ColumnElement[bool]:
    """Which refunds have given money back, and so count against the creator's net: the succeeded ones."""
    return Refund.status == RefundStatus.SUCCEEDED


def order_refunds() -> sa.Subquery:
    """Per order, its counted refunds summed: `amount_cents` (`revenue_cents` without tax, and `tax_cents`),
    `platform_fee_cents` returned, `net_cents` taken back.

    Outer-join it on `order_id` and pass it to `order_net_cents`.
    """
    return (
        sa.select(
            Refund.order_id.label("order_id"),
            whole_sum(Refund.amount_cents).label("amount_cents"),
            whole_sum(Refund.revenue_cents).label("revenue_cents"),
            whole_sum(Refund.tax_cents).label("tax_cents"),
            whole_sum(Refund.platform_fee_refunded_cents).label("platform_fee_cents"),
            whole_sum(Refund.refund_net_cents).label("net_cents"),
        )
        .where(counted_refunds())
        .group_by(Refund.order_id)
        .subquery("order_refunds")
    )


def order_net_cents(refunds: sa.Subquery) -> sa.ColumnElement[int]:
    """An order's net to the creator to date: its sale less its counted refunds (`refunds` from `order_refunds`)."""
    return Order.sale_net_cents - sa.func.coalesce(refunds.c.net_cents, 0)


def order_platform_fee_cents(refunds: sa.Subquery) -> sa.ColumnElement[int]:
    """What the platform has kept of an order's fee to date: its fee less the share returned with counted refunds."""
    return Order.platform_fee_cents - sa.func.coalesce(refunds.c.platform_fee_cents, 0)


class ProviderEvent(Model):
    """A webhook event seen once: the ledger that makes deliveries idempotent.

    An event about a payment the app has not recorded yet (a refund delivered before the
    checkout completed) is parked: kept with its payload and `processed_at` empty, and
    applied as soon as the payment it names (`object_ref`) is recorded.
    """

    __tablename__ = "provider_events"
    __table_args__ = (
        sa.UniqueConstraint("provider", "event_id", name="uq_provider_events_provider_event_id"),
        sa.Index("ix_provider_events_object_ref", "object_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider, "payment_provider"))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str] = mapped_column(sa.String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    object_ref: Mapped[str | None] = mapped_column(sa.String(255))
    payload: Mapped[dict | None] = mapped_column(sa.JSON)
