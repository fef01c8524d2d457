"""A learner's offerings, the outline of one, and where they stopped, computed in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from ..extensions import db
from ..models import (
    CreatorProfile,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonProgress,
    Offering,
    Section,
    User,
    utcnow,
)


@dataclass(frozen=True)
class LearnerOffering:
    enrollment: Enrollment
    lessons_total: int
    lessons_done: int

    @property
    def percent(self) -> int:
        return round(100 * self.lessons_done / self.lessons_total) if self.lessons_total else 0


def my_offerings(user: User) -> list[LearnerOffering]:
    """My active enrollments with lessons done out of lessons total, in one query."""
    total = (
        sa.select(sa.func.count(Lesson.id))
        .join(Section, Lesson.section_id == Section.id)
        .where(Section.offering_id == Enrollment.offering_id)
        .scalar_subquery()
    )
    done = (
        sa.select(sa.func.count(LessonProgress.id))
        .where(LessonProgress.enrollment_id == Enrollment.id, LessonProgress.completed_at.is_not(None))
        .scalar_subquery()
    )
    rows: Iterable[tuple[Enrollment, int, int]] = db.session.execute(
        sa.select(Enrollment, total, done)
        .where(Enrollment.user_id == user.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .options(selectinload(Enrollment.offering).selectinload(Offering.creator).selectinload(CreatorProfile.user))
        .order_by(Enrollment.enrolled_at.desc())
    )
    return [LearnerOffering(e, t, d) for e, t, d in rows]


def offering_outline(offering: Offering) -> list[tuple[Section, list[Lesson]]]:
    """The offering's sections with their lessons, in order, in one query."""
    lessons = db.session.scalars(
        sa.select(Lesson)
        .join(Lesson.section)
        .where(Section.offering_id == offering.id)
        .options(contains_eager(Lesson.section))
        .order_by(Section.position, Section.id, Lesson.position, Lesson.id)
    ).all()
    outline: dict[int, tuple[Section, list[Lesson]]] = {}
    for lesson in lessons:
        outline.setdefault(lesson.section_id, (lesson.section, []))[1].append(lesson)
    return list(outline.values())


def save_position(enrollment: Enrollment, lesson: Lesson, seconds: int) -> None:
    """Remember the learner's place in a lesson (flushed); two tabs saving at once both succeed."""
    values = {"position_seconds": seconds, "updated_at": utcnow()}
    where = (LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id)
    if db.session.execute(sa.update(LessonProgress).where(*where).values(**values)).rowcount:  # type: ignore[attr-defined]  # scoped_session.execute lacks the CursorResult overload
        return
    try:
        with db.session.begin_nested():
            db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, **values))
    except sa.exc.IntegrityError:
        db.session.execute(sa.update(LessonProgress).where(*where).values(**values))


def record_visit(enrollment: Enrollment, lesson: Lesson) -> bool:
    """Remember the lesson the learner opened last, so "Continue" brings them back to it (flushed when it changed)."""
    if enrollment.last_lesson_id == lesson.id:
        return False
    enrollment.last_lesson_id = lesson.id
    db.session.flush()
    return True
