"""A learner's offerings and progress, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Course, CreatorProfile, Enrollment, EnrollmentStatus, Lesson, LessonProgress, Section, User


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
        .where(Section.course_id == Enrollment.course_id)
        .scalar_subquery()
    )
    done = (
        sa.select(sa.func.count(LessonProgress.id))
        .where(LessonProgress.enrollment_id == Enrollment.id, LessonProgress.completed_at.is_not(None))
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Enrollment, total, done)
        .where(Enrollment.user_id == user.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .options(selectinload(Enrollment.course).selectinload(Course.creator).selectinload(CreatorProfile.user))
        .order_by(Enrollment.enrolled_at.desc())
    )
    return [LearnerOffering(e, t, d) for e, t, d in rows]
