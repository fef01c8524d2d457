"""The operators' audit log: who did what to whom, when, and why."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .accounts import User


class AuditEntry(Model):
    """One operator action (a refund, a suspension, a retried job), written in the action's own transaction."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_created_at", "created_at"),
        sa.Index("ix_audit_entries_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Kept as it was at the time, so the entry still says who once the account is gone.
    actor_email: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(60))
    target_type: Mapped[str] = mapped_column(sa.String(60))
    target_id: Mapped[int | None] = mapped_column()
    detail: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target_type}:{self.target_id}>"
