"""Attendance at live sessions: the roster with each learner's minutes, entered by hand or read from the
attendance report a meeting platform exports (Zoom, Google Meet, Microsoft Teams).

Reports are matched to learners by e-mail, case-insensitively. One person who left and
rejoined has several lines; their minutes add up. An import replaces the figures of the
learners it names (source "import") and leaves everyone else's alone. Minutes are kept up
to twice the session's length; the certificate counts at most the length itself
(`learning.progress.attendance_summary`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from ...continuing_education import kept_records
from ...csv_uploads import CsvRefused, Refusal, read_upload, refusal_message
from ...extensions import db
from ...formatting import zone_or_utc
from ...learning.progress import AttendanceSummary, credit_notes, credited_minutes
from ...models import Attendance, Enrollment, EnrollmentStatus, LiveCheckIn, LiveSession, Offering, User, utcnow

MAX_REPORT_BYTES = 1024 * 1024
# A report's table of participants starts within this many lines (Zoom and Teams put a summary first).
HEADER_SEARCH_LINES = 60


class AttendanceError(ValueError):
    """A report that can't be used as a whole; the message says why in the creator's words."""


class AttendanceKept(AttendanceError):
    """A cleared figure whose record the offering must keep (CE records retention)."""


class ColumnsNeeded(AttendanceError):
    """The report's columns weren't recognised: the creator picks them from `headers`."""

    def __init__(self, message: str, headers: list[str]) -> None:
        super().__init__(message)
        self.headers = headers


def max_minutes(session: LiveSession) -> int:
    """The most minutes that can be recorded for a session: twice its length (it may run over)."""
    return session.duration_minutes * 2


# ---------------------------------------------------------------------------
# The roster


@dataclass(frozen=True)
class AttendanceRow:
    """One active learner: their figure for this session, and their attendance across the offering."""

    enrollment: Enrollment
    record: Attendance | None
    summary: AttendanceSummary
    credited: int = 0  # this session's minutes counted for the certificate
    checked_in: bool = False
    notes: tuple[str, ...] = ()  # why this session earns nothing under the offering's rules

    @property
    def user(self) -> User:
        return self.enrollment.user

    @property
    def minutes(self) -> int | None:
        return self.record.minutes_attended if self.record is not None else None


def attendance_roster(offering: Offering, session: LiveSession) -> list[AttendanceRow]:
    """Every active learner of the offering with their minutes at `session` and their overall attendance.

    Three queries (four with check-in codes) whatever the number of learners or sessions;
    `offering.live_sessions` must be loaded.
    """
    enrollments = db.session.scalars(
        sa.select(Enrollment)
        .join(Enrollment.user)
        .where(Enrollment.offering_id == offering.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .options(contains_eager(Enrollment.user))
        .order_by(sa.func.lower(User.name), User.email)
    ).all()
    # Minutes counted as the certificate counts them.
    counted = credited_minutes(offering)
    records = {
        record.enrollment_id: (record, int(credited))
        for record, credited in db.session.execute(
            sa.select(Attendance, counted)
            .join(LiveSession, Attendance.live_session_id == LiveSession.id)
            .where(Attendance.live_session_id == session.id)
        )
    }
    checked_in = set(
        db.session.scalars(sa.select(LiveCheckIn.enrollment_id).where(LiveCheckIn.live_session_id == session.id))
        if offering.checkin_required
        else ()
    )
    attended: dict[int, int] = dict(
        db.session.execute(
            sa.select(Attendance.enrollment_id, sa.func.sum(counted))
            .select_from(Attendance)
            .join(LiveSession, Attendance.live_session_id == LiveSession.id)
            .join(Enrollment, Attendance.enrollment_id == Enrollment.id)
            .where(
                LiveSession.offering_id == offering.id,
                Enrollment.offering_id == offering.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
            .group_by(Attendance.enrollment_id)
        ).all()
    )
    scheduled = sum(s.duration_minutes for s in offering.live_sessions)
    rows = []
    for enrollment in enrollments:
        record, credited = records.get(enrollment.id, (None, 0))
        rows.append(
            AttendanceRow(
                enrollment,
                record,
                AttendanceSummary(int(attended.get(enrollment.id) or 0), scheduled, offering.min_attendance_percent),
                credited,
                enrollment.id in checked_in,
                tuple(credit_notes(offering, session, record, enrollment.id in checked_in)),
            )
        )
    return rows


# ---------------------------------------------------------------------------
# Saving


def _active_enrollments(offering: Offering, ids) -> dict[int, Enrollment]:
    if not ids:
        return {}
    return {
        enrollment.id: enrollment
        for enrollment in db.session.scalars(
            sa.select(Enrollment).where(
                Enrollment.offering_id == offering.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
                Enrollment.id.in_(ids),
            )
        )
    }


def _records(session: LiveSession, enrollment_ids) -> dict[int, Attendance]:
    if not enrollment_ids:
        return {}
    return {
        record.enrollment_id: record
        for record in db.session.scalars(
            sa.select(Attendance).where(
                Attendance.live_session_id == session.id, Attendance.enrollment_id.in_(enrollment_ids)
            )
        )
    }


def save_attendance(offering: Offering, session: LiveSession, minutes: dict[int, int | None]) -> int:
    """Record the minutes typed for each learner (None: not recorded) and flush; returns how many are recorded.

    Ids that aren't an active learner of the offering (revoked since the page was opened) are ignored.
    A figure left unchanged keeps where it came from. Clearing a figure the offering must keep as a CE
    record raises AttendanceKept, and nothing is saved.
    """
    enrollments = _active_enrollments(offering, list(minutes))
    records = _records(session, list(enrollments))
    cleared = [records[i].enrollment.user.name for i in enrollments if minutes[i] is None and i in records]
    if cleared:
        kept = kept_records(offering, session_ids=[session.id])
        if kept:
            raise AttendanceKept(
                f"Nothing was saved: the box of {', '.join(cleared)} was cleared, but this session's attendance "
                f"is kept. {kept.replace('It holds', 'It holds its')} Enter 0 for someone who didn't come."
            )
    now = utcnow()
    recorded = 0
    for enrollment_id in enrollments:
        value = minutes[enrollment_id]
        record = records.get(enrollment_id)
        if value is None:
            if record is not None:
                db.session.delete(record)
            continue
        if not 0 <= value <= max_minutes(session):
            raise ValueError(f"minutes out of range: {value}")
        recorded += 1
        if record is None:
            db.session.add(
                Attendance(
                    live_session_id=session.id,
                    enrollment_id=enrollment_id,
                    minutes_attended=value,
                    source="manual",
                    recorded_at=now,
                )
            )
        elif record.minutes_attended != value:
            record.minutes_attended = value
            record.source = "manual"
            record.recorded_at = now
            # A typed figure replaces what the report said, join and leave times included.
            record.intervals = record.late_minutes = record.early_minutes = record.away_minutes = None
    db.session.flush()
    return recorded


# ---------------------------------------------------------------------------
# Reading a meeting platform's report

EMAIL_KEYS = ("email", "emailaddress", "useremail", "participantemail", "attendeeemail", "mail")


@dataclass(frozen=True)
class ReportLine:
    """A line of the report that wasn't used, and why."""

    line: int
    value: str
    reason: str


# (line, e-mail, seconds, joined, left): the times in ISO 8601 UTC, or None when the report has none
# or they couldn't be read as times of this session.
Entry = tuple[int, str, int, str | None, str | None]


@dataclass
class ParsedReport:
    """The participants' lines of a report: e-mail, seconds attended and join and leave times when the
    report has them, plus the lines that can't be read."""

    email_column: str
    minutes_column: str
    entries: list[Entry] = field(default_factory=list)
    problems: list[ReportLine] = field(default_factory=list)
    joined_column: str = ""
    left_column: str = ""
    # Lines whose join and leave times weren't used (unreadable, or not on the session's day).
    untimed: list[ReportLine] = field(default_factory=list)


def _key(cell: str) -> str:
    return re.sub(r"[^a-z]", "", cell.lower())


def _email_column(keys: list[str]) -> int | None:
    for index, key in enumerate(keys):
        if key in EMAIL_KEYS:
            return index
    for index, key in enumerate(keys):
        if "email" in key:
            return index
    for index, key in enumerate(keys):
        if "upn" in key:  # Teams: "Participant ID (UPN)", the sign-in address
            return index
    return None


def _minutes_column(keys: list[str]) -> int | None:
    def first(test) -> int | None:
        return next((index for index, key in enumerate(keys) if test(key)), None)

    for test in (
        lambda k: "duration" in k and "minutes" in k,  # Zoom: "Duration (Minutes)", "Total Duration (Minutes)"
        lambda k: "minutes" in k,  # "Minutes attended", Zoom webinars' "Time in Session (minutes)"
        lambda k: "duration" in k,  # Teams: "In-Meeting Duration"; Meet: "Duration"
        lambda k: k in ("timeinsession", "timeinsessionminutes", "timeincall", "timeattended", "attended"),
    ):
        found = first(test)
        if found is not None:
            return found
    return None


JOINED_KEYS = ("jointime", "timejoined", "firstjoin", "firstjoined", "joined", "joinedat", "firstseen", "entered")
LEFT_KEYS = ("leavetime", "timeexited", "timeleft", "lastleave", "left", "leftat", "lastseen", "exited", "exittime")


def _time_column(keys: list[str], names: tuple[str, ...]) -> int | None:
    return next((index for index, key in enumerate(keys) if key in names), None)


# How meeting platforms write a moment: Zoom "03/10/2026 06:58:12 PM", Teams "3/10/26, 6:58:12 PM",
# Google Meet a clock time ("6:58 PM") on the meeting's day, others ISO 8601 or a day-first date.
# Times without an offset are on the session's clocks. A day-first reading is tried only when the
# month-first one doesn't land on the session's day.
MOMENT_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y, %I:%M:%S %p",
    "%m/%d/%y, %I:%M %p",
    "%m/%d/%y %I:%M:%S %p",
    "%m/%d/%y %I:%M %p",
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %I:%M %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y, %H:%M:%S",
    "%d/%m/%Y, %H:%M",
    "%d/%m/%y, %H:%M:%S",
    "%d/%m/%y, %H:%M",
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)
CLOCK_FORMATS = ("%I:%M:%S %p", "%I:%M %p", "%H:%M:%S", "%H:%M")
MAX_MOMENT_CHARS = 40
# A join or leave time further than this from the session's scheduled times isn't one of its times.
MOMENT_SLACK = timedelta(hours=12)


def parse_moment(value: str, session: LiveSession) -> datetime | None:
    """The instant (UTC) a report's join or leave cell names, or None when it isn't a time of `session`."""
    text = " ".join(value.split()).upper()
    if not text or len(text) > MAX_MOMENT_CHARS:
        return None
    zone = zone_or_utc(session.time_zone)
    start = session.starts_at
    try:
        end = start + timedelta(minutes=session.duration_minutes)
        earliest, latest = start - MOMENT_SLACK, end + MOMENT_SLACK
    except OverflowError:
        return None

    def on_the_day(moment: datetime) -> datetime | None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        moment = moment.astimezone(UTC)
        return moment if earliest <= moment <= latest else None

    try:
        found = on_the_day(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    else:
        return found
    for pattern in MOMENT_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        found = on_the_day(moment)
        if found is not None:
            return found
    local_start = start.astimezone(zone)
    for pattern in CLOCK_FORMATS:
        try:
            clock = datetime.strptime(text, pattern).time()
        except ValueError:
            continue
        # A clock time is on the session's day, the day before for a session starting just after midnight,
        # or the day after for one running past it.
        for day in (local_start.date() + timedelta(days=offset) for offset in (-1, 0, 1)):
            found = on_the_day(datetime.combine(day, clock))
            if found is not None and found >= start - timedelta(hours=6):
                return found
        return None
    return None


def _readings_nearest(joined: datetime, left: datetime, seconds: int, zone) -> tuple[datetime, datetime]:
    """In the hour the clocks repeat when they fall back, a time without an offset names two instants:
    the readings of the join and leave times whose span is nearest the line's own duration."""

    def readings(moment: datetime) -> set[datetime]:
        local = moment.astimezone(zone)
        return {moment, local.replace(fold=1 - local.fold).astimezone(UTC)}

    pairs = [(j, lv) for j in readings(joined) for lv in readings(left) if lv >= j]
    if not pairs:
        return joined, left
    return min(pairs, key=lambda pair: (abs((pair[1] - pair[0]).total_seconds() - seconds), pair != (joined, left)))


def _unit_seconds(header: str) -> int:
    key = _key(header)
    if "seconds" in key or key.endswith("secs"):
        return 1
    if "hours" in key:
        return 3600
    return 60


# A cell longer than this, or a figure over this many minutes (about ten weeks), isn't a meeting's
# attendance: its line is reported as unreadable. Checked before any conversion, so that a tampered
# report (`NaN`, `1e400`, thousands of digits) can't fail the import or keep the server busy.
MAX_DURATION_CHARS = 40
MAX_DURATION_MINUTES = 100_000
MAX_DURATION_SECONDS = MAX_DURATION_MINUTES * 60

DURATION_PART = re.compile(
    r"([0-9]{1,9}(?:[.,][0-9]{1,9})?)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.ASCII
)
CLOCK = re.compile(r"([0-9]{1,7}):([0-9]{2})(?::([0-9]{2}))?")


def _seconds(number: Decimal, scale: int) -> int | None:
    """Whole seconds in `number` units of `scale` seconds, or None unless it's finite, from 0 to the maximum."""
    if not number.is_finite() or number < 0 or number > MAX_DURATION_SECONDS:
        return None
    seconds = number * scale  # at most the maximum times an hour: no overflow, no huge integer
    return int(seconds) if seconds <= MAX_DURATION_SECONDS else None


def parse_duration(value: str, unit_seconds: int = 60) -> int | None:
    """Seconds in a report's duration cell: `45` (in the column's unit), `1:05:30`, `1 hr 5 min`, `1h 5m 30s`.

    None for anything else, including figures that aren't finite or exceed MAX_DURATION_MINUTES.
    """
    text = value.strip().lower()
    if not text or len(text) > MAX_DURATION_CHARS:
        return None
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        pass
    else:
        return _seconds(number, unit_seconds)
    clock = CLOCK.fullmatch(text)
    if clock:  # h:mm:ss, or h:mm as spreadsheets write it
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return _seconds(Decimal(hours * 3600 + minutes * 60 + seconds), 1)
    parts = DURATION_PART.findall(text)
    if not parts or DURATION_PART.sub("", text).strip(" ,"):
        return None
    total = Decimal(0)
    for number, unit in parts:
        scale = 3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1
        total += Decimal(number.replace(",", ".")) * scale
    return _seconds(total, 1)


@dataclass(frozen=True)
class _Table:
    """A header line with the e-mail and minutes columns found in it, and the lines below it up to a blank one."""

    position: int
    cells: list[str]
    email_at: int
    minutes_at: int
    rows: list[tuple[int, list[str]]]


def _column(cells: list[str], keys: list[str], chosen: str | None, detect) -> int | None:
    if chosen:
        return cells.index(chosen) if chosen in cells else None
    return detect(keys)


def _header_like(row: list[str]) -> list[str]:
    """The row's cells when it could be a header (two names or more, no e-mail address), else []."""
    cells = [cell.strip() for cell in row]
    if sum(1 for cell in cells if cell) < 2 or any("@" in cell for cell in cells):
        return []
    return cells


def _tables(rows, email_column: str | None, minutes_column: str | None) -> list[_Table]:
    tables: list[_Table] = []
    current: _Table | None = None
    for position, (line, row) in enumerate(rows):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            if current is not None and current.rows:
                current = None  # a blank line ends a table (reports put other sections below)
            continue
        if not any("@" in cell for cell in cells):
            keys = [_key(cell) for cell in cells]
            email_at = _column(cells, keys, email_column, _email_column)
            minutes_at = _column(cells, keys, minutes_column, _minutes_column)
            if email_at is not None and minutes_at is not None and email_at != minutes_at:
                current = _Table(position, cells, email_at, minutes_at, [])
                tables.append(current)
                continue
        if current is not None:
            current.rows.append((line, row))
    return tables


REPORT_REFUSALS = {
    Refusal.TOO_LARGE: "That file is larger than 1 MB. Export the report for this one meeting only.",
    Refusal.NOT_CSV: "That file isn't a CSV. Export the attendance report as CSV and upload that.",
    Refusal.UNREADABLE: "We couldn't read that file's text. Export it again as CSV.",
    Refusal.EMPTY: "That file is empty. Export the meeting's attendance report as CSV and upload it.",
}


def read_report(
    data: bytes,
    email_column: str | None = None,
    minutes_column: str | None = None,
    session: LiveSession | None = None,
) -> ParsedReport:
    """The participants in an attendance report, by e-mail with seconds attended and, when the report
    has them and `session` is given, join and leave times.

    Finds the participants' header line (Zoom and Teams put a meeting summary first) and its
    e-mail and duration columns by name, unless the creator named them. The table ends at
    the first blank line after it. Raises ColumnsNeeded when the columns can't be told,
    AttendanceError when the file can't be used at all.
    """
    try:
        rows = list(read_upload(data, max_bytes=MAX_REPORT_BYTES).rows())
    except CsvRefused as refused:
        raise AttendanceError(refusal_message(refused, REPORT_REFUSALS)) from refused

    tables = [table for table in _tables(rows, email_column, minutes_column) if table.rows]
    if not tables:
        candidates = [_header_like(row) for _line, row in rows[:HEADER_SEARCH_LINES]]
        candidates = [cells for cells in candidates if cells]
        named = next((cells for cells in candidates if _email_column([_key(c) for c in cells]) is not None), None)
        headers = [cell for cell in (named or (candidates[0] if candidates else [])) if cell]
        if not headers:
            raise AttendanceError("That file has no header line naming its columns (such as “Email” and “Duration”).")
        raise ColumnsNeeded(
            "We couldn't tell which columns hold the e-mail addresses and the minutes attended. "
            "Choose them below and upload the file again.",
            headers,
        )
    # Zoom's "with meeting data" export starts with a one-line meeting table naming the host's e-mail
    # and the meeting's length; Teams lists participants, then each join: the longest table wins.
    table = max(tables, key=lambda t: (len(t.rows), t.position))
    cells, email_at, minutes_at = table.cells, table.email_at, table.minutes_at
    unit = _unit_seconds(cells[minutes_at])
    report = ParsedReport(email_column=cells[email_at], minutes_column=cells[minutes_at])
    keys = [_key(cell) for cell in cells]
    joined_at = _time_column(keys, JOINED_KEYS) if session is not None else None
    left_at = _time_column(keys, LEFT_KEYS) if session is not None else None
    if joined_at is None or left_at is None:
        joined_at = left_at = None
    else:
        report.joined_column, report.left_column = cells[joined_at], cells[left_at]
    for line, row in table.rows:
        raw_email = row[email_at].strip() if email_at < len(row) else ""
        raw_minutes = row[minutes_at].strip() if minutes_at < len(row) else ""
        shown = raw_email or next((cell.strip() for cell in row if cell.strip()), "")
        if not raw_email:
            report.problems.append(ReportLine(line, shown, "No e-mail address (a guest who didn't sign in?)"))
            continue
        email = User.normalize_email(raw_email)
        if "@" not in email or " " in email or len(email) > 254:
            report.problems.append(ReportLine(line, raw_email, "Not an e-mail address"))
            continue
        seconds = parse_duration(raw_minutes, unit)
        if seconds is None:
            shown_minutes = raw_minutes
            if len(shown_minutes) > MAX_DURATION_CHARS:
                shown_minutes = shown_minutes[:MAX_DURATION_CHARS] + "…"
            report.problems.append(
                ReportLine(line, raw_email, f"“{shown_minutes}” isn't a duration we can read, so it wasn't imported")
            )
            continue
        joined = left = None
        if session is not None and joined_at is not None and left_at is not None:
            raw_joined = row[joined_at] if joined_at < len(row) else ""
            raw_left = row[left_at] if left_at < len(row) else ""
            joined, left = parse_moment(raw_joined, session), parse_moment(raw_left, session)
            if joined is not None and left is not None:
                joined, left = _readings_nearest(joined, left, seconds, zone_or_utc(session.time_zone))
            if joined is None or left is None or left < joined:
                joined = left = None
                report.untimed.append(
                    ReportLine(line, raw_email, "its join and leave times aren't times of this session")
                )
        report.entries.append(
            (line, email, seconds, joined.isoformat() if joined else None, left.isoformat() if left else None)
        )
    if not report.entries and not report.problems:
        raise AttendanceError("That report lists nobody. Check it's the attendance report of the meeting.")
    if session is not None:
        _untime_if_off_the_clock(report, session)
    return report


def _untime_if_off_the_clock(report: ParsedReport, session: LiveSession) -> None:
    """Meeting platforms write times on the account's clocks, which may not be the session's: when nobody's
    join and leave times meet the scheduled session at all, they are taken as on other clocks and left out."""
    timed = [(line, email, joined, left) for line, email, _seconds, joined, left in report.entries if joined and left]
    start, end = session.starts_at, session.ends_at
    meets = (
        datetime.fromisoformat(joined) < end and datetime.fromisoformat(left) > start for *_, joined, left in timed
    )
    if not timed or any(meets):
        return
    zone = session.time_zone.replace("_", " ")
    reason = f"no one's times meet the session: export the report on the session's clocks ({zone})"
    report.entries = [(line, email, seconds, None, None) for line, email, seconds, _j, _l in report.entries]
    report.untimed = [ReportLine(line, email, reason) for line, email, _joined, _left in timed]


# ---------------------------------------------------------------------------
# Importing


@dataclass(frozen=True)
class SignInSheet:
    """One learner's join and leave times at a session, measured against its scheduled times."""

    intervals: list[list[str]]  # [[joined, left], ...] in ISO 8601 UTC, in order, as the report had them
    seconds: int  # time in the meeting, overlapping lines counted once
    late_minutes: int
    early_minutes: int
    away_minutes: int  # missed between the first join and the last leave, within the scheduled time


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for joined, left in sorted(spans):
        if merged and joined <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], left))
        else:
            merged.append((joined, left))
    return merged


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()) + 30) // 60


def sign_in_sheet(
    session: LiveSession, spans: list[tuple[datetime, datetime]], reported_seconds: int | None = None
) -> SignInSheet | None:
    """The sign-in sheet of one learner's join and leave times (None without any).

    `reported_seconds`, the report's own durations added up, caps the time in the meeting: a summary
    line (Teams' first join and last leave, Zoom's "unique users") spans the time away too, which its
    duration leaves out, so the difference (beyond a minute a line of rounding) counts as time away.
    """
    if not spans:
        return None
    merged = _merged(spans)
    start, end = session.starts_at, session.ends_at
    first, last = merged[0][0], merged[-1][1]
    late = min(max(first - start, timedelta(0)), end - start)
    early = min(max(end - last, timedelta(0)), end - start)
    inside = sum(
        (min(left, end) - max(joined, start) for joined, left in merged if left > start and joined < end),
        timedelta(0),
    )
    seconds = int(sum((left - joined for joined, left in merged), timedelta(0)).total_seconds())
    hidden = timedelta(0)
    # A minute a line of rounding (Zoom rounds each line's minutes up, Teams writes seconds).
    if reported_seconds is not None and reported_seconds < seconds - 60 * len(spans):
        hidden = timedelta(seconds=seconds - reported_seconds)
        seconds = reported_seconds
    away = min(max(end - start - late - early - inside, timedelta(0)) + hidden, end - start - late - early)
    return SignInSheet(
        intervals=[[joined.isoformat(), left.isoformat()] for joined, left in sorted(spans)],
        seconds=seconds,
        late_minutes=_minutes(late),
        early_minutes=_minutes(early),
        away_minutes=_minutes(max(away, timedelta(0))),
    )


@dataclass(frozen=True)
class ImportedLearner:
    """A learner the report named, with the minutes recorded and the lines they came from."""

    user: User
    minutes: int
    lines: list[int]
    # From join and leave times: minutes missed at the start, at the end and in between (None without).
    late: int | None = None
    early: int | None = None
    away: int | None = None


@dataclass
class AttendanceImportResult:
    """What an import did: the learners recorded, the addresses that aren't learners, the lines not used."""

    email_column: str
    minutes_column: str
    recorded: list[ImportedLearner] = field(default_factory=list)
    unmatched: list[ReportLine] = field(default_factory=list)
    problems: list[ReportLine] = field(default_factory=list)
    capped: list[ImportedLearner] = field(default_factory=list)
    joined_column: str = ""
    left_column: str = ""
    untimed: list[ReportLine] = field(default_factory=list)


def import_report(offering: Offering, session: LiveSession, report: ParsedReport) -> AttendanceImportResult:
    """Record the report's minutes for the active learners it names, replacing their earlier figures (flushed).

    A learner with a line that couldn't be read keeps their earlier figure (a partial sum would be wrong).
    """
    result = AttendanceImportResult(
        report.email_column,
        report.minutes_column,
        problems=list(report.problems),
        joined_column=report.joined_column,
        left_column=report.left_column,
        untimed=list(report.untimed),
    )
    blocked = {User.normalize_email(problem.value) for problem in report.problems}
    seconds: dict[str, int] = {}
    lines: dict[str, list[int]] = {}
    spans: dict[str, list[tuple[datetime, datetime]] | None] = {}
    for line, email, attended, joined, left in report.entries:
        seconds[email] = seconds.get(email, 0) + attended
        lines.setdefault(email, []).append(line)
        # One line without times leaves the learner's times unknown (a partial sign-in sheet would mislead).
        known = spans.setdefault(email, [])
        if known is not None and joined and left:
            known.append((datetime.fromisoformat(joined), datetime.fromisoformat(left)))
        else:
            spans[email] = None
    learners = (
        {
            enrollment.user.email: enrollment
            for enrollment in db.session.scalars(
                sa.select(Enrollment)
                .join(Enrollment.user)
                .where(
                    Enrollment.offering_id == offering.id,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                    User.email.in_(list(seconds)),
                )
                .options(contains_eager(Enrollment.user))
            )
        }
        if seconds
        else {}
    )
    records = _records(session, [enrollment.id for enrollment in learners.values()])
    now = utcnow()
    for email, total in seconds.items():
        enrollment = learners.get(email)
        if enrollment is None:
            line = lines[email][0]
            result.unmatched.append(ReportLine(line, email, "Not an active learner of this offering"))
            continue
        if email in blocked:
            continue
        sheet = sign_in_sheet(session, spans[email] or [], total)
        if sheet is not None:
            total = sheet.seconds  # overlapping lines (two devices) count once
        minutes = (total + 30) // 60  # to the nearest minute, in integers (each line is at most the maximum)
        imported = ImportedLearner(
            enrollment.user,
            min(minutes, max_minutes(session)),
            lines[email],
            *((sheet.late_minutes, sheet.early_minutes, sheet.away_minutes) if sheet else ()),
        )
        if minutes > max_minutes(session):
            result.capped.append(imported)
        result.recorded.append(imported)
        record = records.get(enrollment.id)
        if record is None:
            record = Attendance(live_session_id=session.id, enrollment_id=enrollment.id)
            db.session.add(record)
        record.minutes_attended = imported.minutes
        record.source = "import"
        record.recorded_at = now
        record.intervals = sheet.intervals if sheet else None
        record.late_minutes = sheet.late_minutes if sheet else None
        record.early_minutes = sheet.early_minutes if sheet else None
        record.away_minutes = sheet.away_minutes if sheet else None
    result.recorded.sort(key=lambda item: (item.user.name.lower(), item.user.email))
    result.unmatched.sort(key=lambda item: item.line)
    db.session.flush()
    return result
