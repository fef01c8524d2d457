"""What learners get: enrollments, progress, quiz attempts and certificates."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, enum_column, utcnow


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


class Enrollment(db.Model):
    """A learner's access to one offering; at most one per learner and offering."""

    __tablename__ = "enrollments"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_course"),
        sa.Index("ix_enrollments_course_status", "course_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"))
    source: Mapped[EnrollmentSource] = mapped_column(enum_column(EnrollmentSource, "enrollment_source"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_lesson_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lessons.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship()  # noqa: F821
    course: Mapped[Course] = relationship()  # noqa: F821
    order: Mapped[Order | None] = relationship()  # noqa: F821

    @property
    def is_active(self) -> bool:
        return self.status is EnrollmentStatus.ACTIVE


class LessonProgress(db.Model):
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


class QuizAttempt(db.Model):
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


class Attendance(db.Model):
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

    enrollment: Mapped[Enrollment] = relationship()
    live_session: Mapped[LiveSession] = relationship()  # noqa: F821


class CourseEvaluation(db.Model):
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


class Certificate(db.Model):
    """Proof of completion (with CE hours when the offering grants them), publicly verifiable."""

    __tablename__ = "certificates"
    __table_args__ = (sa.CheckConstraint("ce_minutes IS NULL OR ce_minutes > 0", name="ce_minutes_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="RESTRICT"), unique=True)
    # Copied at issue time so the certificate never changes if the offering does.
    learner_name: Mapped[str] = mapped_column(sa.String(120))
    course_title: Mapped[str] = mapped_column(sa.String(160))
    creator_name: Mapped[str] = mapped_column(sa.String(255))
    creator_credentials: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    ce_minutes: Mapped[int | None] = mapped_column()
    ce_approval_statement: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrollment: Mapped[Enrollment] = relationship()

    @hybrid_property
    def is_revoked(self) -> bool:
        """A certificate stops counting once the learner's access is revoked (a refund, a lost dispute)."""
        return self.enrollment.status is EnrollmentStatus.REVOKED

    @is_revoked.inplace.expression
    @classmethod
    def _is_revoked_expression(cls) -> sa.ColumnElement[bool]:
        """The same rule in SQL, for queries that list certificates (NULL where there is none)."""
        enrollment = aliased(Enrollment)
        return (
            sa.select(enrollment.status == EnrollmentStatus.REVOKED)
            .where(enrollment.id == cls.enrollment_id)
            .scalar_subquery()
        )


class WaitlistEntry(db.Model):
    """Someone who asked to hear when an offering opens or a seat frees up."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        sa.UniqueConstraint("course_id", "email", name="uq_waitlist_entries_course_email"),
        sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
