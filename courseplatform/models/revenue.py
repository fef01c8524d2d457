"""Bucket income: 1:1 session income, stored without anything that identifies a client."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from .accounts import CreatorProfile


class PayerKind(enum.Enum):
    SELF_PAY = "self_pay"
    INSURANCE = "insurance"
    SLIDING_SCALE = "sliding_scale"

    @property
    def label(self) -> str:
        return {"self_pay": "Self-pay", "insurance": "Insurance", "sliding_scale": "Sliding scale"}[self.value]


class SessionIncomeSource(enum.Enum):
    MANUAL = "manual"
    MONTHLY = "monthly"  # a month's total typed in one line
    IMPORT = "import"  # an imported line, dated the day of its session
    IMPORT_MONTH = "import_month"  # an import's lines added up by month before being stored: no day kept


class SessionIncomeKind(enum.Enum):
    """What a line of session income is: sessions held, a fee for one missed, or a correction of money."""

    SESSION = "session"
    MISSED = "missed"  # a late-cancel or no-show fee: income, but no session held
    ADJUSTMENT = "adjustment"  # a refund (negative) or other correction: money, no session
    ADDON = "addon"  # an add-on code's charge (90785…): income for a session counted on its own line

    @property
    def label(self) -> str:
        return {
            "session": "Sessions",
            "missed": "Late-cancel and no-show fee",
            "adjustment": "Refund or adjustment",
            "addon": "Add-on charge",
        }[self.value]


class SessionIncome(Model):
    """Income from 1:1 sessions on a date: counts, minutes and money, never a client."""

    __tablename__ = "session_income"
    __table_args__ = (
        # Only a correction may take money away (a refund); sessions and fees never are negative.
        sa.CheckConstraint("amount_cents >= 0 OR kind = 'adjustment'", name="amount_sign"),
        # Sessions held have a count and a length; a missed-appointment fee or a correction has neither.
        sa.CheckConstraint(
            "(kind = 'session' AND sessions > 0 AND minutes_each > 0)"
            " OR (kind <> 'session' AND sessions = 0 AND minutes_each = 0)",
            name="counts_match_kind",
        ),
        sa.UniqueConstraint("creator_id", "import_key", name="uq_session_income_creator_import_key"),
        sa.Index("ix_session_income_creator_date", "creator_id", "session_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"))
    session_date: Mapped[date] = mapped_column(sa.Date)
    sessions: Mapped[int] = mapped_column(default=1, server_default="1")
    minutes_each: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(sa.String(3))
    payer_kind: Mapped[PayerKind] = mapped_column(enum_column(PayerKind, "payer_kind"))
    kind: Mapped[SessionIncomeKind] = mapped_column(
        enum_column(SessionIncomeKind, "session_income_kind"),
        default=SessionIncomeKind.SESSION,
        server_default=SessionIncomeKind.SESSION.value,
    )
    source: Mapped[SessionIncomeSource] = mapped_column(
        enum_column(SessionIncomeSource, "session_income_source"), default=SessionIncomeSource.MANUAL
    )
    # A fingerprint of an imported row, so re-importing the same file adds nothing.
    import_key: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    creator: Mapped[CreatorProfile] = relationship()
