"""Waitlists: who asked to hear about an offering, telling them once when a place is really open,
and the creator's export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..downloads import spreadsheet_safe
from ..extensions import db
from ..integrations.mail import JobMail, mail_of_job, send_many_after_commit
from ..jobs import JobRefused, enqueue, job_progress
from ..links import offering_url
from ..models import Job, JobStatus, Offering, OfferingKind, User, WaitlistEntry, utcnow
from ..pagination import paginate
from .seats import is_buyable

NOTIFY = "waitlist.notify"
PER_PAGE = 50

# Why the list is being told, and what the message says.
REASONS = {
    "open": ("{title} is open", "Good news: {title} by {creator} is now open, and you asked us to tell you."),
    "seat": ("A seat opened in {title}", "A seat has just opened in {title} by {creator}, and you asked to hear."),
}


def join_waitlist(offering: Offering, email: str) -> bool:
    """Put an address on an offering's waitlist once; False when it was already there (in any case)."""
    email = User.normalize_email(email)
    exists = sa.select(WaitlistEntry.id).where(WaitlistEntry.offering_id == offering.id, WaitlistEntry.email == email)
    if db.session.scalar(exists) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(WaitlistEntry(offering_id=offering.id, email=email))
    except IntegrityError:
        # Someone joined with the same address between the check and the insert.
        return False
    return True


def offer_open_seats(offering: Offering) -> int:
    """A seat may have come free (access ended, a checkout let go, a date added, a limit raised):
    tell the waitlist, but only if a visitor could really sign up now."""
    if offering.kind is not OfferingKind.LIVE_WORKSHOP or not is_buyable(offering):
        return 0
    return notify_waitlist(offering, "seat")


def announce_opening(offering: Offering) -> int:
    """The offering was published or its waitlist-only switch turned off: tell the list, if it can be bought."""
    if not is_buyable(offering):
        return 0
    return notify_waitlist(offering, "open")


def notify_waitlist(offering: Offering, reason: str) -> int:
    """Start telling everyone on the waitlist not told yet, once; returns how many are to be told.

    Called through `offer_open_seats` and `announce_opening`, which check first that a place
    can really be taken. The e-mails are written by a job (`notify_waitlist_job`) recorded in
    the caller's transaction, so a list of thousands doesn't hold up the request that opened
    the place. A job already waiting to start tells everyone waiting by then: no second one is
    recorded. Flushes, never commits: the caller's request commits once.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown waitlist reason {reason!r}; use one of {sorted(REASONS)}")
    waiting = db.session.scalar(
        sa.select(sa.func.count(WaitlistEntry.id)).where(
            WaitlistEntry.offering_id == offering.id, WaitlistEntry.notified_at.is_(None)
        )
    )
    if not waiting:
        return 0
    queued = db.session.scalar(
        sa.select(Job.id).where(Job.kind == NOTIFY, Job.offering_id == offering.id, Job.status == JobStatus.PENDING)
    )
    if queued is None:
        job = enqueue(NOTIFY, {"reason": reason}, owner_id=offering.creator.user_id, offering_id=offering.id)
        job.progress_total = waiting
    return waiting


def notify_waitlist_job(job: Job) -> dict:
    """The job: e-mail everyone on the waitlist not told yet, marking each as told, all in one transaction.

    Each message goes to the outbox (tied to the job, whose page counts them as they leave) in
    the same transaction that marks its entry `notified_at` and the job done: a worker killed
    half-way leaves nobody marked and nothing written, and the next run tells everyone once.
    """
    offering = db.session.get(Offering, job.offering_id) if job.offering_id else None
    if offering is None:
        raise JobRefused("The offering was deleted before its waitlist could be told.")
    reason = job.payload.get("reason")
    if reason not in REASONS:
        raise JobRefused("This notice can't be sent: its reason is unknown.")
    if not is_buyable(offering):
        # Closed again since the notice was asked for (suspended, archived, full, no dates): telling
        # them now would be wrong, and marking them told would leave them out when it really opens.
        return {"told": 0, "skipped": "The offering can't be signed up for any more."}
    subject_template, opening = REASONS[reason]
    creator = offering.creator.display_name
    subject = subject_template.format(title=offering.title)
    link = offering_url(offering)
    text = (
        f"Hello,\n\n{opening.format(title=offering.title, creator=creator)}\n\n"
        f"See it and sign up here:\n{link}\n\n"
        "Places are not held, so the first people to sign up get them.\n\n"
        "You're receiving this one message because you joined the waitlist on Aqueduct. "
        "We won't write about this offering again.\n"
    )
    entries = db.session.scalars(
        sa.select(WaitlistEntry)
        .where(WaitlistEntry.offering_id == offering.id, WaitlistEntry.notified_at.is_(None))
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        # Two workers notifying at once each take different rows instead of both mailing everyone.
        .with_for_update(skip_locked=True)
    ).all()
    now = utcnow()
    send_many_after_commit([entry.email for entry in entries], subject, text, job_id=job.id)
    for entry in entries:
        entry.notified_at = now
    db.session.flush()
    if entries:
        job_progress(job, len(entries), len(entries))
    return {"told": len(entries)}


@dataclass(frozen=True)
class WaitlistNotice:
    """The latest telling of a waitlist (an offering's, or a therapist's practice waitlist): its job and how its
    e-mails are doing."""

    job: Job
    mail: JobMail

    @property
    def underway(self) -> bool:
        """Still being written, or written and not all accepted by the mail server yet."""
        return not self.job.is_finished or bool(self.mail.waiting)

    @property
    def people(self) -> int:
        return self.mail.total if self.job.status is JobStatus.DONE else self.job.progress_total


def latest_notice(offering: Offering) -> WaitlistNotice | None:
    """The offering's most recent waitlist job with its e-mail counts (two queries), or None."""
    job = db.session.scalar(
        sa.select(Job).where(Job.kind == NOTIFY, Job.offering_id == offering.id).order_by(Job.id.desc()).limit(1)
    )
    return WaitlistNotice(job, mail_of_job(job.id)) if job is not None else None


def waitlist_entries(offering: Offering) -> list[WaitlistEntry]:
    """Everyone on an offering's waitlist, first come first."""
    return list(
        db.session.scalars(
            sa.select(WaitlistEntry)
            .where(WaitlistEntry.offering_id == offering.id)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )


@dataclass(frozen=True)
class WaitlistPage:
    """A page of an offering's waitlist, first come first, with the counts of the whole list."""

    entries: list[WaitlistEntry]
    total: int
    waiting: int
    page: int
    pages: int


def waitlist_page(offering: Offering, page: int = 1, per_page: int = PER_PAGE) -> WaitlistPage:
    """One page of the waitlist and how many are on it and still waiting to hear (two queries)."""
    total, waiting = db.session.execute(
        sa.select(
            sa.func.count(WaitlistEntry.id),
            sa.func.count(WaitlistEntry.id).filter(WaitlistEntry.notified_at.is_(None)),
        ).where(WaitlistEntry.offering_id == offering.id)
    ).one()
    found = paginate(
        sa.select(WaitlistEntry)
        .where(WaitlistEntry.offering_id == offering.id)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id),
        page,
        per_page,
        total=total,
    )
    return WaitlistPage(found.items, total, waiting, found.page, found.pages)


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
