"""The practice waitlist: people a therapist can't see yet, helped while they wait, and never treated as clients.

A therapist with a full caseload opens `/t/<slug>/waitlist`. A visitor leaves an e-mail address and
ticks that they agree to be written to about openings; nothing else is asked, read or kept (no reasons,
symptoms or diagnoses). They see the crisis lines first, the therapist's offerings for the public, and
colleagues who are taking clients. The therapist sees counts, writes to the list when a place opens
(a job, one e-mail each with its own link to leave), downloads it and takes people off it. Anyone can
leave with the link in any of our e-mails, without an account.

Leaving erases the address. The row keeps its dates and, so the funnel's past months don't change,
whether they had enrolled in one of the therapist's offerings since joining and what that brought.
Nothing on the list is ever tied to session income.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError

from .clientfacing import default_crisis_resources
from .downloads import spreadsheet_safe
from .enrollments.waitlist import WaitlistNotice
from .extensions import db
from .integrations.mail import ListMessage, mail_of_job, send_after_commit, send_each_after_commit
from .jobs import JobRefused, enqueue, job_progress
from .links import absolute_url
from .models import (
    Audience,
    CreatorProfile,
    Enrollment,
    Job,
    JobStatus,
    MailStatus,
    Offering,
    Order,
    OutgoingMail,
    PracticeWaitlistEntry,
    ReferralPartner,
    Refund,
    User,
    utcnow,
)
from .models.base import whole_sum
from .models.commerce import SETTLED_STATUSES, counted_refunds
from .pagination import paginate

MAIL = "practice_waitlist.mail"
LEAVE_SALT = "practice-waitlist-leave"
PER_PAGE = 50
OFFERINGS_SHOWN = 6
RECENT_DAYS = 30
MAX_SUBJECT = 150
MAX_MESSAGE = 5000


def is_open(profile: CreatorProfile) -> bool:
    """Whether the practice waitlist page takes sign-ups (the therapist opened it, and isn't suspended)."""
    return profile.practice_waitlist_open and not profile.is_suspended


# ---------------------------------------------------------------------------
# Joining and leaving
# ---------------------------------------------------------------------------


def join(profile: CreatorProfile, email: str) -> bool:
    """Put an address on the therapist's list once (with its consent, which the form requires); True when new.

    A new address is sent a note saying what it joined, with the link to leave (so someone put on
    the list by another can take themselves off). An address already on the list is left as it was
    and sent nothing: the visitor is told the same either way, so the page can't be used to find out
    who is on a therapist's list.
    """
    email = User.normalize_email(email)
    on_list = sa.select(PracticeWaitlistEntry.id).where(
        PracticeWaitlistEntry.creator_id == profile.id, PracticeWaitlistEntry.email == email
    )
    if db.session.scalar(on_list) is not None:
        return False
    entry = PracticeWaitlistEntry(creator_id=profile.id, email=email)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        return False  # the same address joined between the check and the insert
    name, link = profile.display_name, leave_url(entry)
    send_after_commit(
        email,
        f"You're on {name}'s waitlist",
        f"Hello,\n\nYou asked to hear when {name} can take new clients. We'll use this address for that "
        f"and nothing else: {name} may write to the waitlist when a place opens.\n\n"
        f"Joining the list doesn't make you a client of {name}, and it doesn't book a session. "
        "Please don't reply with personal or health details.\n\n"
        f"If you need help now: {default_crisis_resources(profile)}\n\n"
        f"While you wait, {name}'s free and low-cost courses for the public are here:\n"
        f"{absolute_url('catalog.practice_waitlist', slug=profile.slug)}\n\n"
        f"To leave the list (or if this wasn't you), open this link:\n{link}\n",
        unsubscribe_url=link,
    )
    return True


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=LEAVE_SALT)


def _token(entry: PracticeWaitlistEntry) -> str:
    return _serializer().dumps(entry.id)


def leave_url(entry: PracticeWaitlistEntry) -> str:
    """The link that takes this person off the list, without an account; it never expires."""
    return absolute_url("catalog.leave_practice_waitlist", token=_token(entry))


def entry_for_token(token: str) -> PracticeWaitlistEntry | None:
    """The entry a leave link was made for, or None for a link that isn't one of ours."""
    try:
        entry_id = _serializer().loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not isinstance(entry_id, int) or isinstance(entry_id, bool) or not 0 < entry_id < 2**63:
        return None
    return db.session.get(PracticeWaitlistEntry, entry_id)


def leave(entry: PracticeWaitlistEntry) -> bool:
    """Take someone off the list (they asked, or the therapist did): the address is erased at once.

    Whether they had enrolled since joining, and what that brought, are kept on the row so past
    months' funnel figures stay as they were. False when they had already left.
    """
    # Their row first: a job writing to the list holds it until its mail is committed, which this then sees.
    db.session.refresh(entry, with_for_update=True)
    if entry.left_at is not None:
        return False
    this_one = _entries_with_accounts().where(PracticeWaitlistEntry.id == entry.id).subquery()
    enrolled_column, income_column = _outcome_columns(entry.creator_id, entry.creator.currency, this_one)
    enrolled, income = db.session.execute(sa.select(enrolled_column, income_column)).one()
    entry.enrolled_before_leaving = bool(enrolled)
    entry.income_before_leaving_cents = int(income)
    _forget_mail_to(entry)
    entry.email = None
    entry.left_at = utcnow()
    db.session.flush()
    return True


def _forget_mail_to(entry: PracticeWaitlistEntry) -> None:
    """Mail to this person about the list that hasn't gone yet (the mail server was down) never goes, and the
    outbox keeps their address no longer: their messages are the ones carrying their link to leave."""
    theirs = OutgoingMail.unsubscribe_url.endswith("/" + _token(entry), autoescape=True)
    db.session.execute(sa.delete(OutgoingMail).where(theirs, OutgoingMail.status != MailStatus.SENT))
    db.session.execute(sa.update(OutgoingMail).where(theirs).values(recipient="", text="", unsubscribe_url=None))


def remove(profile: CreatorProfile, entry_id: int) -> PracticeWaitlistEntry | None:
    """The therapist takes someone off their list; None when it isn't theirs or they had left already."""
    entry = db.session.scalar(
        sa.select(PracticeWaitlistEntry).where(
            PracticeWaitlistEntry.id == entry_id,
            PracticeWaitlistEntry.creator_id == profile.id,
            PracticeWaitlistEntry.left_at.is_(None),
        )
    )
    if entry is None:
        return None
    leave(entry)
    return entry


# ---------------------------------------------------------------------------
# What the list led to: enrolled since joining, and the income from it
# ---------------------------------------------------------------------------


def _entries_with_accounts() -> sa.Select:
    """Entries with the account (if any) their address belongs to: the person's enrolments and orders."""
    return sa.select(
        PracticeWaitlistEntry.id.label("entry_id"),
        PracticeWaitlistEntry.created_at.label("joined_at"),
        PracticeWaitlistEntry.left_at.label("left_at"),
        PracticeWaitlistEntry.enrolled_before_leaving.label("enrolled_before_leaving"),
        PracticeWaitlistEntry.income_before_leaving_cents.label("income_before_leaving"),
        User.id.label("user_id"),
    ).outerjoin(User, User.email == PracticeWaitlistEntry.email)


def _outcome_columns(
    creator_id: int, currency: str, entries: sa.Subquery
) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
    """(enrolled 0/1, income in minor units) of each row of `entries` (a subquery of `_entries_with_accounts`).

    Enrolled: in any of the creator's offerings, at or after joining. Income: what those people's
    orders for the creator's offerings paid since joining brought the creator (in their currency), less
    what refunds took back, as the revenue view counts it. Someone who left counts as they stood then.
    A subquery per person, each read off the indexes of their orders and enrolments: measured faster than
    grouped joins over the creator's orders (benchmarks/revenue_figures.py: 41-44 ms against 54 ms for
    3,213 sign-ups in a year, half of them buyers, among 100,000 orders).
    """
    sales_since = [
        Offering.creator_id == creator_id,
        Order.learner_id == entries.c.user_id,
        Order.currency == currency,
        Order.status.in_(SETTLED_STATUSES),
        Order.paid_at >= entries.c.joined_at,
    ]
    enrolled_since = sa.exists(
        sa.select(Enrollment.id)
        .join(Offering, Enrollment.offering_id == Offering.id)
        .where(
            Offering.creator_id == creator_id,
            Enrollment.user_id == entries.c.user_id,
            Enrollment.enrolled_at >= entries.c.joined_at,
        )
    )
    sold = (
        sa.select(whole_sum(Order.sale_net_cents))
        .join(Offering, Order.offering_id == Offering.id)
        .where(*sales_since)
        .scalar_subquery()
    )
    refunded = (
        sa.select(whole_sum(Refund.refund_net_cents))
        .join(Order, Refund.order_id == Order.id)
        .join(Offering, Order.offering_id == Offering.id)
        .where(*sales_since, counted_refunds())
        .scalar_subquery()
    )
    has_left = entries.c.left_at.is_not(None)
    enrolled = sa.case(
        (has_left, sa.case((entries.c.enrolled_before_leaving, 1), else_=0)),
        (sa.and_(entries.c.user_id.is_not(None), enrolled_since), 1),
        else_=0,
    )
    income = sa.case(
        (has_left, entries.c.income_before_leaving),
        (entries.c.user_id.is_(None), 0),
        else_=sold - refunded,
    )
    return enrolled.label("enrolled"), income.label("income")


@dataclass(frozen=True)
class FunnelMonth:
    month_index: int
    signups: int
    enrolled: int
    income_cents: int


def funnel_by_month(profile: CreatorProfile, edges: list[datetime], month_index) -> dict[int, FunnelMonth]:
    """Per month of a period (edges as the revenue view makes them): who joined the list that month, how
    many of them have enrolled in an offering since, and what their purchases brought (one query)."""
    joined = (
        _entries_with_accounts()
        .add_columns(month_index(PracticeWaitlistEntry.created_at, edges).label("month"))
        .where(
            PracticeWaitlistEntry.creator_id == profile.id,
            PracticeWaitlistEntry.created_at >= edges[0],
            PracticeWaitlistEntry.created_at < edges[-1],
        )
        .subquery()
    )
    outcomes = sa.select(joined.c.month, *_outcome_columns(profile.id, profile.currency, joined)).subquery()
    rows: Iterable[tuple[int, int, int, int]] = db.session.execute(
        sa.select(
            outcomes.c.month, sa.func.count(), whole_sum(outcomes.c.enrolled), whole_sum(outcomes.c.income)
        ).group_by(outcomes.c.month)
    )
    return {
        int(month): FunnelMonth(int(month), int(count), int(enrolled), int(income))
        for month, count, enrolled, income in rows
    }


# ---------------------------------------------------------------------------
# The therapist's view of the list
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCounts:
    on_list: int
    joined_recently: int  # in the last RECENT_DAYS days (and still on it)
    never_written: int
    left: int


def list_counts(profile: CreatorProfile, now: datetime | None = None) -> ListCounts:
    """How many are on the list, joined lately, haven't been written to yet, and left (one query)."""
    since = (now or utcnow()) - timedelta(days=RECENT_DAYS)
    on_list = PracticeWaitlistEntry.left_at.is_(None)

    def count(*conditions) -> sa.ColumnElement[int]:
        return whole_sum(sa.case((sa.and_(*conditions), 1), else_=0))

    row = db.session.execute(
        sa.select(
            count(on_list),
            count(on_list, PracticeWaitlistEntry.created_at >= since),
            count(on_list, PracticeWaitlistEntry.last_mailed_at.is_(None)),
            count(~on_list),
        ).where(PracticeWaitlistEntry.creator_id == profile.id)
    ).one()
    return ListCounts(*(int(value) for value in row))


def _on_list(profile: CreatorProfile) -> sa.Select:
    return (
        sa.select(PracticeWaitlistEntry)
        .where(PracticeWaitlistEntry.creator_id == profile.id, PracticeWaitlistEntry.left_at.is_(None))
        .order_by(PracticeWaitlistEntry.created_at, PracticeWaitlistEntry.id)
    )


def list_page(profile: CreatorProfile, page: int, total: int):
    """A page of the people on the list, who has waited longest first."""
    return paginate(_on_list(profile), page, PER_PAGE, total=total)


def list_csv(profile: CreatorProfile) -> str:
    """The list as CSV (email, joined_at, last_written_at; UTC, ISO 8601), for the therapist's own records."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "joined_at", "last_written_at"])
    for entry in db.session.scalars(_on_list(profile).execution_options(yield_per=1000)):
        written = entry.last_mailed_at.isoformat(timespec="seconds") if entry.last_mailed_at else ""
        cells = (entry.email or "", entry.created_at.isoformat(timespec="seconds"), written)
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return out.getvalue()


# ---------------------------------------------------------------------------
# Writing to the list
# ---------------------------------------------------------------------------


class MailRefused(Exception):
    """Nothing to write to, or a message already going out."""


class AlreadySent(MailRefused):
    """This very form was sent before (a double click, the browser's "resend"): it writes to nobody again."""


def start_mailing(profile: CreatorProfile, subject: str, message: str, limit: int | None, send_key: str) -> int:
    """Record the job that writes to the list (the longest-waiting `limit` people, or everyone); how many.

    `send_key` is made when the form is shown and kept by the job: the same form sent again writes to nobody.
    One at a time: while a message is still being written, another is refused, so nobody gets two
    by a double click (the therapist's row is locked first, so two requests at once can't both pass).
    Flushes; the request commits, and the job runs after.
    """
    db.session.execute(sa.select(CreatorProfile.id).where(CreatorProfile.id == profile.id).with_for_update())
    sent_before = db.session.scalar(
        sa.select(Job.id).where(
            Job.kind == MAIL, Job.owner_id == profile.user_id, Job.payload["send_key"].as_string() == send_key
        )
    )
    if sent_before is not None:
        raise AlreadySent("That message was already sent: nobody gets it twice.")
    waiting = list_counts(profile).on_list
    if not waiting:
        raise MailRefused("There's nobody on your waitlist to write to yet.")
    busy = db.session.scalar(
        sa.select(Job.id).where(
            Job.kind == MAIL,
            Job.owner_id == profile.user_id,
            Job.status.in_((JobStatus.PENDING, JobStatus.RUNNING)),
        )
    )
    if busy is not None:
        raise MailRefused("Your last message to the waitlist is still being written. Try again in a minute.")
    count = min(waiting, limit) if limit else waiting
    payload = {"subject": subject, "message": message, "limit": limit, "send_key": send_key}
    job = enqueue(MAIL, payload, owner_id=profile.user_id)
    job.progress_total = count
    return count


def _mail_text(profile: CreatorProfile, message: str, link: str) -> str:
    return (
        f"{message.strip()}\n\n"
        f"-- \n{profile.display_name}\n\n"
        f"You're receiving this because you joined {profile.display_name}'s practice waitlist on Aqueduct. "
        f"Replies go to {profile.display_name}; please don't send health details by e-mail.\n"
        f"If you need help now: {default_crisis_resources(profile)}\n"
        f"To leave the waitlist: {link}\n"
    )


def mail_job(job: Job) -> dict:
    """The job: one e-mail to each person on the list (or the longest-waiting few), each with their own link
    to leave, recorded with their `last_mailed_at` in one transaction (a worker stopped half-way writes
    nothing, and the retry writes everyone once)."""
    profile = db.session.scalar(sa.select(CreatorProfile).where(CreatorProfile.user_id == job.owner_id))
    if profile is None:
        raise JobRefused("The therapist's account was deleted before the waitlist could be written to.")
    if profile.is_suspended:
        # Suspended since the message was asked for: nobody is written to on their behalf.
        return {"written": 0, "skipped": "The therapist was suspended before the message went out."}
    subject, message, limit = job.payload.get("subject"), job.payload.get("message"), job.payload.get("limit")
    if not isinstance(subject, str) or not isinstance(message, str) or not subject.strip() or not message.strip():
        raise JobRefused("This message can't be sent: its subject or text is missing.")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise JobRefused("This message can't be sent: how many to write to isn't a number.")
    statement = _on_list(profile).with_for_update(skip_locked=True)
    if limit:
        statement = statement.limit(limit)
    entries = db.session.scalars(statement).all()
    messages = []
    for entry in entries:
        link = leave_url(entry)
        messages.append(ListMessage(entry.email or "", _mail_text(profile, message, link), link))
    sent = send_each_after_commit(messages, subject.strip(), reply_to=profile.user.email, job_id=job.id)
    now = utcnow()
    for entry in entries:
        entry.last_mailed_at = now
    db.session.flush()
    job_progress(job, sent, sent)
    return {"written": sent}


def latest_mailing(profile: CreatorProfile) -> WaitlistNotice | None:
    """The therapist's latest message to the list, with how its e-mails are doing (two queries), or None."""
    job = db.session.scalar(
        sa.select(Job).where(Job.kind == MAIL, Job.owner_id == profile.user_id).order_by(Job.id.desc()).limit(1)
    )
    return WaitlistNotice(job, mail_of_job(job.id)) if job is not None else None


# ---------------------------------------------------------------------------
# The public page: offerings for the public and referral partners
# ---------------------------------------------------------------------------


def offerings_for_the_public(profile: CreatorProfile) -> list[Offering]:
    """The therapist's listed offerings for the public, the least a visitor can pay first (at most six)."""
    least = sa.func.coalesce(Offering.sliding_scale_min_cents, Offering.price_cents)
    return list(
        db.session.scalars(
            sa.select(Offering)
            .where(Offering.creator_id == profile.id, Offering.audience == Audience.PUBLIC, Offering.is_listed)
            .order_by(least, Offering.published_at.desc(), Offering.id.desc())
            .limit(OFFERINGS_SHOWN)
        )
    )


def referral_partners(profile: CreatorProfile, *, locked: bool = False) -> list[ReferralPartner]:
    """The colleagues the therapist lists, in their order (at most MAX_REFERRAL_PARTNERS exist); `locked` to
    reorder them."""
    statement = (
        sa.select(ReferralPartner)
        .where(ReferralPartner.creator_id == profile.id)
        .order_by(ReferralPartner.position, ReferralPartner.id)
    )
    return list(db.session.scalars(statement.with_for_update() if locked else statement))
