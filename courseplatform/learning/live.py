"""Live sessions as an enrolled learner meets them: when, where to join, the calendar file, and the replay.

The meeting's own join URL never appears in a page, an e-mail or a calendar file: they
all link to `/learn/<slug>/sessions/<id>/join`, which checks the enrollment and the time
on every click and only then redirects to the meeting. So a page saved or forwarded
before the join window opens gives nothing away.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from icalendar import Alarm, Calendar, Event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..links import absolute_url, learn_url
from ..models import (
    Enrollment,
    Lesson,
    LessonKind,
    LiveCheckIn,
    LiveSession,
    MediaAsset,
    MediaStatus,
    Offering,
    Section,
    User,
    utcnow,
)
from .permissions import Viewer, active_enrollment


def upcoming_sessions(offering: Offering, now: datetime | None = None) -> list[LiveSession]:
    """The offering's sessions that haven't ended yet, soonest first (one query)."""
    now = now or utcnow()
    sessions = db.session.scalars(
        sa.select(LiveSession).where(LiveSession.offering_id == offering.id).order_by(LiveSession.starts_at)
    ).all()
    return [session for session in sessions if session.ends_at > now]


# ---------------------------------------------------------------------------
# Check-in codes: the presenter shows a code during the session, learners enter it on the lesson page

CHECKIN_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B to misread off a screen
CHECKIN_LENGTH = 6
# Entered up to this long after the session's scheduled end (the code may be shown at the very end).
CHECKIN_AFTER_END = timedelta(minutes=30)


def new_checkin_code() -> str:
    return "".join(secrets.choice(CHECKIN_ALPHABET) for _ in range(CHECKIN_LENGTH))


def checkin_closes_at(session: LiveSession) -> datetime:
    """When learners can no longer check in (a session at the end of time never closes)."""
    try:
        return session.ends_at + CHECKIN_AFTER_END
    except OverflowError:
        return session.ends_at


def checkin_is_over(session: LiveSession, now: datetime | None = None) -> bool:
    """True once nobody can check in any more: a code created now would only deny credit to those who came."""
    return (now or utcnow()) >= checkin_closes_at(session)


def checkin_is_open(session: LiveSession, now: datetime | None = None) -> bool:
    """True while a learner may enter the session's code: from the join window until a while after the end."""
    now = now or utcnow()
    return session.checkin_code is not None and join_opens_at(session) <= now < checkin_closes_at(session)


def checked_in(enrollment: Enrollment, session: LiveSession) -> bool:
    return db.session.scalar(
        sa.select(
            sa.exists().where(LiveCheckIn.live_session_id == session.id, LiveCheckIn.enrollment_id == enrollment.id)
        )
    )


class CheckInRefused(ValueError):
    """A code that can't be taken, with the reason in the learner's words."""


def check_in(enrollment: Enrollment, session: LiveSession, code: str, now: datetime | None = None) -> bool:
    """Record the learner's check-in when `code` is the session's (flushed); False when they already had.

    Spaces, dashes and case don't matter. Raises CheckInRefused outside the session or for a wrong code.
    """
    now = now or utcnow()
    if not checkin_is_open(session, now):
        if session.checkin_code is None and not checkin_is_over(session, now):
            raise CheckInRefused("The check-in code hasn't been shown yet. Enter it when the presenter shows it.")
        raise CheckInRefused("Check-in is open only during the session.")
    typed = re.sub(r"[\s-]", "", code or "").upper()[:40]
    if not hmac.compare_digest(typed.encode(), (session.checkin_code or "").encode()):
        raise CheckInRefused("That isn't the code shown in the session. Check it and try again.")
    if checked_in(enrollment, session):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(LiveCheckIn(live_session_id=session.id, enrollment_id=enrollment.id, checked_in_at=now))
    except IntegrityError:  # the same learner, twice at once
        return False
    return True


def join_opens_at(session: LiveSession) -> datetime:
    """From when the join link is shown (UTC)."""
    return session.starts_at - timedelta(minutes=current_app.config["LIVE_JOIN_OPENS_MINUTES"])


def can_join(session: LiveSession, now: datetime | None = None) -> bool:
    """True from a few minutes before the start until the session ends, when it has a link."""
    now = now or utcnow()
    return bool(session.join_url) and join_opens_at(session) <= now < session.ends_at


@dataclass(frozen=True)
class JoinWindow:
    """Where a session stands for a learner at one moment: join link not yet shown, shown, or over."""

    session: LiveSession
    now: datetime
    opens_at: datetime

    @property
    def lead_minutes(self) -> int:
        return round((self.session.starts_at - self.opens_at).total_seconds() / 60)

    @property
    def is_before(self) -> bool:
        return self.now < self.opens_at

    @property
    def is_open(self) -> bool:
        return self.opens_at <= self.now < self.session.ends_at

    @property
    def is_over(self) -> bool:
        return self.now >= self.session.ends_at

    @property
    def is_live(self) -> bool:
        return self.session.starts_at <= self.now < self.session.ends_at

    @property
    def can_join(self) -> bool:
        return self.is_open and bool(self.session.join_url)


def join_window(session: LiveSession, now: datetime | None = None) -> JoinWindow:
    """The join window of a session as it stands `now` (for templates: `join_window(s, now)`)."""
    return JoinWindow(session, now or utcnow(), join_opens_at(session))


# ---------------------------------------------------------------------------
# Who may see a session's join link, calendar file and replay


def find_live_session(slug: str, session_id: int) -> LiveSession | None:
    """A session of the offering named by `slug`, with its offering loaded (one query)."""
    return db.session.scalar(
        sa.select(LiveSession)
        .join(LiveSession.offering)
        .where(LiveSession.id == session_id, Offering.slug == slug)
        .options(contains_eager(LiveSession.offering))
    )


def find_offering(slug: str) -> Offering | None:
    """The offering named by `slug`."""
    return db.session.scalar(sa.select(Offering).where(Offering.slug == slug))


def live_viewer(user: User, offering: Offering) -> Viewer | None:
    """Why `user` may see the offering's join links, calendar and replays, or None (one query at most).

    Enrolled learners with access now; the owner and admins, to preview what learners get.
    """
    if not user.is_authenticated:
        return None
    if user.is_admin:
        return Viewer.ADMIN
    profile = user.creator_profile
    if profile is not None and profile.id == offering.creator_id:
        return Viewer.OWNER
    if active_enrollment(user, offering) is not None:
        return Viewer.LEARNER
    return None


def replay_of(session: LiveSession) -> MediaAsset | None:
    """The session's recording when one is attached and ready to play."""
    if session.replay_asset_id is None:
        return None
    asset = db.session.get(MediaAsset, session.replay_asset_id)
    return asset if asset is not None and asset.status is MediaStatus.READY else None


def sessions_with_replays(offering: Offering, now: datetime | None = None) -> list[LiveSession]:
    """The offering's ended sessions that have a recording, latest first (one query)."""
    now = now or utcnow()
    sessions = db.session.scalars(
        sa.select(LiveSession)
        .join(MediaAsset, MediaAsset.id == LiveSession.replay_asset_id)
        .where(LiveSession.offering_id == offering.id, MediaAsset.status == MediaStatus.READY)
        .order_by(LiveSession.starts_at.desc())
    ).all()
    return [session for session in sessions if session.ends_at <= now]


def session_lessons(offering_ids: list[int]) -> dict[int, int]:
    """For each live session of these offerings, the first live lesson that presents it (one query)."""
    if not offering_ids:
        return {}
    rows = db.session.execute(
        sa.select(Lesson.live_session_id, Lesson.id)
        .join(Section, Lesson.section_id == Section.id)
        .where(
            Section.offering_id.in_(offering_ids),
            Lesson.kind == LessonKind.LIVE,
            Lesson.live_session_id.is_not(None),
        )
        .order_by(Section.position, Section.id, Lesson.position, Lesson.id)
    )
    lessons: dict[int, int] = {}
    for session_id, lesson_id in rows:
        lessons.setdefault(session_id, lesson_id)
    return lessons


# ---------------------------------------------------------------------------
# Links for e-mails and calendar files (no request needed: the reminders run from cron)


def session_page_url(offering: Offering, session: LiveSession, lessons: dict[int, int]) -> str:
    """Where a learner meets the session: its live lesson, else the offering's outline."""
    lesson_id = lessons.get(session.id)
    if lesson_id is not None:
        return absolute_url("learning.lesson", slug=offering.slug, lesson_id=lesson_id)
    return learn_url(offering)


def calendar_url(offering: Offering, session: LiveSession) -> str:
    """The session's calendar file, for e-mails."""
    return absolute_url("learning.session_calendar", slug=offering.slug, session_id=session.id)


def join_url_for(offering: Offering, session: LiveSession) -> str:
    """Aqueduct's join link: it checks who clicks and when, then redirects to the meeting."""
    return absolute_url("learning.join_session", slug=offering.slug, session_id=session.id)


# ---------------------------------------------------------------------------
# Calendar files (.ics)


def session_uid(session: LiveSession) -> str:
    """A calendar UID that stays the same for a session, so a moved session updates the old entry."""
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "aqueduct"
    return f"live-session-{session.id}@{host}"


def calendar_file(offering: Offering, sessions: list[LiveSession], now: datetime | None = None) -> bytes:
    """An iCalendar file with one event per session, in UTC, linking to where each is joined.

    The meeting's URL is not in the file: LOCATION is Aqueduct's join link, which works
    from the join window on and only for someone with access. Each download is the
    current version (DTSTAMP now, SEQUENCE 0), so re-importing a moved session replaces
    the old entry in calendars that keep the UID.
    """
    now = now or utcnow()
    lead = current_app.config["LIVE_JOIN_OPENS_MINUTES"]
    lessons = session_lessons([offering.id])
    creator = offering.creator.display_name
    calendar = Calendar()
    calendar.add("prodid", "-//Aqueduct//Live workshops//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", offering.title)
    for session in sessions:
        page = session_page_url(offering, session, lessons)
        event = Event()
        event.add("uid", session_uid(session))
        event.add("dtstamp", now)
        event.add("sequence", 0)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", f"{offering.title}: {session.title}" if session.title else offering.title)
        event.add(
            "description",
            f"A live session of {offering.title} with {creator}.\n\n"
            f"Join from this page; the join link appears there {lead} minutes before the start:\n{page}",
        )
        event.add("location", join_url_for(offering, session))
        event.add("url", page)
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{offering.title} starts in {lead} minutes: the join link is open.")
        alarm.add("trigger", timedelta(minutes=-lead))
        event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()
