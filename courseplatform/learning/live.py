"""Live sessions as an enrolled learner meets them: when, where to join, and the replay."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Course, LiveSession, utcnow


def upcoming_sessions(course: Course, now: datetime | None = None) -> list[LiveSession]:
    """The offering's sessions that haven't ended yet, soonest first (one query)."""
    now = now or utcnow()
    sessions = db.session.scalars(
        sa.select(LiveSession).where(LiveSession.course_id == course.id).order_by(LiveSession.starts_at)
    ).all()
    return [session for session in sessions if session.ends_at > now]


def join_opens_at(session: LiveSession) -> datetime:
    """From when the join link is shown (UTC)."""
    return session.starts_at - timedelta(minutes=current_app.config["LIVE_JOIN_OPENS_MINUTES"])


def can_join(session: LiveSession, now: datetime | None = None) -> bool:
    """True from a few minutes before the start until the session ends, when it has a link."""
    now = now or utcnow()
    return bool(session.join_url) and join_opens_at(session) <= now < session.ends_at
