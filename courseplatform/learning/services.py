"""A learner's offerings and progress, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from ..extensions import db
from ..models import (
    Course,
    CreatorProfile,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonProgress,
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


def course_outline(course: Course) -> list[tuple[Section, list[Lesson]]]:
    """The offering's sections with their lessons, in order, in one query."""
    lessons = db.session.scalars(
        sa.select(Lesson)
        .join(Lesson.section)
        .where(Section.course_id == course.id)
        .options(contains_eager(Lesson.section))
        .order_by(Section.position, Section.id, Lesson.position, Lesson.id)
    ).all()
    outline: dict[int, tuple[Section, list[Lesson]]] = {}
    for lesson in lessons:
        outline.setdefault(lesson.section_id, (lesson.section, []))[1].append(lesson)
    return list(outline.values())


def saved_position(enrollment: Enrollment, lesson: Lesson) -> int:
    """Where the learner stopped in this lesson's video or audio, in seconds (0 when new)."""
    return (
        db.session.scalar(
            sa.select(LessonProgress.position_seconds).where(
                LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id
            )
        )
        or 0
    )


def save_position(enrollment: Enrollment, lesson: Lesson, seconds: int) -> None:
    """Remember the learner's place in a lesson (flushed); two tabs saving at once both succeed."""
    values = {"position_seconds": seconds, "updated_at": utcnow()}
    where = (LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id)
    if db.session.execute(sa.update(LessonProgress).where(*where).values(**values)).rowcount:
        return
    try:
        with db.session.begin_nested():
            db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, **values))
    except sa.exc.IntegrityError:
        db.session.execute(sa.update(LessonProgress).where(*where).values(**values))


def resume_lesson(user: User, slug: str) -> tuple[Course, Lesson | None] | None:
    """The offering named by `slug` and the lesson to open in it (where I left off, else the first).

    None when the offering doesn't exist or the user may not open it (not enrolled, not its creator).
    """
    course = db.session.scalar(sa.select(Course).where(Course.slug == slug))
    if course is None:
        return None
    profile = user.creator_profile
    enrollment = None
    if not (user.is_admin or (profile is not None and profile.id == course.creator_id)):
        enrollment = db.session.scalar(
            sa.select(Enrollment).where(
                Enrollment.user_id == user.id,
                Enrollment.course_id == course.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
        if enrollment is None:
            return None
    last_visited = (
        sa.select(LessonProgress.lesson_id)
        .where(LessonProgress.enrollment_id == enrollment.id)
        .order_by(LessonProgress.updated_at.desc(), LessonProgress.id.desc())
        .limit(1)
        .scalar_subquery()
        if enrollment is not None
        else sa.null()
    )
    lesson = db.session.scalar(
        sa.select(Lesson)
        .join(Lesson.section)
        .where(Section.course_id == course.id)
        .order_by(
            (Lesson.id == sa.func.coalesce(last_visited, enrollment.last_lesson_id if enrollment else None)).desc(),
            Section.position,
            Section.id,
            Lesson.position,
            Lesson.id,
        )
        .limit(1)
    )
    return course, lesson
