"""Payment plans: an offering paid in monthly instalments, each instalment an order of its own."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, money_check, utcnow
from .commerce import PaymentProvider
from .offerings import BillingInterval

if TYPE_CHECKING:
    from .accounts import User
    from .offerings import Offering

# How many instalments a creator may offer: from two payments to two years of monthly ones.
MIN_INSTALMENTS = 2
MAX_INSTALMENTS = 24


class PlanStatus(enum.Enum):
    PENDING = "pending"  # its checkout is open: nothing paid yet
    ACTIVE = "active"  # paying as scheduled
    PAST_DUE = "past_due"  # an instalment failed and is being retried; access goes on meanwhile
    PAUSED = "paused"  # the retries ran out: access is paused until the learner pays
    COMPLETED = "completed"  # every instalment paid: the plan ended on its own
    CANCELED = "canceled"  # ended before it was paid off: access ended, or the plan was stopped
    ABANDONED = "abandoned"  # its checkout lapsed or failed: never started

    @property
    def label(self) -> str:
        return PLAN_STATUS_LABELS[self]


PLAN_STATUS_LABELS = {
    PlanStatus.PENDING: "Not started",
    PlanStatus.ACTIVE: "On schedule",
    PlanStatus.PAST_DUE: "Payment being retried",
    PlanStatus.PAUSED: "Paused: payment overdue",
    PlanStatus.COMPLETED: "Paid in full",
    PlanStatus.CANCELED: "Stopped",
    PlanStatus.ABANDONED: "Not started",
}
# Plans whose next instalments are still to be charged.
RUNNING_STATUSES = frozenset({PlanStatus.ACTIVE, PlanStatus.PAST_DUE, PlanStatus.PAUSED})


class PaymentPlan(Model):
    """A learner paying for one offering in `instalments` monthly payments of `instalment_cents`, or (a
    membership: `instalments` empty) every `interval` until they cancel.

    The checkout's order is instalment 1; each later payment (Stripe's invoice, or the test
    mode's billing run) is an order of its own with `plan_id` and its number, so fees, refunds,
    the ledger and the revenue view count instalments as they count every sale.
    """

    __tablename__ = "payment_plans"
    __table_args__ = (
        money_check("instalment_cents"),
        money_check("tax_cents"),
        sa.CheckConstraint(
            f"instalments IS NULL OR instalments BETWEEN {MIN_INSTALMENTS} AND {MAX_INSTALMENTS}",
            name="plan_instalments_in_range",
        ),
        sa.CheckConstraint(
            "paid_count >= 0 AND (instalments IS NULL OR paid_count <= instalments)",
            name="plan_paid_within_instalments",
        ),
        sa.UniqueConstraint("provider", "provider_subscription_id", name="uq_payment_plans_provider_subscription"),
        sa.Index("ix_payment_plans_learner_id", "learner_id"),
        sa.Index("ix_payment_plans_course_id", "course_id"),
        # The test mode's billing run finds the plans due.
        sa.Index("ix_payment_plans_status_next_charge", "status", "next_charge_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="RESTRICT"))
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider, "payment_provider"))
    # Stripe's subscription, known once its checkout completes.
    provider_subscription_id: Mapped[str | None] = mapped_column(sa.String(255))
    currency: Mapped[str] = mapped_column(sa.String(3))
    # None: a membership, renewing every `interval` until it is canceled.
    instalments: Mapped[int | None] = mapped_column()
    instalment_cents: Mapped[int] = mapped_column()
    # Stripe Tax on each payment, as on the latest: added on top of `instalment_cents`, or held by it.
    tax_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    tax_included: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    interval: Mapped[BillingInterval] = mapped_column(
        enum_column(BillingInterval, "billing_interval"), default=BillingInterval.MONTH, server_default="month"
    )
    # A membership the member canceled: it ends when the period paid for ends, and renews no more.
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    paid_count: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus, "plan_status"), default=PlanStatus.PENDING)
    # When the next instalment is due (Stripe's current period end), and for a failed one the next try.
    next_charge_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_failure: Mapped[str | None] = mapped_column(sa.String(255))
    # Stripe: the schedule that ends the subscription after the last instalment is in place.
    ends_on_its_own: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Test mode: the learner chose the test card that declines later instalments.
    test_card_declines: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When the first instalment was paid: instalment k falls due k-1 months after (the test mode's schedule).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    learner: Mapped[User] = relationship()
    offering: Mapped[Offering] = relationship()

    @property
    def is_membership(self) -> bool:
        return self.instalments is None

    @property
    def total_cents(self) -> int:
        """A plan's whole price (a membership's: what was paid so far)."""
        return (self.instalments or self.paid_count) * self.instalment_cents

    @property
    def paid_cents(self) -> int:
        return self.paid_count * self.instalment_cents

    @property
    def owed_cents(self) -> int:
        """What a plan still has to pay (nothing once it stopped or never started; a membership owes nothing)."""
        return self.unpaid_cents if self.status in RUNNING_STATUSES else 0

    @hybrid_property
    def unpaid_cents(self) -> int:
        """What was never paid of the whole (for a stopped plan, what it stopped owing; a membership: nothing)."""
        return ((self.instalments or self.paid_count) - self.paid_count) * self.instalment_cents

    @unpaid_cents.inplace.expression
    @classmethod
    def _unpaid_cents_expression(cls) -> sa.ColumnElement[int]:
        left = sa.func.coalesce(cls.instalments, cls.paid_count) - cls.paid_count
        return sa.cast(left, sa.BigInteger) * cls.instalment_cents  # 24 × a big instalment outgrows 32 bits

    @property
    def tax_added_cents(self) -> int:
        """Tax added on top of each payment (none when the instalment holds it), as on the latest."""
        return 0 if self.tax_included else self.tax_cents

    @property
    def charge_cents(self) -> int:
        """What each payment charges the learner: the instalment and the tax added to it (as on the latest)."""
        return self.instalment_cents + self.tax_added_cents

    @hybrid_property
    def revenue_per_payment_cents(self) -> int:
        """What each payment brings the creator before fees: the instalment less the tax it holds."""
        return self.instalment_cents - (self.tax_cents if self.tax_included else 0)

    @revenue_per_payment_cents.inplace.expression
    @classmethod
    def _revenue_per_payment_expression(cls) -> sa.ColumnElement[int]:
        return cls.instalment_cents - sa.case((cls.tax_included, cls.tax_cents), else_=0)

    @hybrid_property
    def unpaid_revenue_cents(self) -> int:
        """What a plan has left to pay, as the creator's income: without the tax in it."""
        return ((self.instalments or self.paid_count) - self.paid_count) * self.revenue_per_payment_cents

    @unpaid_revenue_cents.inplace.expression
    @classmethod
    def _unpaid_revenue_expression(cls) -> sa.ColumnElement[int]:
        left = sa.func.coalesce(cls.instalments, cls.paid_count) - cls.paid_count
        return sa.cast(left, sa.BigInteger) * cls.revenue_per_payment_cents

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def status_label(self) -> str:
        """What the learner and the creator read: a membership that runs is "Active", one that stopped "Ended"."""
        if self.is_membership:
            if self.status is PlanStatus.ACTIVE:
                return "Ending" if self.cancel_at_period_end else "Active"
            if self.status is PlanStatus.CANCELED:
                return "Ended"
        return self.status.label

    def __repr__(self) -> str:
        return f"<PaymentPlan {self.id} {self.status.value} {self.paid_count}/{self.instalments}>"
