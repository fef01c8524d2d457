"""Continuing education and certificates: a CE offering, a learner at a given step, attendance, quiz attempts."""

from __future__ import annotations

import math
from datetime import timedelta

import factory

from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.models import (
    DEFAULT_STATEMENTS,
    AccreditingBody,
    CECategory,
    CEClaim,
    InstructionalLevel,
    LessonKind,
    LessonProgress,
    OfferingEvaluation,
    OfferingStatus,
    ProviderApproval,
    QuizAttempt,
    QuizChoice,
    QuizQuestion,
    utcnow,
)

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


class ProviderApprovalFactory(Base):
    """An approval by `body` (ASWB by default) for every format, running from last year to next year."""

    class Meta:
        model = ProviderApproval

    creator = factory.SubFactory(CreatorProfileFactory)
    body = AccreditingBody.ASWB
    provider_number = factory.Sequence(lambda n: f"{1000 + n}")
    approved_from = factory.LazyFunction(lambda: utcnow().date() - timedelta(days=365))
    approved_until = factory.LazyFunction(lambda: utcnow().date() + timedelta(days=365))
    live_in_person = True
    live_webinar = True
    self_paced = True
    statement = factory.LazyAttribute(lambda o: DEFAULT_STATEMENTS[o.body])


CE_POLICIES = {
    "ce_refund_policy": "Full refund until you open the first lesson.",
    "ce_grievance_policy": "Write to us; we answer within 14 days.",
    "ce_accommodation_policy": "Ask for captions, transcripts or extra time: we arrange them.",
}


def approved_program(*bodies: AccreditingBody, hours: float = 3, questions: int | None = None, **kw):
    """A draft self-paced offering that meets every rule of `bodies` (ASWB and NBCC unless given): the creator
    is approved by each, every detail is filled in, and its post-test has NASW's number of questions."""
    bodies = bodies or (AccreditingBody.ASWB, AccreditingBody.NBCC)
    creator = kw.pop("creator", None) or CreatorProfileFactory(
        display_name="Dana Reyes", credentials="LCSW", **CE_POLICIES
    )
    held = {approval.body for approval in db.session.query(ProviderApproval).filter_by(creator_id=creator.id)}
    for body in bodies:
        if body not in held:
            ProviderApprovalFactory(creator=creator, body=body)
    kw.setdefault("status", OfferingStatus.DRAFT)
    kw.setdefault("published_at", None)
    offering = OfferingFactory(
        creator=creator,
        ce_minutes=round(hours * 60),
        ce_level=InstructionalLevel.INTERMEDIATE,
        ce_category=CECategory.CLINICAL,
        ce_audience="Licensed social workers, counselors and MFTs",
        ce_objectives="Describe three grounding techniques\nApply a window-of-tolerance check\nPlan a first session",
        ce_presenters="Dana Reyes, LCSW",
        ce_disclosure="None.",
        **kw,
    )
    for body in bodies:
        db.session.add(CEClaim(offering=offering, body=body))
    section = SectionFactory(offering=offering, title="Foundations")
    LessonFactory(section=section, position=0, title="Grounding")
    quiz = LessonFactory(section=section, position=1, title="Post-test", kind=LessonKind.QUIZ, quiz_pass_percent=80)
    for n in range(questions if questions is not None else 10 + 5 * max(0, math.ceil(hours) - 1)):
        question = QuizQuestion(lesson=quiz, prompt=f"Question {n + 1}", position=n)
        question.choices = [QuizChoice(text=text, is_correct=text == "A", position=i) for i, text in enumerate("ABC")]
        db.session.add(question)
    db.session.flush()
    return offering
