"""Importing session income in the background: the confirm step answers at once, a job adds the rows.

The job's payload holds only the reduced rows the preview already kept (date, count, minutes,
amount, payer kind, fingerprint) and what the report says about the file (column names,
lines skipped and why): nothing that could identify a client. Every row is inserted in one
transaction with the job's DONE mark, so a worker that dies half-way leaves nothing applied,
and the rows' fingerprints make a second run add nothing.
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from ..extensions import db
from ..jobs import JobRefused, enqueue, job_of, job_progress
from ..models import CreatorProfile, Job, JobStatus, PayerKind, SessionIncomeKind, User
from .session_import import BadRow, ParsedRow
from .session_services import import_sessions

KIND = "sessions.import"
# The report lists this many skipped lines; the rest are counted.
MAX_SKIPPED_SHOWN = 200
QUOTED_VALUE = re.compile(r" “[0-9\s$£€.,:/\-()]{1,20}”")


def start_session_import(
    by: User,
    rows: list[ParsedRow],
    skipped: list[BadRow],
    *,
    dropped: list[str],
    mapped: dict[str, str],
    by_month: bool = False,
    replace: bool = True,
) -> Job:
    """Record the job that imports the rows (the caller commits; it runs after the commit).

    `by_month`: the rows are already added up by month (the creator keeps monthly totals only); `replace`
    False adds them to what their months hold instead of replacing it.
    """
    job = enqueue(
        KIND,
        {
            "rows": [_stored(row) for row in rows],
            "by_month": by_month,
            "replace": replace,
            # Kept as monthly totals, no day is stored: not even one a skipped line's reason quotes.
            "skipped": [
                [bad.line, _unquoted(bad.reason) if by_month else bad.reason] for bad in skipped[:MAX_SKIPPED_SHOWN]
            ],
            "skipped_count": len(skipped),
            "dropped": dropped,
            "mapped": mapped,
        },
        owner_id=by.id,
    )
    job.progress_total = len(rows)
    return job


def _unquoted(reason: str) -> str:
    """A skipped line's reason without the value it quotes (a date, an amount: digits and punctuation)."""
    return QUOTED_VALUE.sub("", reason)


def import_sessions_job(job: Job) -> dict:
    """The job: add the rows not imported before, all at once; returns the counts for the report."""
    # Hold the job's row for the whole transaction: a second worker that took the job over after a
    # lease ran out waits here, then finds it done and reports what the first one did.
    job = db.session.execute(
        sa.select(Job).where(Job.id == job.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if job.status is JobStatus.DONE and job.result is not None:
        return dict(job.result)
    profile = (
        db.session.scalar(sa.select(CreatorProfile).where(CreatorProfile.user_id == job.owner_id))
        if job.owner_id
        else None
    )
    if profile is None:
        raise JobRefused("The account these sessions belong to no longer exists.")
    rows = [_row(stored) for stored in job.payload.get("rows", [])]
    result = import_sessions(profile, rows, replace=job.payload.get("replace", True) is not False)
    job_progress(job, len(rows), len(rows))
    counts = {"imported": result.imported, "already": result.already}
    if result.replaced:
        counts["replaced"] = result.replaced
    return counts


def _stored(row: ParsedRow) -> list:
    """A row as the job keeps it: line, date, count, minutes, amount, payer kind, fingerprint, kind, whether
    it is a month's total; nothing else."""
    return [
        row.line,
        row.session_date.isoformat(),
        row.sessions,
        row.minutes_each,
        row.amount_cents,
        row.payer_kind.value,
        row.import_key,
        row.kind.value,
        row.whole_month,
    ]


def _row(stored: list) -> ParsedRow:
    try:
        # Jobs queued by earlier releases keep seven values (sessions of a day) or eight (a day's lines).
        missing: list = [SessionIncomeKind.SESSION.value, False][len(stored) - 9 :] if len(stored) in (7, 8) else []
        line, day, sessions, minutes, amount, payer, key, kind, whole_month = [*stored, *missing]
        if not isinstance(whole_month, bool):
            raise TypeError("whole_month")
        return ParsedRow(
            line,
            date.fromisoformat(day),
            int(sessions),
            int(minutes),
            int(amount),
            PayerKind(payer),
            key,
            SessionIncomeKind(kind),
            whole_month,
        )
    except (TypeError, ValueError) as exc:
        raise JobRefused("The sessions to import couldn't be read. Upload the file again.") from exc


def session_import_job(owner: User, job_id: int) -> Job | None:
    """The creator's own session-import job with this id, or None (anyone else's, or another kind)."""
    return job_of(KIND, job_id, owner_id=owner.id)
