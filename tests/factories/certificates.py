"""Continuing education and certificates: a CE offering, a learner at a given step, attendance, quiz attempts."""

from __future__ import annotations

from datetime import timedelta

import factory

from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.models import LessonKind, LessonProgress, OfferingEvaluation, QuizAttempt, utcnow

from .accounts import CreatorProfileFactory
from .base import Base
from .catalog import LessonFactory, OfferingFactory, SectionFactory
from .enrollments import EnrollmentFactory
from .live import AttendanceFactory, LiveSessionFactory

APPROVAL = (
    "Approved by the Board of Behavioral Sciences, provider #1234. Aqueduct maintains responsibility for this program."
)
RATINGS = {
    "objectives_met": "5",
    "relevant_to_practice": "4",
    "presenter_effective": "5",
    "methods_effective": "3",
    "free_of_commercial_bias": "5",
}


class OfferingEvaluationFactory(Base):
    class Meta:
        model = OfferingEvaluation

    ratings = factory.LazyFunction(lambda: {key: int(value) for key, value in RATINGS.items()})
    comments = "Grounding scripts with my Monday group."


class QuizAttemptFactory(Base):
    class Meta:
        model = QuizAttempt

    attempt_number = 1
    answers = factory.LazyFunction(dict)
    score_percent = 100
    passed = True


def ce_offering(*, ce_minutes: int | None = 180, lessons: int = 2, quiz: bool = False, creator=None, **kw):
    """A published offering by "Dana Reyes, LCSW" (or `creator`), with `lessons` text lessons and maybe a quiz."""
    creator = creator or CreatorProfileFactory(display_name="Dana Reyes", credentials="LCSW")
    offering = OfferingFactory(
        creator=creator,
        ce_minutes=ce_minutes,
        ce_approval_statement=APPROVAL if ce_minutes else "",
        **kw,
    )
    section = SectionFactory(offering=offering, title="Foundations")
    for n in range(lessons):
        LessonFactory(section=section, position=n, title=f"Lesson {n + 1}")
    if quiz:
        LessonFactory(section=section, position=lessons, title="Check your understanding", kind=LessonKind.QUIZ)
    db.session.flush()
    return offering


def lessons_of(offering):
    return [lesson for section in offering.sections for lesson in section.lessons]


def enrol(offering, user=None, **kw):
    kw = {"user": user} if user is not None else {"user__name": "Zoë Łucja O’Brien", **kw}
    enrollment = EnrollmentFactory(offering=offering, **kw)
    db.session.flush()
    return enrollment


def finish(enrollment, *, days_ago: float = 0):
    """Every lesson done and the offering complete, as the player records it."""
    when = utcnow() - timedelta(days=days_ago)
    for lesson in lessons_of(enrollment.offering):
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=when))
    enrollment.completed_at = when
    db.session.flush()
    return enrollment


def evaluated(enrollment, *, attested: bool = False):
    if attested:
        return OfferingEvaluationFactory(
            enrollment_id=enrollment.id, attestation_text="I attest that I completed it.", attested_at=utcnow()
        )
    return OfferingEvaluationFactory(enrollment_id=enrollment.id)


def live_session(offering, *, days: float = -7, minutes: int = 100, title: str = "Evening 1"):
    return LiveSessionFactory(
        offering=offering,
        title=title,
        starts_at=utcnow() + timedelta(days=days),
        duration_minutes=minutes,
        capacity=None,
        join_url="https://meet.example.com/room",
    )


def attended(enrollment, session, minutes: int):
    return AttendanceFactory(live_session_id=session.id, enrollment_id=enrollment.id, minutes_attended=minutes)


def attempt(enrollment, lesson, number: int, score: int, passed: bool, *, days_ago: float = 1):
    return QuizAttemptFactory(
        enrollment_id=enrollment.id,
        lesson_id=lesson.id,
        attempt_number=number,
        score_percent=score,
        passed=passed,
        submitted_at=utcnow() - timedelta(days=days_ago),
    )


def revoke(enrollment):
    access_changes.revoke(enrollment)
