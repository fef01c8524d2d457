"""Coupons: a creator's own codes, taking a percentage or an amount off some or all of their offerings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model, db
from .base import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import CreatorProfile
    from .offerings import Offering


class CouponKind(enum.Enum):
    PERCENT = "percent"  # percent_off of the price
    AMOUNT = "amount"  # amount_off_cents, in `currency`, off the price


coupon_offerings = sa.Table(
    "coupon_offerings",
    db.metadata,
    sa.Column("coupon_id", sa.ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_coupon_offerings_course_id", "course_id"),
)


class Coupon(Model):
    """A code a creator shares (`/courses/<slug>?coupon=CODE`), checked at the Buy button.

    Codes are stored upper-case and unique among a creator's active coupons, so two creators
    may both have WELCOME, and a creator may archive one and make it again. A coupon is never
    deleted once made: orders name it, and archiving stops it.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        sa.Index(
            "uq_coupons_creator_code_active",
            "creator_id",
            "code",
            unique=True,
            postgresql_where=sa.text("archived_at IS NULL"),
            sqlite_where=sa.text("archived_at IS NULL"),
        ),
        sa.CheckConstraint(
            "(kind = 'percent' AND percent_off BETWEEN 1 AND 100 AND amount_off_cents IS NULL)"
            " OR (kind = 'amount' AND amount_off_cents > 0 AND currency IS NOT NULL AND percent_off IS NULL)",
            name="coupon_discount_shape",
        ),
        sa.CheckConstraint("max_redemptions IS NULL OR max_redemptions > 0", name="max_redemptions_positive"),
        sa.CheckConstraint("max_per_learner IS NULL OR max_per_learner > 0", name="max_per_learner_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[CouponKind] = mapped_column(enum_column(CouponKind, "coupon_kind"))
    percent_off: Mapped[int | None] = mapped_column(sa.SmallInteger)
    amount_off_cents: Mapped[int | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    # Every offering of the creator's, now and later; otherwise only those in `offerings`.
    all_offerings: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How many learners may use it in all, and how many offerings one learner may use it on (None: no limit).
    max_redemptions: Mapped[int | None] = mapped_column()
    max_per_learner: Mapped[int | None] = mapped_column(default=1)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    creator: Mapped[CreatorProfile] = relationship()
    offerings: Mapped[list[Offering]] = relationship(secondary=coupon_offerings, order_by="Offering.title")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def has_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def discount_cents(self, price_cents: int) -> int:
        """What the coupon takes off a price (in the coupon's currency for an amount): never more than the price.

        A percentage is rounded half up to the minor unit, as Stripe rounds a percent-off coupon.
        """
        if self.kind is CouponKind.PERCENT:
            off = (price_cents * (self.percent_off or 0) + 50) // 100
        else:
            off = self.amount_off_cents or 0
        return min(max(off, 0), price_cents)

    def __repr__(self) -> str:
        return f"<Coupon {self.id} {self.code}>"
