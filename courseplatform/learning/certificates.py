"""The road from finishing an offering to holding its certificate.

The order CE sites use: content (every lesson done, every quiz passed) → live
attendance when the creator requires a minimum → evaluation → attestation →
certificate. Offerings without CE hours skip the evaluation and attestation: the
learner claims a certificate of completion once the content (and attendance) is done.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..models import Certificate, CourseEvaluation, Enrollment, utcnow
from .progress import AttendanceSummary, attendance_summary


class Step(enum.Enum):
    CONTENT = "content"
    ATTENDANCE = "attendance"
    EVALUATION = "evaluation"
    ATTESTATION = "attestation"
    # Offerings without CE hours: ready to claim the certificate of completion.
    CLAIM = "claim"
    ISSUED = "issued"


@dataclass(frozen=True)
class Completion:
    """Where a learner stands on the way to the certificate, and what they have handed in so far."""

    step: Step
    attendance: AttendanceSummary | None
    evaluation: CourseEvaluation | None
    certificate: Certificate | None


def completion_of(enrollment: Enrollment) -> Completion:
    """The learner's next step towards the certificate (two queries; three with an attendance minimum)."""
    course = enrollment.course
    evaluation, certificate = db.session.execute(
        sa.select(CourseEvaluation, Certificate)
        .select_from(Enrollment)
        .outerjoin(CourseEvaluation, CourseEvaluation.enrollment_id == Enrollment.id)
        .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)
        .where(Enrollment.id == enrollment.id)
    ).one()
    attendance = attendance_summary(enrollment) if course.min_attendance_percent else None
    if certificate is not None:
        step = Step.ISSUED
    elif enrollment.completed_at is None:
        step = Step.CONTENT
    elif attendance is not None and not attendance.is_enough:
        step = Step.ATTENDANCE
    elif course.ce_minutes is None:
        step = Step.CLAIM
    elif evaluation is None:
        step = Step.EVALUATION
    elif evaluation.attested_at is None:
        step = Step.ATTESTATION
    else:  # attested but not issued: only if issuing failed half-way; issuing again is safe
        step = Step.ATTESTATION
    return Completion(step, attendance, evaluation, certificate)


def new_certificate_number() -> str:
    """An unguessable, readable number such as `AQ-7KD3-QX9M-2F4T` (no 0/O or 1/I to misread)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)]
    return "AQ-" + "-".join(groups)


def issue_certificate(enrollment: Enrollment) -> Certificate:
    """Issue the learner's certificate (flushed), copying what it states so later edits never change it.

    Callers check `completion_of(...)` first; issuing twice returns the certificate already issued.
    """
    existing = db.session.scalar(sa.select(Certificate).where(Certificate.enrollment_id == enrollment.id))
    if existing is not None:
        return existing
    course = enrollment.course
    creator = course.creator
    certificate = Certificate(
        number=new_certificate_number(),
        enrollment_id=enrollment.id,
        learner_name=enrollment.user.name,
        course_title=course.title,
        creator_name=creator.display_name,
        creator_credentials=creator.credentials or "",
        ce_minutes=course.ce_minutes,
        ce_approval_statement=course.ce_approval_statement if course.ce_minutes else "",
        issued_at=utcnow(),
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def my_certificates(user) -> list[Certificate]:
    """Every certificate the learner holds, newest first (one query)."""
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .join(Enrollment, Certificate.enrollment_id == Enrollment.id)
            .where(Enrollment.user_id == user.id)
            .order_by(Certificate.issued_at.desc())
        )
    )
