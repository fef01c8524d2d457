"""Builders for certificate tests: a CE offering, a learner at a given step, attendance, quiz attempts."""

from __future__ import annotations

from datetime import timedelta

from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.models import (
    Attendance,
    CourseEvaluation,
    LessonKind,
    LessonProgress,
    LiveSession,
    QuizAttempt,
    utcnow,
)

from ..factories import PASSWORD, CourseFactory, CreatorProfileFactory, EnrollmentFactory, LessonFactory, SectionFactory

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

__all__ = ["APPROVAL", "PASSWORD", "RATINGS"]


def offering(*, ce_minutes: int | None = 180, lessons: int = 2, quiz: bool = False, creator=None, **kw):
    """A published offering by "Dana Reyes, LCSW" (or `creator`), with `lessons` text lessons and maybe a quiz."""
    creator = creator or CreatorProfileFactory(display_name="Dana Reyes", credentials="LCSW")
    course = CourseFactory(
        creator=creator,
        ce_minutes=ce_minutes,
        ce_approval_statement=APPROVAL if ce_minutes else "",
        **kw,
    )
    section = SectionFactory(course=course, title="Foundations")
    for n in range(lessons):
        LessonFactory(section=section, position=n, title=f"Lesson {n + 1}")
    if quiz:
        LessonFactory(section=section, position=lessons, title="Check your understanding", kind=LessonKind.QUIZ)
    db.session.flush()
    return course


def lessons_of(course):
    return [lesson for section in course.sections for lesson in section.lessons]


def enrol(course, user=None, **kw):
    kw = {"user": user} if user is not None else {"user__name": "Zoë Łucja O’Brien", **kw}
    enrollment = EnrollmentFactory(course=course, **kw)
    db.session.flush()
    return enrollment


def finish(enrollment, *, days_ago: float = 0):
    """Every lesson done and the offering complete, as the player records it."""
    when = utcnow() - timedelta(days=days_ago)
    for lesson in lessons_of(enrollment.course):
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=when))
    enrollment.completed_at = when
    db.session.flush()
    return enrollment


def evaluated(enrollment, *, attested: bool = False):
    evaluation = CourseEvaluation(
        enrollment_id=enrollment.id,
        ratings={key: int(value) for key, value in RATINGS.items()},
        comments="Grounding scripts with my Monday group.",
    )
    if attested:
        evaluation.attestation_text = "I attest that I completed it."
        evaluation.attested_at = utcnow()
    db.session.add(evaluation)
    db.session.flush()
    return evaluation


def live_session(course, *, days: float = -7, minutes: int = 100, title: str = "Evening 1"):
    session = LiveSession(
        course=course,
        title=title,
        starts_at=utcnow() + timedelta(days=days),
        time_zone="America/New_York",
        duration_minutes=minutes,
        join_url="https://meet.example.com/room",
    )
    db.session.add(session)
    db.session.flush()
    return session


def attended(enrollment, session, minutes: int):
    row = Attendance(live_session_id=session.id, enrollment_id=enrollment.id, minutes_attended=minutes)
    db.session.add(row)
    db.session.flush()
    return row


def attempt(enrollment, lesson, number: int, score: int, passed: bool, *, days_ago: float = 1):
    row = QuizAttempt(
        enrollment_id=enrollment.id,
        lesson_id=lesson.id,
        attempt_number=number,
        answers={},
        score_percent=score,
        passed=passed,
        submitted_at=utcnow() - timedelta(days=days_ago),
    )
    db.session.add(row)
    db.session.flush()
    return row


def revoke(enrollment):
    access_changes.revoke(enrollment)
