"""Reminder e-mails a day before each live session (`flask send-reminders`, run from cron).

Every run e-mails the active learners of each session starting within the next 24 hours
that hasn't had its reminder yet, then marks the session with `reminder_sent_at`. A
second run (or two at once) finds nothing left to send: the sessions are locked with
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so a concurrent run skips them. The
messages go out only once the run commits. Moving a session clears `reminder_sent_at`
(in the studio), so learners hear about the new time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import contains_eager, selectinload

from ..extensions import db
from ..formatting import format_date
from ..integrations.mail import send_after_commit
from ..models import Enrollment, EnrollmentStatus, LiveSession, Offering, User, utcnow
from .live import calendar_url, join_opens_at, session_lessons, session_page_url

REMINDER_AHEAD = timedelta(hours=24)


@dataclass(frozen=True)
class ReminderRun:
    """What one run sent: how many sessions were announced, in how many messages."""

    sessions: int
    messages: int


def sessions_due(now: datetime) -> list[LiveSession]:
    """Sessions starting within the next day whose reminder hasn't gone out, locked for this run."""
    return list(
        db.session.scalars(
            sa.select(LiveSession)
            .where(
                LiveSession.reminder_sent_at.is_(None),
                LiveSession.starts_at > now,
                LiveSession.starts_at <= now + REMINDER_AHEAD,
            )
            .order_by(LiveSession.starts_at, LiveSession.id)
            .with_for_update(skip_locked=True)
            .options(selectinload(LiveSession.offering).selectinload(Offering.creator))
        )
    )


def send_reminders(now: datetime | None = None) -> ReminderRun:
    """Queue a reminder to every active learner of each session due, and mark the sessions (flushed).

    The caller commits; the e-mails leave after the commit (a rolled-back run sends nothing).
    """
    now = now or utcnow()
    sessions = sessions_due(now)
    if not sessions:
        return ReminderRun(0, 0)
    offering_ids = sorted({session.offering_id for session in sessions})
    learners: dict[int, list[User]] = {offering_id: [] for offering_id in offering_ids}
    for enrollment in db.session.scalars(
        sa.select(Enrollment)
        .join(Enrollment.user)
        .where(Enrollment.offering_id.in_(offering_ids), Enrollment.status == EnrollmentStatus.ACTIVE)
        .options(contains_eager(Enrollment.user))
        .order_by(Enrollment.id)
    ):
        learners[enrollment.offering_id].append(enrollment.user)
    lessons = session_lessons(offering_ids)
    messages = 0
    for session in sessions:
        for user in learners[session.offering_id]:
            _queue_reminder(session, user, lessons, now)
            messages += 1
        session.reminder_sent_at = now
    db.session.flush()
    return ReminderRun(len(sessions), messages)


def _queue_reminder(session: LiveSession, user: User, lessons: dict[int, int], now: datetime) -> None:
    offering = session.offering
    zone = user.time_zone or "UTC"
    when = format_date(session.starts_at, zone, "%A, %B %-d at %-I:%M %p %Z")
    send_after_commit(
        user.email,
        f"Reminder: {offering.title} meets {when}",
        render_template(
            "learning/email/reminder.txt",
            user=user,
            offering=offering,
            session=session,
            zone=zone,
            lead_minutes=current_app.config["LIVE_JOIN_OPENS_MINUTES"],
            join_open=join_opens_at(session) <= now,
            page_link=session_page_url(offering, session, lessons),
            calendar_link=calendar_url(offering, session),
        ),
    )
