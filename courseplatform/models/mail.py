"""Outgoing e-mail, kept in the database with the change that causes it (the outbox)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow


class MailStatus(enum.Enum):
    PENDING = "pending"  # not accepted by the mail server yet (new, or waiting to be tried again)
    SENT = "sent"
    FAILED = "failed"  # given up after every attempt; an operator can look at the error


class OutgoingMail(Model):
    """One message to one recipient, written in the same transaction as the change it tells about.

    A rolled-back change leaves no message; a committed one keeps its message until the mail
    server accepts it, whatever happens to the process that committed it.
    """

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        sa.Index("ix_outgoing_mail_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    text: Mapped[str] = mapped_column(sa.Text)
    html: Mapped[str | None] = mapped_column(sa.Text)
    reply_to: Mapped[str | None] = mapped_column(sa.String(254))
    # For mail to a list: the recipient's own unsubscribe link, sent as List-Unsubscribe (one click).
    unsubscribe_url: Mapped[str | None] = mapped_column(sa.String(2000))
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus, "mail_status"), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The job that wrote it (a CSV enrol's invitations), so its page can say how many went out.
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
