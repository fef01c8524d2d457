"""Queries for the public shop window."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Course, CourseStatus, CreatorProfile, Lesson, LiveSession, Section


def published_courses(limit: int | None = None) -> list[Course]:
    """Published offerings, newest first, with creator and topics loaded in the same round trips."""
    query = (
        sa.select(Course)
        .where(Course.status == CourseStatus.PUBLISHED)
        .options(selectinload(Course.creator).selectinload(CreatorProfile.user), selectinload(Course.topics))
        .order_by(Course.published_at.desc(), Course.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def course_for_page(slug: str) -> Course | None:
    """A published or archived offering with its outline and live sessions, loaded up front."""
    query = (
        sa.select(Course)
        .where(Course.slug == slug, Course.status != CourseStatus.DRAFT)
        .options(
            selectinload(Course.creator).selectinload(CreatorProfile.user),
            selectinload(Course.sections).selectinload(Section.lessons).selectinload(Lesson.media_asset),
            selectinload(Course.live_sessions),
            selectinload(Course.topics),
        )
    )
    return db.session.scalar(query)


def upcoming_sessions(course: Course) -> list[LiveSession]:
    return [s for s in course.live_sessions if s.is_upcoming()]


def storefront(slug: str) -> tuple[CreatorProfile | None, list[Course]]:
    profile = db.session.scalar(
        sa.select(CreatorProfile).where(CreatorProfile.slug == slug).options(selectinload(CreatorProfile.user))
    )
    if profile is None:
        return None, []
    courses = db.session.scalars(
        sa.select(Course)
        .where(Course.creator_id == profile.id, Course.status == CourseStatus.PUBLISHED)
        .options(selectinload(Course.topics))
        .order_by(Course.published_at.desc())
    )
    return profile, list(courses)
