"""A learner's way through an offering: which lessons are open, which are done, when the rest open.

Drip: a lesson with `available_after_days = N` opens at the start of the learner's own
day, N days after the day (in their time zone) they enrolled. Sequential offerings open
each lesson once the one before it is complete. A quiz lesson is complete only when a
quiz attempt passes; every other lesson when the learner marks it (or the player does,
at about 90 % of a video). The offering is complete when every lesson is.

Creators and admins see every lesson open; they have no progress of their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cached_property

import sqlalchemy as sa

from ..extensions import db
from ..formatting import zone_or_utc
from ..models import (
    Attendance,
    Enrollment,
    Lesson,
    LessonKind,
    LessonProgress,
    LiveCheckIn,
    LiveSession,
    Offering,
    Section,
    utcnow,
)
from .services import offering_outline


class LessonState(enum.Enum):
    OPEN = "open"
    DONE = "done"
    # Not yet: opens on a date (drip).
    DRIP = "drip"
    # Not yet: opens when the lesson before it is complete.
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class LessonStatus:
    """One lesson as this learner finds it today."""

    lesson: Lesson
    state: LessonState
    # When a drip lesson opens (UTC); shown in the learner's zone.
    opens_at: datetime | None = None
    # The lesson that must be completed first (sequential offerings).
    waiting_for: Lesson | None = None
    progress: LessonProgress | None = None

    @property
    def is_open(self) -> bool:
        return self.state in (LessonState.OPEN, LessonState.DONE)

    @property
    def is_done(self) -> bool:
        return self.state is LessonState.DONE


@dataclass(frozen=True)
class SectionProgress:
    section: Section
    lessons: list[LessonStatus]

    @property
    def done(self) -> int:
        return sum(status.is_done for status in self.lessons)

    @property
    def total(self) -> int:
        return len(self.lessons)

    @property
    def percent(self) -> int:
        return _percent(self.done, self.total)


@dataclass(frozen=True)
class OfferingProgress:
    """The whole outline with this learner's states, and where to pick up again."""

    offering: Offering
    enrollment: Enrollment | None
    sections: list[SectionProgress]
    # The lesson the learner was last in, when it is still open.
    last_visited: LessonStatus | None = None
    _by_id: dict[int, int] = field(default_factory=dict, repr=False)

    @cached_property
    def lessons(self) -> list[LessonStatus]:
        return [status for section in self.sections for status in section.lessons]

    @property
    def done(self) -> int:
        return sum(section.done for section in self.sections)

    @property
    def total(self) -> int:
        return sum(section.total for section in self.sections)

    @property
    def percent(self) -> int:
        return _percent(self.done, self.total)

    @property
    def is_complete(self) -> bool:
        """Complete, and still so: lessons added since keep it open until they are done too."""
        return self.enrollment is not None and self.enrollment.completed_at is not None and self.done >= self.total

    @property
    def resume(self) -> LessonStatus | None:
        """Where "Continue" goes: the last lesson I was in, else the first open one not done, else the first."""
        if self.last_visited is not None and not self.last_visited.is_done:
            return self.last_visited
        lessons = self.lessons
        after = self._by_id[self.last_visited.lesson.id] if self.last_visited is not None else -1
        for status in lessons[after + 1 :] + lessons[: after + 1]:
            if status.state is LessonState.OPEN:
                return status
        return self.last_visited or (lessons[0] if lessons else None)

    def status_of(self, lesson: Lesson) -> LessonStatus:
        return self.lessons[self._by_id[lesson.id]]

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        """The lessons before and after `lesson`, in outline order."""
        lessons = self.lessons
        index = self._by_id[lesson.id]
        previous = lessons[index - 1].lesson if index > 0 else None
        following = lessons[index + 1].lesson if index + 1 < len(lessons) else None
        return previous, following


def _percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def drip_opens_at(enrolled_at: datetime, days: int, zone: str) -> datetime:
    """When a lesson `days` after enrolment opens: the start of that day in the learner's zone (UTC)."""
    tz = zone_or_utc(zone)
    day = enrolled_at.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def offering_progress(
    offering: Offering, enrollment: Enrollment | None, zone: str = "UTC", now: datetime | None = None
) -> OfferingProgress:
    """The outline with each lesson's state for this enrollment (None: a creator or admin), in two queries."""
    now = now or utcnow()
    outline = offering_outline(offering)
    records: dict[int, LessonProgress] = {}
    if enrollment is not None:
        records = {
            record.lesson_id: record
            for record in db.session.scalars(
                sa.select(LessonProgress).where(LessonProgress.enrollment_id == enrollment.id)
            )
        }
    sections: list[SectionProgress] = []
    by_id: dict[int, int] = {}
    previous: LessonStatus | None = None
    for section, lessons in outline:
        statuses = []
        for lesson in lessons:
            status = _status(offering, enrollment, lesson, records.get(lesson.id), previous, zone, now)
            by_id[lesson.id] = len(by_id)
            statuses.append(status)
            previous = status
        sections.append(SectionProgress(section, statuses))
    flat = [status for section in sections for status in section.lessons]
    last_id = _last_visited_id(enrollment, records, by_id)
    last_visited = flat[by_id[last_id]] if last_id is not None else None
    if last_visited is not None and not last_visited.is_open:
        last_visited = None
    return OfferingProgress(offering, enrollment, sections, last_visited, by_id)


def _last_visited_id(
    enrollment: Enrollment | None, records: dict[int, LessonProgress], by_id: dict[int, int]
) -> int | None:
    """The lesson the learner opened last (the lesson page records it), else the one they last watched or finished."""
    if enrollment is None:
        return None
    if enrollment.last_lesson_id in by_id:
        return enrollment.last_lesson_id
    visited = [record for record in records.values() if record.lesson_id in by_id]
    if not visited:
        return None
    return max(visited, key=lambda record: (record.updated_at, record.id)).lesson_id


def _status(
    offering: Offering,
    enrollment: Enrollment | None,
    lesson: Lesson,
    record: LessonProgress | None,
    previous: LessonStatus | None,
    zone: str,
    now: datetime,
) -> LessonStatus:
    if enrollment is None:
        return LessonStatus(lesson, LessonState.OPEN)
    if record is not None and record.completed_at is not None:
        return LessonStatus(lesson, LessonState.DONE, progress=record)
    if lesson.available_after_days:
        opens_at = drip_opens_at(enrollment.enrolled_at, lesson.available_after_days, zone)
        if opens_at > now:
            return LessonStatus(lesson, LessonState.DRIP, opens_at=opens_at, progress=record)
    if offering.sequential and previous is not None and not previous.is_done:
        waiting_for = previous.waiting_for if previous.state is LessonState.SEQUENTIAL else previous.lesson
        return LessonStatus(lesson, LessonState.SEQUENTIAL, waiting_for=waiting_for, progress=record)
    return LessonStatus(lesson, LessonState.OPEN, progress=record)


def complete_lesson(enrollment: Enrollment, lesson: Lesson, now: datetime | None = None) -> bool:
    """Mark a lesson complete for this learner (flushed); True when this completed the whole offering.

    Completing twice keeps the first date. Quiz lessons are completed by a passing attempt.
    """
    now = now or utcnow()
    where = (LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id)
    updated = db.session.execute(
        sa.update(LessonProgress)
        .where(*where, LessonProgress.completed_at.is_(None))
        .values(completed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not updated:
        exists = db.session.scalar(sa.select(LessonProgress.id).where(*where))
        if exists is None:
            try:
                with db.session.begin_nested():
                    db.session.add(
                        LessonProgress(
                            enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=now, updated_at=now
                        )
                    )
            except sa.exc.IntegrityError:
                db.session.execute(
                    sa.update(LessonProgress)
                    .where(*where, LessonProgress.completed_at.is_(None))
                    .values(completed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
    return update_completion(enrollment, now)


def lesson_counts(enrollment: Enrollment) -> tuple[int, int]:
    """(lessons done, lessons in the offering now) for this learner, in one query."""
    total = (
        sa.select(sa.func.count(Lesson.id))
        .join(Section, Lesson.section_id == Section.id)
        .where(Section.offering_id == enrollment.offering_id)
        .scalar_subquery()
    )
    done = (
        sa.select(sa.func.count(LessonProgress.id))
        .join(Lesson, LessonProgress.lesson_id == Lesson.id)
        .join(Section, Lesson.section_id == Section.id)
        .where(
            LessonProgress.enrollment_id == enrollment.id,
            LessonProgress.completed_at.is_not(None),
            Section.offering_id == enrollment.offering_id,
        )
        .scalar_subquery()
    )
    lessons_done, lessons_total = db.session.execute(sa.select(done, total)).one()
    return lessons_done, lessons_total


def content_is_done(lessons_done: int, lessons_total: int) -> bool:
    """Every lesson of the offering as it is now, so lessons added later are needed too."""
    return lessons_total > 0 and lessons_done >= lessons_total


def update_completion(enrollment: Enrollment, now: datetime | None = None) -> bool:
    """Record the date the offering was first complete; True when it became complete just now.

    The date stays when lessons are added later (the certificate still asks for them). Pages
    that find every lesson done with no date yet (a lesson deleted, two last lessons completed
    at once in two tabs) call this again, so nobody is left at 100 % and not complete.
    """
    if enrollment.completed_at is not None:
        return False
    if not content_is_done(*lesson_counts(enrollment)):
        return False
    enrollment.completed_at = now or utcnow()
    db.session.flush()
    return True


def completion_blocker(lesson: Lesson, now: datetime | None = None) -> str | None:
    """Why a learner can't mark this lesson complete themselves, or None when they can."""
    if lesson.kind is LessonKind.QUIZ:
        return "A quiz is completed by passing it."
    if lesson.awaits_session:
        return "This live session hasn't been scheduled yet, so it can't be marked complete."
    session = lesson.live_session if lesson.kind is LessonKind.LIVE else None
    if session is not None and session.ends_at > (now or utcnow()):
        return "You can mark a live session complete once it has taken place."
    return None


def can_mark_complete(lesson: Lesson, now: datetime | None = None) -> bool:
    """Quizzes are completed by passing them, live sessions once they are scheduled and have taken place."""
    return completion_blocker(lesson, now) is None


@dataclass(frozen=True)
class AttendanceSummary:
    """Minutes a learner attended of the offering's live sessions, against the minutes scheduled."""

    attended_minutes: int
    scheduled_minutes: int
    required_percent: int | None

    @property
    def percent(self) -> int:
        if not self.scheduled_minutes:
            return 100
        return min(100, self.attended_minutes * 100 // self.scheduled_minutes)

    @property
    def is_enough(self) -> bool:
        return self.required_percent is None or self.percent >= self.required_percent


def credited_minutes(offering: Offering) -> sa.ColumnElement[int]:
    """The minutes of a live session that count for a learner's certificate under the offering's rules.

    SQL over Attendance joined with its LiveSession (an outer join's missing record credits 0):
    - by default, the minutes attended up to the session's length, so staying late never makes up
      for a missed session;
    - with a grace of N minutes, the whole session for a learner who arrived at most N minutes late,
      left at most N early and was away at most N in between (a typed figure: missed at most N in
      all), and nothing otherwise, nor for anyone who wasn't there at all;
    - with check-in required, nothing for a session whose code was shown but never entered.
    """
    duration, minutes = LiveSession.duration_minutes, Attendance.minutes_attended
    grace = offering.attendance_grace_minutes
    counted: sa.ColumnElement[int]
    if grace is None:
        counted = sa.case((minutes < duration, minutes), else_=duration)
    else:
        timed = sa.and_(
            Attendance.late_minutes.is_not(None),
            Attendance.late_minutes < duration,  # joined before the end
            Attendance.late_minutes <= grace,
            Attendance.early_minutes <= grace,
            Attendance.away_minutes <= grace,
        )
        typed = sa.and_(Attendance.late_minutes.is_(None), duration - minutes <= grace)
        # Someone who wasn't there earns nothing, however long the allowance.
        counted = sa.case((sa.and_(minutes > 0, sa.or_(timed, typed)), duration), else_=0)
    nothing: list[tuple[sa.ColumnElement[bool], int]] = [(Attendance.id.is_(None), 0)]
    if offering.checkin_required:
        checked_in = sa.exists().where(
            LiveCheckIn.live_session_id == LiveSession.id, LiveCheckIn.enrollment_id == Attendance.enrollment_id
        )
        nothing.append((sa.and_(LiveSession.checkin_code.is_not(None), ~checked_in), 0))
    return sa.case(*nothing, else_=counted)


def credit_notes(offering: Offering, session: LiveSession, record: Attendance | None, checked_in: bool) -> list[str]:
    """Why a session earns a learner nothing under `credited_minutes`, in the creator's words ([] when it counts)."""
    if record is None:
        return []
    notes: list[str] = []
    if offering.checkin_required and session.checkin_code is not None and not checked_in:
        notes.append("didn't check in")
    grace = offering.attendance_grace_minutes
    absent = record.minutes_attended == 0 or (
        record.late_minutes is not None and record.late_minutes >= session.duration_minutes
    )
    if grace is not None and absent:
        notes.append("didn't attend")
    elif grace is not None:
        if record.late_minutes is None:
            missed = [(session.duration_minutes - record.minutes_attended, "missed {} min")]
        else:
            missed = [
                (record.late_minutes, "joined {} min late"),
                (record.early_minutes, "left {} min early"),
                (record.away_minutes or 0, "away {} min in between"),
            ]
        beyond = [words.format(value) for value, words in missed if value is not None and value > grace]
        if beyond:
            notes.append(f"{', '.join(beyond)} ({grace} min allowed)")
    return notes


def attendance_summary(enrollment: Enrollment) -> AttendanceSummary:
    """The learner's live attendance across every session of the offering (one query), as `credited_minutes`."""
    offering = enrollment.offering
    counted = credited_minutes(offering)
    attended = (
        sa.select(sa.func.coalesce(sa.func.sum(counted), 0))
        .select_from(Attendance)
        .join(LiveSession, Attendance.live_session_id == LiveSession.id)
        .where(Attendance.enrollment_id == enrollment.id, LiveSession.offering_id == offering.id)
        .scalar_subquery()
    )
    scheduled = (
        sa.select(sa.func.coalesce(sa.func.sum(LiveSession.duration_minutes), 0))
        .where(LiveSession.offering_id == offering.id)
        .scalar_subquery()
    )
    attended_minutes, scheduled_minutes = db.session.execute(sa.select(attended, scheduled)).one()
    return AttendanceSummary(int(attended_minutes), int(scheduled_minutes), offering.min_attendance_percent)
