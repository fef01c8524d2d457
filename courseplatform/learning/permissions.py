"""Who may open an offering's pages, a lesson and its files.

The owner and admins open every lesson; a learner opens the lessons of an offering
they hold an active enrollment in (whatever the offering's status, so archiving
never takes away what was paid for); anyone opens a free-preview lesson of an
offering that has been published (archived ones too, as the catalog shows). Nobody else, whatever ids they guess.

What a learner may open *inside* an offering (drip dates, sequential order) is decided by
`progress.offering_progress`; the views combine the two.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload, undefer

from ..extensions import db
from ..models import Enrollment, EnrollmentStatus, Lesson, Offering, OfferingStatus, Section, User


class Viewer(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    LEARNER = "learner"
    PREVIEW = "preview"


@dataclass(frozen=True)
class LessonAccess:
    """Why the current user may open a lesson, with their enrollment when they are a learner."""

    viewer: Viewer
    enrollment: Enrollment | None = None


@dataclass(frozen=True)
class OfferingAccess:
    """Why the current user may open an offering's outline, with their enrollment when they are a learner."""

    offering: Offering
    viewer: Viewer
    enrollment: Enrollment | None = None


def offering_access(user: User, slug: str) -> OfferingAccess | None:
    """How `user` may open the offering named by `slug` (its creator loaded), or None (two queries at most).

    Owners and admins open it whatever its status; learners need an active enrollment.
    """
    offering = db.session.scalar(sa.select(Offering).where(Offering.slug == slug).options(joinedload(Offering.creator)))
    if offering is None or not user.is_authenticated:
        return None
    if user.is_admin:
        return OfferingAccess(offering, Viewer.ADMIN)
    profile = user.creator_profile
    if profile is not None and profile.id == offering.creator_id:
        return OfferingAccess(offering, Viewer.OWNER)
    enrollment = active_enrollment(user, offering)
    if enrollment is None:
        return None
    return OfferingAccess(offering, Viewer.LEARNER, enrollment)


def find_lesson(slug: str, lesson_id: int) -> Lesson | None:
    """A lesson of the offering named by `slug`, with its section, offering and files loaded."""
    return db.session.scalar(
        sa.select(Lesson)
        .join(Lesson.section)
        .join(Section.offering)
        .where(Lesson.id == lesson_id, Offering.slug == slug)
        .options(
            contains_eager(Lesson.section).contains_eager(Section.offering),
            joinedload(Lesson.media_asset),
            joinedload(Lesson.captions_asset),
            undefer(Lesson.body_html),
        )
    )


def lesson_access(user: User, lesson: Lesson) -> LessonAccess | None:
    """How `user` may open `lesson`, or None when they may not (one query at most)."""
    offering = lesson.section.offering
    if user.is_authenticated:
        if user.is_admin:
            return LessonAccess(Viewer.ADMIN)
        profile = user.creator_profile
        if profile is not None and profile.id == offering.creator_id:
            return LessonAccess(Viewer.OWNER)
        enrollment = active_enrollment(user, offering)
        if enrollment is not None:
            return LessonAccess(Viewer.LEARNER, enrollment)
    if lesson.is_preview and offering.status is not OfferingStatus.DRAFT:
        return LessonAccess(Viewer.PREVIEW)
    return None


def active_enrollment(user: User, offering: Offering) -> Enrollment | None:
    """The user's enrollment in the offering if it gives access now (not suspended or revoked)."""
    return db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.user_id == user.id,
            Enrollment.offering_id == offering.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )


def ended_enrollment(user: User, slug: str) -> Enrollment | None:
    """The user's enrollment in the offering when it no longer gives access (paused, refunded, revoked)."""
    if not user.is_authenticated:
        return None
    return db.session.scalar(
        sa.select(Enrollment)
        .join(Offering, Offering.id == Enrollment.offering_id)
        .where(Offering.slug == slug, Enrollment.user_id == user.id, Enrollment.status != EnrollmentStatus.ACTIVE)
        .options(contains_eager(Enrollment.offering).joinedload(Offering.creator))
    )
