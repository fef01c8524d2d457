"""What learners get: enrollments, progress, quiz attempts and certificates."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .base import UTCDateTime, enum_column, utcnow
from .ce import AccreditingBody

if TYPE_CHECKING:
    from .accounts import User
    from .commerce import Order
    from .offerings import LiveSession, Offering


class EnrollmentSource(enum.Enum):
    PURCHASE = "purchase"
    FREE = "free"
    COMP = "comp"
    IMPORT = "import"


class EnrollmentStatus(enum.Enum):
    ACTIVE = "active"
    # Access paused while a payment dispute is open; a dispute won restores it.
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class AccessEvent(enum.Enum):
    """What happened to a learner's access; an enrollment keeps the last one as the reason for its state.

    The rules for which event may move which state are in `courseplatform.enrollments.states`.
    """

    PURCHASE = "purchase"
    FREE = "free"
    COMP = "comp"
    IMPORT = "import"
    RESTORE = "restore"  # the creator gave ended access back, knowingly, one learner at a time
    REFUND = "refund"  # the whole payment went back
    REFUND_FAILED = "refund_failed"  # a refund that had ended access failed: the money stayed
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"  # closed in the creator's favour, or without a chargeback
    DISPUTE_LOST = "dispute_lost"  # the bank took the money back
    CREATOR_REVOKE = "creator_revoke"
    PAYMENT_OVERDUE = "payment_overdue"  # a payment plan's instalment is overdue after its retries: paused
    PAYMENT_RECOVERED = "payment_recovered"  # the overdue instalment was paid: access comes back
    MEMBERSHIP_ENDED = "membership_ended"  # the membership that gave it ended (canceled, at its period's end)


def _reason_of_new_row(context) -> str:
    """A new enrollment's reason when none is given: the way access was given (the values are shared),
    or, for a row created already paused or ended, a dispute or the creator."""
    parameters = context.get_current_parameters()
    status = getattr(parameters.get("status"), "value", parameters.get("status"))
    if status == EnrollmentStatus.SUSPENDED.value:
        return AccessEvent.DISPUTE_OPENED.value
    if status == EnrollmentStatus.REVOKED.value:
        return AccessEvent.CREATOR_REVOKE.value
    source = parameters["source"]
    return AccessEvent(getattr(source, "value", source)).value


class Enrollment(Model):
    """A learner's access to one offering; at most one per learner and offering."""

    __tablename__ = "enrollments"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_course"),
        # The roster's newest-first page reads its 50 rows off these indexes instead of sorting them all:
        # everyone, or one status (which also serves counting an offering's learners by status).
        sa.Index("ix_enrollments_course_enrolled_at", "course_id", "enrolled_at", "id"),
        sa.Index("ix_enrollments_course_status_enrolled_at", "course_id", "status", "enrolled_at", "id"),
        # A refund or dispute finds the order's enrollment while it holds the order's lock.
        sa.Index("ix_enrollments_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"))
    source: Mapped[EnrollmentSource] = mapped_column(enum_column(EnrollmentSource, "enrollment_source"))
    # Columns the running totals follow (courseplatform/stats.py) keep their value before a change.
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE, active_history=True
    )
    # Why the enrollment is in its status: the event that put it there.
    reason: Mapped[AccessEvent] = mapped_column(enum_column(AccessEvent, "access_event"), default=_reason_of_new_row)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), active_history=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_lesson_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lessons.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship()
    offering: Mapped[Offering] = relationship()
    order: Mapped[Order | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status is EnrollmentStatus.ACTIVE


class LessonProgress(Model):
    """Where a learner is in one lesson: position in the media, and whether it is done."""

    __tablename__ = "lesson_progress"
    __table_args__ = (
        sa.UniqueConstraint("enrollment_id", "lesson_id", name="uq_lesson_progress_enrollment_lesson"),
        sa.CheckConstraint("position_seconds >= 0", name="position_non_negative"),
        sa.Index("ix_lesson_progress_lesson_id", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"))
    position_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    enrollment: Mapped[Enrollment] = relationship()


class QuizAttempt(Model):
    """One submission of a quiz, numbered per learner, with the answers kept."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        sa.UniqueConstraint(
            "enrollment_id", "lesson_id", "attempt_number", name="uq_quiz_attempts_enrollment_lesson_number"
        ),
        sa.CheckConstraint("score_percent >= 0 AND score_percent <= 100", name="score_range"),
        sa.CheckConstraint("attempt_number > 0", name="attempt_number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"))
    attempt_number: Mapped[int] = mapped_column()
    # {"<question id>": [<choice id>, ...]}
    answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    score_percent: Mapped[int] = mapped_column()
    passed: Mapped[bool] = mapped_column()
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attendance(Model):
    """How many minutes of one live session a learner attended, entered by hand or imported."""

    __tablename__ = "attendances"
    __table_args__ = (
        sa.UniqueConstraint("live_session_id", "enrollment_id", name="uq_attendances_session_enrollment"),
        sa.CheckConstraint("minutes_attended >= 0", name="minutes_non_negative"),
        sa.Index("ix_attendances_enrollment_id", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(sa.ForeignKey("live_sessions.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    minutes_attended: Mapped[int] = mapped_column()
    # "manual" or "import": where the figure came from, shown to the creator.
    source: Mapped[str] = mapped_column(sa.String(16), default="manual", server_default="manual")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # From a report with join and leave times (None when the figure was typed or the report had only
    # durations): the sign-in sheet, as [[joined, left], ...] in ISO 8601 UTC, and the minutes missed at
    # the start, at the end and in between, measured against the scheduled times.
    intervals: Mapped[list | None] = mapped_column(sa.JSON)
    late_minutes: Mapped[int | None] = mapped_column()
    early_minutes: Mapped[int | None] = mapped_column()
    away_minutes: Mapped[int | None] = mapped_column()

    enrollment: Mapped[Enrollment] = relationship()
    live_session: Mapped[LiveSession] = relationship()


class LiveCheckIn(Model):
    """A learner entered a live session's check-in code while the session ran."""

    __tablename__ = "live_checkins"
    __table_args__ = (
        sa.UniqueConstraint("live_session_id", "enrollment_id", name="uq_live_checkins_session_enrollment"),
        sa.Index("ix_live_checkins_enrollment_id", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    live_session_id: Mapped[int] = mapped_column(sa.ForeignKey("live_sessions.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfferingEvaluation(Model):
    """A learner's evaluation of a CE offering and their attestation, the steps before the certificate."""

    __tablename__ = "course_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"), unique=True)
    # {"<question key>": 1..5}
    ratings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    comments: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The attestation as the learner saw it, kept word for word.
    attestation_text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    enrollment: Mapped[Enrollment] = relationship()


class Certificate(Model):
    """Proof of completion (with CE hours when the offering grants them), publicly verifiable."""

    __tablename__ = "certificates"
    __table_args__ = (sa.CheckConstraint("ce_minutes IS NULL OR ce_minutes > 0", name="ce_minutes_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="RESTRICT"), unique=True)
    # Copied at issue time so the certificate never changes if the offering does.
    learner_name: Mapped[str] = mapped_column(sa.String(120))
    offering_title: Mapped[str] = mapped_column("course_title", sa.String(160))
    creator_name: Mapped[str] = mapped_column(sa.String(255))
    creator_credentials: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    ce_minutes: Mapped[int | None] = mapped_column()
    ce_approval_statement: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # What the accrediting body asks a CE certificate to state, copied at issue (empty on older certificates
    # and on certificates of completion).
    learner_licence: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    ce_body: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")  # the body it answers to
    ce_format: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    ce_category: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    presenters: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    provider_name: Mapped[str] = mapped_column(sa.String(160), default="", server_default="")
    provider_number: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    approval_period: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the learner's access is revoked (a refund, a lost dispute, the creator); only the
    # creator's explicit Reissue clears it, never a later change of access.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reissued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    enrollment: Mapped[Enrollment] = relationship()

    @property
    def ce_body_label(self) -> str:
        """The accrediting body the certificate answers to, by name ("ASWB ACE"), or ""."""
        body = AccreditingBody.of(self.ce_body)
        return body.label if body else ""

    @hybrid_property
    def is_revoked(self) -> bool:
        """A certificate stops counting once revoked (the learner's access ended: a refund, a lost dispute,
        the creator); only the creator's explicit reissue makes it count again."""
        return self.revoked_at is not None

    @is_revoked.inplace.expression
    @classmethod
    def _is_revoked_expression(cls) -> sa.ColumnElement[bool]:
        return cls.revoked_at.is_not(None)


class SupersededCertificate(Model):
    """A number a certificate had before it was corrected and reissued: it still verifies, as superseded."""

    __tablename__ = "superseded_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("certificates.id", ondelete="RESTRICT"), index=True)
    # What the superseded certificate stated that the correction changed.
    learner_name: Mapped[str] = mapped_column(sa.String(120))
    learner_licence: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    certificate: Mapped[Certificate] = relationship()


class WaitlistEntry(Model):
    """Someone who asked to hear when an offering opens or a seat frees up."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        sa.UniqueConstraint("course_id", "email", name="uq_waitlist_entries_course_email"),
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column("course_id", sa.ForeignKey("courses.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
