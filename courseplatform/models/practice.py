"""A therapist's practice waitlist and the colleagues they refer to: the people they can't see yet.

Nothing clinical is kept about the people on the list: an e-mail address, when they joined (which is when
they consented to be written to), when they were last written to, and when they left. Leaving erases the
address; the row keeps only its dates and, for the funnel's past months, whether they had enrolled in one of
the therapist's offerings and what that brought. Nothing here is ever tied to session income.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .accounts import CreatorProfile

MAX_REFERRAL_PARTNERS = 20


class PracticeWaitlistEntry(Model):
    """Someone who asked to hear when the therapist can take new clients (or who did, and left)."""

    __tablename__ = "practice_waitlist_entries"
    __table_args__ = (
        # Addresses are unique among the people on the list; those who left have none (NULLs are distinct).
        sa.UniqueConstraint("creator_id", "email", name="uq_practice_waitlist_entries_creator_email"),
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
        sa.CheckConstraint("(email IS NULL) = (left_at IS NOT NULL)", name="address_until_left"),
        sa.Index("ix_practice_waitlist_entries_creator_created", "creator_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    # When they joined, ticking the consent to be written to about openings.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Kept when they leave, so the funnel's months don't change once the address is gone.
    enrolled_before_leaving: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    income_before_leaving_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    creator: Mapped[CreatorProfile] = relationship()


class ReferralPartner(Model):
    """A colleague the therapist refers people to while they are full, shown on the practice waitlist page."""

    __tablename__ = "referral_partners"
    __table_args__ = (sa.Index("ix_referral_partners_creator_position", "creator_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.ForeignKey("creator_profiles.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    credentials: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    specialties: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    # Their own site or directory listing (http or https only), or "" for none.
    url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    creator: Mapped[CreatorProfile] = relationship()
