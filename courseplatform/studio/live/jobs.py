"""Importing an attendance report in the background: the upload answers at once, a job records the minutes.

The report is read in the request (so a file that can't be used is refused on the spot); the
job holds only what was read from it (each line's e-mail and seconds, and the lines that
couldn't be used) and records every learner's minutes in one transaction with its DONE mark.
Run again, it writes the same figures: an import replaces the minutes of the learners it names.
"""

from __future__ import annotations

from datetime import datetime

from ...extensions import db
from ...jobs import JobRefused, enqueue, job_of, job_progress
from ...models import Job, LiveSession, Offering, User
from .services import AttendanceImportResult, Entry, ParsedReport, ReportLine, import_report

KIND = "attendance.import"


def start_attendance_import(offering: Offering, session: LiveSession, report: ParsedReport, *, by: User) -> Job:
    """Record the job that imports the report's minutes (the caller commits; it runs after the commit)."""
    job = enqueue(
        KIND,
        {
            "session_id": session.id,
            "email_column": report.email_column,
            "minutes_column": report.minutes_column,
            "joined_column": report.joined_column,
            "left_column": report.left_column,
            "entries": [list(entry) for entry in report.entries],
            "problems": [[problem.line, problem.value, problem.reason] for problem in report.problems],
            "untimed": [[item.line, item.value, item.reason] for item in report.untimed],
        },
        owner_id=by.id,
        offering_id=offering.id,
    )
    job.progress_total = len(report.entries)
    return job


def import_attendance_job(job: Job) -> dict:
    """The job: record the minutes of the learners the report names, all at once; returns the report."""
    payload = job.payload
    offering = db.session.get(Offering, job.offering_id) if job.offering_id else None
    session = db.session.get(LiveSession, payload.get("session_id") or 0) if offering is not None else None
    if offering is None or session is None or session.offering_id != offering.id:
        raise JobRefused("The session was deleted before the report could be imported.")
    try:
        report = ParsedReport(
            email_column=str(payload["email_column"]),
            minutes_column=str(payload["minutes_column"]),
            entries=[_entry(*entry) for entry in payload["entries"]],
            problems=[ReportLine(int(line), str(value), str(reason)) for line, value, reason in payload["problems"]],
            joined_column=str(payload.get("joined_column") or ""),
            left_column=str(payload.get("left_column") or ""),
            untimed=[
                ReportLine(int(line), str(value), str(reason)) for line, value, reason in payload.get("untimed", [])
            ],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JobRefused("The report couldn't be read. Upload it again.") from exc
    result = import_report(offering, session, report)
    job_progress(job, len(report.entries), len(report.entries))
    return stored_result(result)


def _entry(line, email, seconds, joined=None, left=None) -> Entry:
    """A payload's line; jobs queued before join and leave times were read have three items."""
    moments = [datetime.fromisoformat(str(moment)).isoformat() if moment else None for moment in (joined, left)]
    return int(line), str(email), int(seconds), moments[0], moments[1]


def stored_result(result: AttendanceImportResult) -> dict:
    """What the report page shows, as JSON: the learners recorded by name and e-mail, and the lines not used."""

    def learner(item) -> dict:
        return {
            "user": {"name": item.user.name, "email": item.user.email},
            "minutes": item.minutes,
            "lines": item.lines,
            "late": item.late,
            "early": item.early,
            "away": item.away,
        }

    def line(item: ReportLine) -> dict:
        return {"line": item.line, "value": item.value, "reason": item.reason}

    return {
        "email_column": result.email_column,
        "minutes_column": result.minutes_column,
        "recorded": [learner(item) for item in result.recorded],
        "capped": [learner(item) for item in result.capped],
        "unmatched": [line(item) for item in result.unmatched],
        "problems": [line(item) for item in result.problems],
        "joined_column": result.joined_column,
        "left_column": result.left_column,
        "untimed": [line(item) for item in result.untimed],
    }


def attendance_job(offering: Offering, session: LiveSession, job_id: int) -> Job | None:
    """The offering's attendance-import job with this id for this session, or None."""
    job = job_of(KIND, job_id, offering_id=offering.id)
    if job is None or job.payload.get("session_id") != session.id:
        return None
    return job
