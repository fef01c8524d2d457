"""Running totals the studio and the console read instead of counting every enrollment and order.

Nothing writes these rows but `courseplatform.stats`, which adds each flushed change of an
account, enrollment, order or refund as a delta in the same transaction; `flask rebuild-stats`
recounts them from scratch.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


def _count() -> Mapped[int]:
    return mapped_column(sa.BigInteger, default=0, server_default="0")


class OfferingStats(Model):
    """An offering's learners by access state, and how many of those with access have completed it."""

    __tablename__ = "offering_stats"

    offering_id: Mapped[int] = mapped_column(
        "course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    active: Mapped[int] = _count()
    suspended: Mapped[int] = _count()
    revoked: Mapped[int] = _count()
    # Active learners with a completion date.
    completed: Mapped[int] = _count()


class OfferingSales(Model):
    """An offering's settled orders in one currency to date, with the one definition of net (models/commerce.py)."""

    __tablename__ = "offering_sales"

    offering_id: Mapped[int] = mapped_column(
        "course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    orders: Mapped[int] = _count()
    gross_cents: Mapped[int] = _count()
    refunded_cents: Mapped[int] = _count()
    # Sales net of fees, less what counted refunds took back.
    net_cents: Mapped[int] = _count()
    # The platform's fee charged, and the part of it returned with refunds.
    platform_fee_cents: Mapped[int] = _count()
    platform_fee_returned_cents: Mapped[int] = _count()


class CreatorLearner(Model):
    """A learner of a creator and in how many of the creator's offerings they have access now."""

    __tablename__ = "creator_learners"

    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    offerings: Mapped[int] = _count()


class CreatorStats(Model):
    """A creator's learners taught: people with access to at least one of their offerings."""

    __tablename__ = "creator_stats"

    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"), primary_key=True)
    learners: Mapped[int] = _count()


class PlatformStats(Model):
    """The platform's accounts, and how many of them are suspended: one row, moved only when an account is
    made, suspended, unsuspended or deleted (rare next to enrollments and orders, so one row holds no queue)."""

    __tablename__ = "platform_stats"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    accounts: Mapped[int] = _count()
    suspended_accounts: Mapped[int] = _count()
