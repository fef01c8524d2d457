"""Live workshops: sessions at a time, the live lessons that present them, attendance, and their learners."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory

from courseplatform.extensions import db
from courseplatform.models import (
    Attendance,
    EnrollmentStatus,
    Lesson,
    LessonKind,
    LiveSession,
    OfferingKind,
    User,
    utcnow,
)

from .accounts import UserFactory
from .base import PASSWORD, Base
from .catalog import LessonFactory, OfferingFactory, SectionFactory
from .enrollments import EnrollmentFactory

JOIN_URL = "https://meet.example.com/secret-room-4417"


class LiveSessionFactory(Base):
    class Meta:
        model = LiveSession

    offering = factory.SubFactory(OfferingFactory, kind=OfferingKind.LIVE_WORKSHOP)
    title = "Evening 1"
    starts_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=7))
    time_zone = "America/New_York"
    duration_minutes = 90
    capacity = 20
    join_url = "https://meet.example.com/secret-room"


class AttendanceFactory(Base):
    class Meta:
        model = Attendance

    minutes_attended = 90


def live_session(offering, *, days: float = 7, capacity: int | None = 20, zone: str = "America/New_York", **kw):
    """A session of `offering` in `days` days (unless `starts_at` is given)."""
    kw.setdefault("starts_at", utcnow() + timedelta(days=days))
    return LiveSessionFactory(offering=offering, capacity=capacity, time_zone=zone, **kw)


def workshop(**offering_fields):
    """A published live workshop with one section for its live lessons."""
    offering_fields.setdefault("title", "Couples in Crisis")
    offering = OfferingFactory(kind=OfferingKind.LIVE_WORKSHOP, **offering_fields)
    SectionFactory(offering=offering, title="Live sessions", position=0)
    db.session.flush()
    return offering


def session_in(
    offering, *, starts_at: datetime | None = None, minutes_from_now: float | None = None, lesson: bool = True, **fields
) -> tuple[LiveSession, Lesson | None]:
    """A session of `offering` (at `starts_at`, or so many minutes from now), with a live lesson presenting it."""
    if starts_at is None:
        starts_at = utcnow() + timedelta(minutes=minutes_from_now if minutes_from_now is not None else 7 * 24 * 60)
    fields.setdefault("join_url", JOIN_URL)
    session = live_session(offering, starts_at=starts_at, **fields)
    page = None
    if lesson:
        page = LessonFactory(
            section=offering.sections[0], kind=LessonKind.LIVE, title=f"{session.title}: live", live_session=session
        )
    db.session.flush()
    return session, page


def learner(offering, *, time_zone: str = "America/New_York", revoked: bool = False, **user_fields) -> User:
    """Someone enrolled in `offering` (their access revoked when asked)."""
    user = UserFactory(time_zone=time_zone, **user_fields)
    EnrollmentFactory(
        user=user, offering=offering, status=EnrollmentStatus.REVOKED if revoked else EnrollmentStatus.ACTIVE
    )
    db.session.flush()
    return user


def sign_in(web, user: User) -> None:
    web.login(user.email, PASSWORD)
