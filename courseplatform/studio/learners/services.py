"""Who is in an offering, and the creator's ways to change that: the roster with progress and
orders, complimentary access by e-mail, enrolling a list from a CSV, and the CSV export.

Money never moves here: refunds and revocations go through `checkout.services`. Functions
flush and never commit; the request commits once.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import render_template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload, selectinload

from ...accounts.services import INVITE_MAX_AGE, password_link
from ...csv_uploads import CsvRefused, Refusal, read_upload, refusal_message
from ...downloads import spreadsheet_safe
from ...enrollments import access_changes
from ...enrollments.notes import creator_note
from ...enrollments.seats import lock_offering
from ...enrollments.states import AccessRefused, AccessState, next_status, state_of
from ...extensions import db
from ...formatting import decimal_amount
from ...integrations.mail import send_after_commit
from ...links import absolute_url, learn_url
from ...models import (
    AccessEvent,
    Certificate,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Lesson,
    LessonProgress,
    Offering,
    Order,
    Section,
    User,
)
from ...models.base import like_pattern
from ...models.commerce import SETTLED_STATUSES
from ...pagination import Page
from ...stats import offering_counts

PER_PAGE = 50
# Stored instead of a password hash for an account made on someone's behalf: no password
# matches it (argon2 refuses it as a hash), so nobody can log in until they choose one.
INVITED_MARKER = "!invited"
MAX_IMPORT_BYTES = 1024 * 1024
MAX_IMPORT_ROWS = 5000

SOURCE_LABELS = {
    EnrollmentSource.PURCHASE: "Purchase",
    EnrollmentSource.FREE: "Free",
    EnrollmentSource.COMP: "Complimentary",
    EnrollmentSource.IMPORT: "Imported",
}
STATUS_LABELS = {
    EnrollmentStatus.ACTIVE: "Active",
    EnrollmentStatus.SUSPENDED: "Paused",
    EnrollmentStatus.REVOKED: "Revoked",
}
# What the roster says of each access state: ended access says how it ended.
STATE_LABELS = {
    AccessState.ACTIVE: "Active",
    AccessState.PAUSED: "Paused (dispute)",
    AccessState.OVERDUE: "Paused (payment overdue)",
    AccessState.REFUNDED: "Refunded",
    AccessState.CHARGED_BACK: "Charged back",
    AccessState.ENDED_BY_CREATOR: "Revoked",
    AccessState.MEMBERSHIP_ENDED: "Membership ended",
}


class LearnerError(ValueError):
    """Something the creator asked for can't be done; the message says why and what to do."""


# ---------------------------------------------------------------------------
# The roster
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnerRow:
    """One learner in the roster: their enrollment, account, progress and the order behind it."""

    enrollment: Enrollment
    user: User
    order: Order | None
    lessons_done: int
    lessons_total: int
    certificate_number: str | None = None
    certificate_revoked: bool = False

    @property
    def percent(self) -> int:
        if not self.lessons_total:
            return 0
        return min(100, round(100 * self.lessons_done / self.lessons_total))

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.enrollment.source]

    @property
    def state(self) -> AccessState:
        return state_of(self.enrollment)

    @property
    def status_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def money_went_back(self) -> bool:
        """Access ended with the payment returned: restoring it is a knowing, free gift."""
        return self.state in (AccessState.REFUNDED, AccessState.CHARGED_BACK)

    @property
    def order_label(self) -> str:
        return self.order.status.label if self.order else ""


@dataclass(frozen=True)
class Roster:
    """A page of an offering's learners, with the counts by status shown above it."""

    rows: list[LearnerRow]
    counts: dict[str, int]  # by status value: "active", "suspended", "revoked"
    lessons_total: int
    matching: int
    page: int
    pages: int

    @property
    def everyone(self) -> int:
        return sum(self.counts.values())


def _matching_enrollments(offering: Offering, query: str = "", status: EnrollmentStatus | None = None) -> sa.Select:
    """The ids of the offering's enrollments the roster lists, newest first.

    Without a search this reads one index, oldest entries skipped from its end: (course, enrolled_at, id)
    for everyone, (course, status, enrolled_at, id) for one status.
    """
    statement = sa.select(Enrollment.id).where(Enrollment.offering_id == offering.id)
    if query:
        pattern = like_pattern(query)
        statement = statement.join(User, User.id == Enrollment.user_id).where(
            sa.or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\"))
        )
    if status is not None:
        statement = statement.where(Enrollment.status == status)
    return statement.order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())


# What a row of _learners_query holds: the outer joins leave the order and the certificate maybe missing.
LearnerQueryRow = tuple[Enrollment, User, Order | None, int, str | None, bool | None]


def _learners_query(listed: sa.Select) -> sa.Select:
    """Enrollment, user, the order behind it, lessons done, the certificate's number and whether it is revoked,
    for each enrollment `listed` selects (one statement), newest first.

    The order is the one that gave access, else the learner's latest paid one for this
    offering (a refunded purchase still shows after a complimentary re-grant). These figures are
    worked out after `listed` has chosen its rows, so a limited `listed` costs its rows only.
    """
    done = (
        sa.select(sa.func.count(LessonProgress.id))
        .where(LessonProgress.enrollment_id == Enrollment.id, LessonProgress.completed_at.is_not(None))
        .scalar_subquery()
    )
    latest_paid = (
        sa.select(Order.id)
        .where(
            Order.learner_id == Enrollment.user_id,
            Order.offering_id == Enrollment.offering_id,
            Order.status.in_(SETTLED_STATUSES),
        )
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    shown_order = aliased(Order)
    chosen = listed.subquery("listed")
    return (
        sa.select(Enrollment, User, shown_order, done, Certificate.number, Certificate.is_revoked)
        .select_from(chosen)
        .join(Enrollment, Enrollment.id == chosen.c.id)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(shown_order, shown_order.id == sa.func.coalesce(Enrollment.order_id, latest_paid))
        .outerjoin(Certificate, Certificate.enrollment_id == Enrollment.id)  # at most one per enrollment
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
    )


def _lessons_total(offering: Offering) -> int:
    return db.session.execute(
        sa.select(sa.func.count(Lesson.id))
        .join(Section, Lesson.section_id == Section.id)
        .where(Section.offering_id == offering.id)
    ).scalar_one()


def learner_roster(
    offering: Offering, query: str = "", status: EnrollmentStatus | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Roster:
    """A page of learners, newest first, with progress and orders, in four queries whatever their number.

    The counts come from the offering's running totals; only a search counts its matches. The page's
    enrollments are chosen off an index first, so a deep page skips index entries, and progress and
    orders are worked out for its rows alone.
    """
    counts = offering_counts(offering.id)
    lessons_total = _lessons_total(offering)
    listed = _matching_enrollments(offering, query, status)
    matching = _matching(listed, counts, query, status)
    found: Page[LearnerRow] = Page.at(page, per_page, matching)
    rows: Sequence[LearnerQueryRow] = db.session.execute(_learners_query(found.window(listed))).all()
    return Roster(
        rows=[LearnerRow(e, u, o, d, lessons_total, number, bool(revoked)) for e, u, o, d, number, revoked in rows],
        counts=counts,
        lessons_total=lessons_total,
        matching=matching,
        page=found.page,
        pages=found.pages,
    )


def _matching(listed: sa.Select, counts: dict[str, int], query: str, status: EnrollmentStatus | None) -> int:
    """How many learners the roster lists: known from the totals unless a search narrows it."""
    if query:
        return db.session.scalar(sa.select(sa.func.count()).select_from(listed.order_by(None).subquery())) or 0
    if status is not None:
        return counts[status.value]
    return sum(counts.values())


def offering_enrollment(offering: Offering, enrollment_id: int) -> Enrollment | None:
    """One enrollment in this offering, with its learner, or None."""
    return db.session.scalar(
        sa.select(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.offering_id == offering.id)
        .options(joinedload(Enrollment.user))
    )


def offering_order(offering: Offering, order_id: int) -> Order | None:
    """One settled order for this offering, with its learner and refunds, or None."""
    order = db.session.scalar(
        sa.select(Order)
        .where(Order.id == order_id, Order.offering_id == offering.id)
        .options(joinedload(Order.learner), selectinload(Order.refunds))
    )
    return order if order is not None and order.is_settled else None


def order_gave(order: Order) -> list[str]:
    """The titles of the offerings this order gave access to (a bundle's, as they were when bought; a payment
    plan's or a membership's later payment answers for what its first one gave)."""
    return list(
        db.session.scalars(
            sa.select(Offering.title)
            .join(Enrollment, Enrollment.offering_id == Offering.id)
            .where(Enrollment.order_id == access_changes.giving_order(order))
            .order_by(Offering.title)
        )
    )


def refund_authors(order: Order) -> dict[int, User]:
    """Who made each studio refund on this order (one query)."""
    ids = {refund.created_by_id for refund in order.refunds if refund.created_by_id}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


# ---------------------------------------------------------------------------
# Giving access
# ---------------------------------------------------------------------------


class GrantOutcome(enum.Enum):
    INVITED = "invited"  # a new account was made and enrolled
    ENROLLED = "enrolled"  # an existing account was enrolled
    RESTORED = "restored"  # a revoked enrollment is active again
    ALREADY = "already"  # they had access: nothing changed


@dataclass(frozen=True)
class Grant:
    user: User
    outcome: GrantOutcome
    mailed: bool = True


def has_password(user: User) -> bool:
    return user.password_hash != INVITED_MARKER


def _new_account(email: str, name: str) -> tuple[User, bool]:
    """An account nobody can log in to until they follow their invitation; (user, created)."""
    user = User(name=(name.strip() or email.split("@", 1)[0])[:120], email=email, password_hash=INVITED_MARKER)
    try:
        with db.session.begin_nested():
            db.session.add(user)
        return user, True
    except IntegrityError:
        # They signed up a moment ago: use their account.
        return db.session.execute(sa.select(User).where(User.email == email)).scalar_one(), False


def _own_account(offering: Offering, user: User) -> bool:
    return user.creator_profile is not None and user.creator_profile.id == offering.creator_id


OWN_ACCOUNT = "That's the creator's own account, which can already open everything in this offering."


def _full_message(offering: Offering) -> str:
    return f"{offering.title} is full: every seat is taken. To add someone, raise the seat limit of its live sessions."


def grant_access(offering: Offering, email: str, name: str = "", *, zone: str | None = None) -> Grant:
    """Give one person complimentary access by e-mail, inviting them if they have no account; raises LearnerError.

    Someone whose access ended with a refund or a chargeback is not added back this way: the
    creator restores them from their row, knowingly. Someone the creator revoked, even if
    their payment was refunded afterwards, may be added again: the revoke was the creator's.
    """
    email = User.normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is not None and _own_account(offering, user):
        raise LearnerError(OWN_ACCOUNT)
    created = False
    if user is None:
        user, created = _new_account(email, name)
    try:
        change = access_changes.grant(user, offering, AccessEvent.COMP)
    except access_changes.NoSeat:
        raise LearnerError(_full_message(offering)) from None
    except access_changes.AccessRefused as refused:
        if refused.enrollment is None:
            raise  # can't happen: the table lets complimentary access be given to anyone not enrolled
        raise LearnerError(f"{email}: {creator_note(refused.enrollment, zone)}.") from None
    if not change.changed:
        # Someone who never chose a password gets the invitation again ("I never got the e-mail").
        resend = not has_password(user)
        if resend:
            _mail_access(offering, user)
        return Grant(user, GrantOutcome.ALREADY, mailed=resend)
    outcome = (
        GrantOutcome.INVITED
        if created
        else GrantOutcome.RESTORED
        if change.before is not AccessState.NONE
        else GrantOutcome.ENROLLED
    )
    _mail_access(offering, user)
    return Grant(user, outcome)


def restore_access(enrollment: Enrollment) -> None:
    """Undo an ended access, knowingly (after a revoke, a refund or a chargeback); raises LearnerError."""
    try:
        access_changes.restore(enrollment)
    except access_changes.NoSeat:
        raise LearnerError(_full_message(enrollment.offering)) from None
    except access_changes.AccessRefused:
        raise LearnerError(
            f"{enrollment.user.email}'s access can't be restored while a payment dispute is open."
        ) from None


def _mail_access(offering: Offering, user: User, job_id: int | None = None) -> None:
    """Tell them they have access; someone without a password gets an invitation to choose one.

    The message goes to the outbox with the access itself: it is sent once the change commits
    (retried if the mail server is down), and never for access that was rolled back.
    """
    creator = offering.creator.display_name
    context = {"user": user, "offering": offering, "creator": creator, "learn_link": learn_url(offering)}
    if has_password(user):
        subject = f"You've been given access to {offering.title}"
        text = render_template("studio/email/access_granted.txt", **context)
    else:
        subject = f"{creator} invited you to {offering.title} on Aqueduct"
        text = render_template(
            "studio/email/invitation.txt",
            **context,
            invite_link=password_link(user, invite=True),
            invite_days=INVITE_MAX_AGE // 86400,
            forgot_link=absolute_url("accounts.forgot_password"),
        )
    send_after_commit(user.email, subject, text, job_id=job_id)


# ---------------------------------------------------------------------------
# Enrolling a list from a CSV
# ---------------------------------------------------------------------------

EMAIL_HEADERS = {"email", "emailaddress", "mail", "emails"}
NAME_HEADERS = {"name", "fullname", "learner", "learnername", "student", "studentname"}
FIRST_NAME_HEADERS = {"firstname", "givenname", "first"}
LAST_NAME_HEADERS = {"lastname", "surname", "familyname", "last"}


@dataclass(frozen=True)
class ListedPerson:
    line: int
    email: str
    name: str


@dataclass(frozen=True)
class Rejection:
    line: int
    value: str
    reason: str


@dataclass
class ImportReport:
    """What enrolling a list did, line by line, for the report page."""

    invited: list[ListedPerson] = field(default_factory=list)  # new accounts, enrolled and invited
    enrolled: list[ListedPerson] = field(default_factory=list)  # existing accounts, given access
    already: list[ListedPerson] = field(default_factory=list)  # had access: nothing changed
    rejected: list[Rejection] = field(default_factory=list)
    blank_lines: int = 0
    header_line: int | None = None  # the line read as column names, and skipped

    @property
    def added(self) -> int:
        return len(self.invited) + len(self.enrolled)


def _header_key(cell: str) -> str:
    return re.sub(r"[^a-z]", "", cell.lower())


@dataclass(frozen=True)
class Columns:
    """Where a header line says each value is."""

    email: int
    name: int | None
    first_name: int | None
    last_name: int | None


def _columns(header: list[str]) -> Columns | None:
    """The column positions, if this line is a header naming an e-mail column."""
    keys = [_header_key(cell) for cell in header]

    def find(names: set[str]) -> int | None:
        return next((i for i, key in enumerate(keys) if key in names), None)

    email = find(EMAIL_HEADERS)
    if email is None:
        return None
    return Columns(email, find(NAME_HEADERS), find(FIRST_NAME_HEADERS), find(LAST_NAME_HEADERS))


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


LIST_REFUSALS = {
    Refusal.TOO_LARGE: "That file is larger than 1 MB. Split it into smaller files of up to 1,000 people.",
    Refusal.NOT_CSV: "That file isn't a CSV. In Excel or Numbers, export the sheet as “CSV UTF-8” and upload that.",
    Refusal.UNREADABLE: "We couldn't read that file's text. Save it as “CSV UTF-8” and try again.",
    Refusal.EMPTY: "That file is empty. Put one e-mail address on each line, then upload it again.",
}


def read_learner_list(data: bytes) -> tuple[list[ListedPerson], ImportReport]:
    """The people in an uploaded CSV, and a report already holding the lines that can't be used.

    Accepts one column of addresses (with or without a header line), or a header with
    an `email` column and optionally `name` (or first and last name). Raises
    LearnerError when the file as a whole can't be used (empty, too large, not a CSV).
    """
    report = ImportReport()
    people: list[ListedPerson] = []
    seen: dict[str, int] = {}
    columns: Columns | None = None
    first = True
    blanks = 0
    try:
        for number, row in read_upload(data, max_bytes=MAX_IMPORT_BYTES).rows():
            if not any(cell.strip() for cell in row):
                blanks += 1
                continue
            if first:
                first = False
                columns = _columns(row)
                if columns is not None or not any("@" in cell for cell in row):
                    report.header_line = number
                    continue
            report.blank_lines, blanks = report.blank_lines + blanks, 0  # only blanks between people count
            if len(people) + len(report.rejected) >= MAX_IMPORT_ROWS:
                raise LearnerError(
                    f"That file has more than {MAX_IMPORT_ROWS:,} people. Split it into smaller files and upload each."
                )
            person = _person(row, number, columns)
            if isinstance(person, Rejection):
                report.rejected.append(person)
            elif person.email in seen:
                report.rejected.append(
                    Rejection(person.line, person.email, f"Duplicate: already listed on line {seen[person.email]}")
                )
            else:
                seen[person.email] = person.line
                people.append(person)
    except CsvRefused as refused:
        raise LearnerError(refusal_message(refused, LIST_REFUSALS)) from refused
    if not people and not report.rejected:
        raise LearnerError("That file has no e-mail addresses in it. Put one address on each line.")
    return people, report


def _person(row: list[str], line: int, columns: Columns | None) -> ListedPerson | Rejection:
    if columns is None:
        # No header: the address is the cell with an @ in it, the name the first other cell.
        at = next((i for i, cell in enumerate(row) if "@" in cell), 0)
        raw = _cell(row, at)
        name = next((cell.strip() for i, cell in enumerate(row) if i != at and cell.strip()), "")
    else:
        raw = _cell(row, columns.email)
        name = _cell(row, columns.name) or " ".join(
            filter(None, (_cell(row, columns.first_name), _cell(row, columns.last_name)))
        )
    if "<" in raw:
        display, address = parseaddr(raw)  # "Jo Smith <jo@example.org>", as mail programs copy it
        raw, name = address or raw, name or display
    if not raw:
        return Rejection(line, ", ".join(cell.strip() for cell in row if cell.strip()), "No e-mail address")
    email = User.normalize_email(raw)
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return Rejection(line, raw, "Not an e-mail address")
    if len(email) > 254:
        return Rejection(line, raw, "Not an e-mail address")
    return ListedPerson(line, email, name[:120])


def enrol_list(
    offering: Offering,
    people: list[ListedPerson],
    report: ImportReport,
    *,
    notify: bool,
    zone: str | None = None,
    job_id: int | None = None,
) -> ImportReport:
    """Give everyone on the list access (source: import), adding to `report`; lines that can't be done are rejected.

    Valid lines go in even when others are rejected. New addresses get an account
    and, with `notify`, an invitation to choose a password; existing learners get a
    note that they have access. A list never brings back access that ended with a
    refund or a chargeback: those people are reported, for the creator to restore one by one.
    """
    emails = [person.email for person in people]
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))} if emails else {}
    enrollments = (
        {
            e.user_id: e
            for e in db.session.scalars(
                sa.select(Enrollment).where(
                    Enrollment.offering_id == offering.id, Enrollment.user_id.in_([u.id for u in users.values()])
                )
            )
        }
        if users
        else {}
    )
    lock_offering(offering.id)
    budget = access_changes.SeatBudget(offering)
    for person in people:
        user = users.get(person.email)
        enrollment = enrollments.get(user.id) if user is not None else None
        if user is not None and _own_account(offering, user):
            report.rejected.append(Rejection(person.line, person.email, OWN_ACCOUNT))
            continue
        refusal = _list_refusal(enrollment, zone)
        if refusal:
            report.rejected.append(Rejection(person.line, person.email, refusal))
            continue
        if budget.left == 0 and not (enrollment is not None and enrollment.is_active):
            report.rejected.append(Rejection(person.line, person.email, "The workshop is full"))
            continue
        created = False
        if user is None:
            user, created = _new_account(person.email, person.name)
        change = access_changes.grant(user, offering, AccessEvent.IMPORT, budget=budget)
        if not change.changed:
            report.already.append(person)
            continue
        (report.invited if created else report.enrolled).append(person)
        if notify:
            _mail_access(offering, user, job_id)
    report.rejected.sort(key=lambda rejection: rejection.line)
    db.session.flush()
    return report


def _list_refusal(enrollment: Enrollment | None, zone: str | None) -> str | None:
    """Why a list can't enrol this person, if the table forbids it."""
    if enrollment is None:
        return None  # never enrolled: a list may always enrol them
    try:
        next_status(enrollment, AccessEvent.IMPORT)
    except AccessRefused:
        return creator_note(enrollment, zone)
    return None


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "name",
    "email",
    "source",
    "status",
    "enrolled_at",
    "lessons_done",
    "lessons_total",
    "progress_percent",
    "order_id",
    "order_status",
    "amount_paid",
    "refunded",
]


def learners_csv(offering: Offering, query: str = "", status: EnrollmentStatus | None = None) -> str:
    """Every matching learner as spreadsheet-safe CSV (times in UTC, ISO 8601; money like 49.00), in two queries."""
    total = _lessons_total(offering)
    everyone = _matching_enrollments(offering, query, status).order_by(None)
    rows: Sequence[LearnerQueryRow] = db.session.execute(
        _learners_query(everyone).order_by(None).order_by(Enrollment.enrolled_at, Enrollment.id)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for enrollment, user, order, done, _number, _revoked in rows:
        row = LearnerRow(enrollment, user, order, done, total)
        cells = [
            user.name,
            user.email,
            row.source_label,
            row.status_label,
            enrollment.enrolled_at.isoformat(timespec="seconds"),
            str(done),
            str(total),
            str(row.percent),
            str(order.id) if order else "",
            row.order_label,
            decimal_amount(order.amount_cents, order.currency) if order else "",
            decimal_amount(order.refunded_cents, order.currency) if order else "",
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return out.getvalue()
