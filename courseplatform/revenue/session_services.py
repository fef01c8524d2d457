"""Session income: the creator's log of 1:1 work, by entry, by month or from an import.

Services only flush; the view commits. Every query is scoped to one creator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CreatorProfile, PayerKind, SessionIncome, SessionIncomeSource
from ..pagination import paginate
from .session_import import CONTRIBUTION_CHARS, ParsedRow

PER_PAGE = 50
KEY_CHUNK = 900  # bound parameters per lookup, well under SQLite's limit

SOURCE_LABELS = {
    SessionIncomeSource.MANUAL: "Entry",
    SessionIncomeSource.MONTHLY: "Month total",
    SessionIncomeSource.IMPORT: "Imported",
    SessionIncomeSource.IMPORT_MONTH: "Imported month",
}


class SessionIncomeError(Exception):
    """Something the creator asked for can't be done; the message says why."""


@dataclass(frozen=True)
class Totals:
    currency: str
    entries: int
    sessions: int
    minutes: int
    amount_cents: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True)
class SessionLedger:
    rows: list[SessionIncome]
    totals: list[Totals]
    entries: int
    page: int
    pages: int
    month: date | None


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _scope(profile: CreatorProfile, month: date | None) -> list:
    conditions = [SessionIncome.creator_id == profile.id]
    if month is not None:
        conditions += [SessionIncome.session_date >= month, SessionIncome.session_date < _next_month(month)]
    return conditions


def session_ledger(
    profile: CreatorProfile, month: date | None = None, page: int = 1, per_page: int = PER_PAGE
) -> SessionLedger:
    """A page of entries, newest first, and the totals of the month (or of everything): two queries."""
    conditions = _scope(profile, month)
    totals = [
        Totals(currency, entries, sessions or 0, minutes or 0, amount or 0)
        for currency, entries, sessions, minutes, amount in db.session.execute(
            sa.select(
                SessionIncome.currency,
                sa.func.count(SessionIncome.id),
                sa.func.sum(SessionIncome.sessions),
                sa.func.sum(sa.cast(SessionIncome.sessions, sa.BigInteger) * SessionIncome.minutes_each),
                sa.func.sum(SessionIncome.amount_cents),
            )
            .where(*conditions)
            .group_by(SessionIncome.currency)
            .order_by(sa.func.count(SessionIncome.id).desc())
        )
    ]
    entries = sum(t.entries for t in totals)
    found = paginate(
        sa.select(SessionIncome)
        .where(*conditions)
        .order_by(SessionIncome.session_date.desc(), SessionIncome.id.desc()),
        page,
        per_page,
        total=entries,
    )
    return SessionLedger(
        rows=found.items, totals=totals, entries=entries, page=found.page, pages=found.pages, month=month
    )


def owned_entry(profile: CreatorProfile, entry_id: int) -> SessionIncome | None:
    """One of this creator's entries, or None (someone else's is as good as missing)."""
    return db.session.scalar(
        sa.select(SessionIncome).where(SessionIncome.id == entry_id, SessionIncome.creator_id == profile.id)
    )


def add_entry(profile: CreatorProfile, values: dict) -> SessionIncome:
    """Log one day's sessions, in the creator's currency."""
    entry = SessionIncome(creator_id=profile.id, currency=profile.currency, source=SessionIncomeSource.MANUAL, **values)
    db.session.add(entry)
    db.session.flush()
    return entry


def update_entry(profile: CreatorProfile, entry: SessionIncome, values: dict) -> SessionIncome:
    """Correct an entry; a month total keeps being the only one for its month and payer."""
    for name, value in values.items():
        setattr(entry, name, value)
    if entry.source is SessionIncomeSource.IMPORT_MONTH:
        entry.session_date = entry.session_date.replace(day=1)  # a month's total stays a month's
    if entry.source is SessionIncomeSource.MONTHLY:
        entry.session_date = entry.session_date.replace(day=1)
        key = monthly_key(entry.session_date, entry.payer_kind)
        if key != entry.import_key and _monthly_entry(profile, key) is not None:
            raise SessionIncomeError(
                f"You already have a {entry.payer_kind.label.lower()} total for "
                f"{entry.session_date:%B %Y}. Edit that one instead."
            )
        entry.import_key = key
    db.session.flush()
    return entry


def delete_entry(entry: SessionIncome) -> None:
    """Remove an entry for good."""
    db.session.delete(entry)
    db.session.flush()


# ---------------------------------------------------------------------------
# A month in one line
# ---------------------------------------------------------------------------


def monthly_key(first: date, payer: PayerKind) -> str:
    """The one month total a creator may have per month and payer kind (held unique by the database)."""
    return f"monthly:{first:%Y-%m}:{payer.value}"


def _monthly_entry(profile: CreatorProfile, key: str) -> SessionIncome | None:
    return db.session.scalar(
        sa.select(SessionIncome).where(SessionIncome.creator_id == profile.id, SessionIncome.import_key == key)
    )


@dataclass(frozen=True)
class MonthSituation:
    """What the month already holds, so a month total never double counts silently."""

    existing: SessionIncome | None  # the month total this one would replace
    other_entries: int  # entries by day or imported
    other_sessions: int
    other_amount_cents: int

    @property
    def needs_confirmation(self) -> bool:
        return self.existing is not None or self.other_entries > 0


def month_situation(profile: CreatorProfile, first: date, payer: PayerKind) -> MonthSituation:
    """The month total already entered for this month and payer, and what else is logged that month."""
    key = monthly_key(first, payer)
    others = db.session.execute(
        sa.select(
            sa.func.count(SessionIncome.id),
            sa.func.coalesce(sa.func.sum(SessionIncome.sessions), 0),
            sa.func.coalesce(sa.func.sum(SessionIncome.amount_cents), 0),
        ).where(
            *_scope(profile, first),
            SessionIncome.source != SessionIncomeSource.MONTHLY,
        )
    ).one()
    return MonthSituation(_monthly_entry(profile, key), *others)


def record_month(
    profile: CreatorProfile, first: date, sessions: int, amount_cents: int, minutes_each: int, payer: PayerKind
) -> tuple[SessionIncome, bool]:
    """Save a month's total as one entry dated the 1st, replacing that month's earlier total; (entry, replaced)."""
    key = monthly_key(first, payer)
    entry = _monthly_entry(profile, key)
    replaced = entry is not None
    if entry is None:
        entry = SessionIncome(
            creator_id=profile.id, source=SessionIncomeSource.MONTHLY, import_key=key, payer_kind=payer
        )
        db.session.add(entry)
    entry.session_date = first
    entry.sessions = sessions
    entry.minutes_each = minutes_each
    entry.amount_cents = amount_cents
    entry.currency = profile.currency
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same total saved at the same moment from another tab
        raise SessionIncomeError(f"{first:%B %Y} was saved a moment ago. Check the list and edit it there.") from exc
    return entry, replaced


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionIncomeImportResult:
    imported: int
    already: int
    replaced: int = 0  # earlier lines of the file's months that this import replaced


def _replaceable(profile: CreatorProfile, rows: list[ParsedRow]) -> sa.Select:
    """What importing these rows replaces, but for the lines it would import again (same fingerprint).

    Lines of days replace the imported lines between the file's first and last day, and the month totals
    (typed or imported) of the months they touch: an export of "the last 30 days" leaves the earlier half
    of its first month alone. Month totals replace everything imported or totalled in their months.
    """
    days = [row.session_date for row in rows if not row.whole_month]
    months = sorted({row.session_date.replace(day=1) for row in rows if row.whole_month})
    replaced = []
    if days:
        replaced += [
            sa.and_(
                SessionIncome.source == SessionIncomeSource.IMPORT,
                SessionIncome.session_date >= min(days),
                SessionIncome.session_date <= max(days),
            ),
            sa.and_(
                SessionIncome.source.in_([SessionIncomeSource.MONTHLY, SessionIncomeSource.IMPORT_MONTH]),
                SessionIncome.session_date.in_(sorted({day.replace(day=1) for day in days})),
            ),
        ]
    if months:
        replaced.append(
            sa.and_(
                SessionIncome.source != SessionIncomeSource.MANUAL,
                sa.or_(
                    *(
                        sa.and_(SessionIncome.session_date >= first, SessionIncome.session_date < _next_month(first))
                        for first in months
                    )
                ),
            )
        )
    return sa.select(SessionIncome).where(
        SessionIncome.creator_id == profile.id,
        sa.or_(*replaced),
        sa.func.coalesce(SessionIncome.import_key, "").not_in([row.import_key for row in rows]),
    )


def overlapping_months(profile: CreatorProfile, rows: list[ParsedRow]) -> list[tuple[date, int]]:
    """(month, lines) for each month of the file that already holds imported lines or a month total from
    elsewhere: importing replaces them, as entering a month's total again does, so the preview warns first."""
    if not rows:
        return []
    found = Counter(entry.session_date.replace(day=1) for entry in db.session.scalars(_replaceable(profile, rows)))
    return sorted(found.items())


def look_alike_rows(profile: CreatorProfile, rows: list[ParsedRow]) -> int:
    """How many new rows match an entry typed by hand on the same day for the same amount: importing adds
    them beside it, so the preview says so. (Imported lines and month totals of the file's dates are
    replaced, not added to: `overlapping_months` names those.)"""
    if not rows:
        return 0
    known = existing_import_keys(profile, [row.import_key for row in rows])
    fresh = [row for row in rows if row.import_key not in known]
    if not fresh:
        return 0
    logged: Counter[tuple[date, int]] = Counter(
        (day, amount)
        for day, amount in db.session.execute(
            sa.select(SessionIncome.session_date, SessionIncome.amount_cents).where(
                SessionIncome.creator_id == profile.id,
                SessionIncome.source == SessionIncomeSource.MANUAL,
                SessionIncome.session_date >= min(row.session_date for row in fresh),
                SessionIncome.session_date <= max(row.session_date for row in fresh),
            )
        )
    )
    alike = 0
    for row in fresh:
        if logged[row.session_date, row.amount_cents]:
            logged[row.session_date, row.amount_cents] -= 1
            alike += 1
    return alike


def _known_contributions(profile: CreatorProfile, rows: list[ParsedRow]) -> set[str]:
    """The contributions of these month totals (a file's lines of a month) that the creator already has."""
    wanted = sorted({row.import_key[:CONTRIBUTION_CHARS] for row in rows if row.whole_month})
    if not wanted:
        return set()
    prefix = sa.func.substr(SessionIncome.import_key, 1, CONTRIBUTION_CHARS)
    return set(
        db.session.scalars(
            sa.select(prefix)
            .where(
                SessionIncome.creator_id == profile.id,
                SessionIncome.source == SessionIncomeSource.IMPORT_MONTH,
                prefix.in_(wanted),
            )
            .distinct()
        )
    )


def existing_import_keys(profile: CreatorProfile, keys: list[str]) -> set[str]:
    """Which of these row fingerprints this creator already has."""
    found: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):
        found.update(
            db.session.scalars(
                sa.select(SessionIncome.import_key).where(
                    SessionIncome.creator_id == profile.id,
                    SessionIncome.import_key.in_(keys[start : start + KEY_CHUNK]),
                )
            )
        )
    return found


def import_sessions(
    profile: CreatorProfile, rows: list[ParsedRow], *, replace: bool = True
) -> SessionIncomeImportResult:
    """Add the rows not imported before; rows already there (same fingerprint) are left alone, and the other
    imported lines and month totals of the file's months are replaced (the preview said so).

    With `replace` False (month totals that continue an earlier file's months), nothing is replaced: the
    totals are added to their months, but for those of a contribution the month already holds.
    """
    if not rows:
        return SessionIncomeImportResult(0, 0)
    replaced = list(db.session.scalars(_replaceable(profile, rows))) if replace else []
    for entry in replaced:
        db.session.delete(entry)
    db.session.flush()
    already = existing_import_keys(profile, [row.import_key for row in rows])
    if not replace:
        known = _known_contributions(profile, rows)
        already |= {row.import_key for row in rows if row.import_key[:CONTRIBUTION_CHARS] in known}
    fresh = [
        {
            "creator_id": profile.id,
            "session_date": row.session_date,
            "sessions": row.sessions,
            "minutes_each": row.minutes_each,
            "amount_cents": row.amount_cents,
            "currency": profile.currency,
            "payer_kind": row.payer_kind,
            "kind": row.kind,
            "source": SessionIncomeSource.IMPORT_MONTH if row.whole_month else SessionIncomeSource.IMPORT,
            "import_key": row.import_key,
        }
        for row in rows
        if row.import_key not in already
    ]
    imported = 0
    if fresh:
        insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        # ON CONFLICT DO NOTHING: an import running at the same moment can't make a duplicate.
        statement = (
            insert(SessionIncome)
            .on_conflict_do_nothing(index_elements=["creator_id", "import_key"])
            .returning(SessionIncome.id)
        )
        imported = len(db.session.execute(statement, fresh).all())
    return SessionIncomeImportResult(imported=imported, already=len(rows) - imported, replaced=len(replaced))
