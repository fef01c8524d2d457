"""Waitlists: who asked to hear about an offering, telling them once when a place is really open,
and the creator's export."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..downloads import spreadsheet_safe
from ..extensions import db
from ..integrations.mail import send_after_commit
from ..links import absolute_url
from ..models import Course, CourseKind, User, WaitlistEntry, utcnow
from .seats import is_buyable

# Why the list is being told, and what the message says.
REASONS = {
    "open": ("{title} is open", "Good news: {title} by {creator} is now open, and you asked us to tell you."),
    "seat": ("A seat opened in {title}", "A seat has just opened in {title} by {creator}, and you asked to hear."),
}


def join_waitlist(course: Course, email: str) -> bool:
    """Put an address on an offering's waitlist once; False when it was already there (in any case)."""
    email = User.normalize_email(email)
    exists = sa.select(WaitlistEntry.id).where(WaitlistEntry.course_id == course.id, WaitlistEntry.email == email)
    if db.session.scalar(exists) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(WaitlistEntry(course_id=course.id, email=email))
    except IntegrityError:
        # Someone joined with the same address between the check and the insert.
        return False
    return True


def course_url(course: Course) -> str:
    """The offering's public page as an absolute link, for e-mails (no request needed)."""
    return absolute_url("catalog.course", slug=course.slug)


def offer_open_seats(course: Course) -> int:
    """A seat may have come free (access ended, a checkout let go, a date added, a limit raised):
    tell the waitlist, but only if a visitor could really sign up now."""
    if course.kind is not CourseKind.LIVE_WORKSHOP or not is_buyable(course):
        return 0
    return notify_waitlist(course, "seat")


def announce_opening(course: Course) -> int:
    """The offering was published or its waitlist-only switch turned off: tell the list, if it can be bought."""
    if not is_buyable(course):
        return 0
    return notify_waitlist(course, "open")


def notify_waitlist(course: Course, reason: str) -> int:
    """E-mail everyone on the waitlist not told yet, once; returns how many messages were written.

    Called through `offer_open_seats` and `announce_opening`, which check first that a
    place can really be taken. Each message goes to the outbox in the same transaction that
    marks its entry `notified_at`, so a second call (or a retried request) writes nothing, a
    rolled-back one leaves nobody marked, and no mail server is waited on while rows are
    locked. Flushes, never commits: the caller's request commits once.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown waitlist reason {reason!r}; use one of {sorted(REASONS)}")
    subject_template, opening = REASONS[reason]
    creator = course.creator.display_name
    subject = subject_template.format(title=course.title)
    link = course_url(course)
    text = (
        f"Hello,\n\n{opening.format(title=course.title, creator=creator)}\n\n"
        f"See it and sign up here:\n{link}\n\n"
        "Places are not held, so the first people to sign up get them.\n\n"
        "You're receiving this one message because you joined the waitlist on Aqueduct. "
        "We won't write about this offering again.\n"
    )
    entries = db.session.scalars(
        sa.select(WaitlistEntry)
        .where(WaitlistEntry.course_id == course.id, WaitlistEntry.notified_at.is_(None))
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        # Two processes notifying at once each take different rows instead of both mailing everyone.
        .with_for_update(skip_locked=True)
    ).all()
    for entry in entries:
        send_after_commit(entry.email, subject, text)
        entry.notified_at = utcnow()
    db.session.flush()
    return len(entries)


def waitlist_entries(course: Course) -> list[WaitlistEntry]:
    """Everyone on an offering's waitlist, first come first."""
    return list(
        db.session.scalars(
            sa.select(WaitlistEntry)
            .where(WaitlistEntry.course_id == course.id)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )


def waitlist_csv(entries: list[WaitlistEntry]) -> str:
    """The waitlist as CSV (email, joined_at, notified_at; times in UTC, ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "joined_at", "notified_at"])
    for entry in entries:
        joined = entry.created_at.isoformat(timespec="seconds")
        notified = entry.notified_at.isoformat(timespec="seconds") if entry.notified_at else ""
        writer.writerow([spreadsheet_safe(cell) for cell in (entry.email, joined, notified)])
    return out.getvalue()
