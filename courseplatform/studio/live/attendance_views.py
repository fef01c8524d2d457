"""Attendance at live sessions: entered by hand or imported from a meeting platform.

GET/POST /courses/<id>/sessions/<sid>/attendance                every active learner's minutes, saved at once
POST     /courses/<id>/sessions/<sid>/attendance/import         a meeting platform's report (CSV), as a job
GET      /courses/<id>/sessions/<sid>/check-in-code             the check-in code, to show during the session
POST     /courses/<id>/sessions/<sid>/check-in-code/new         create it (or a new one)
GET      /courses/<id>/sessions/<sid>/attendance/imports/<job>  the page with that import's progress, then report

Owner or admin only; anyone else gets 404.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ...access import owned_offering_or_404, studio_required
from ...extensions import db
from ...learning.live import checkin_is_over, new_checkin_code
from ...models import Job, JobStatus, LiveCheckIn, LiveSession, Offering, OfferingKind, utcnow
from .. import bp
from ..curriculum.services import session_zone
from .forms import AttendanceForm, AttendanceImportForm, CheckInCodeForm, attendance_form
from .jobs import attendance_job, start_attendance_import
from .services import (
    MAX_REPORT_BYTES,
    AttendanceError,
    AttendanceKept,
    ColumnsNeeded,
    attendance_roster,
    max_minutes,
    read_report,
    save_attendance,
)


def _session_of(offering_id: int, session_id: int) -> tuple[Offering, LiveSession]:
    offering = owned_offering_or_404(offering_id, selectinload(Offering.live_sessions), selectinload(Offering.creator))
    if offering.kind is not OfferingKind.LIVE_WORKSHOP:
        abort(404)
    session = next((s for s in offering.live_sessions if s.id == session_id), None)
    if session is None:
        abort(404)
    return offering, session


def _page(
    offering: Offering,
    session: LiveSession,
    form: AttendanceForm | None = None,
    upload: AttendanceImportForm | None = None,
    job: Job | None = None,
):
    roster = attendance_roster(offering, session)
    if form is None:
        form = attendance_form(
            max_minutes(session),
            data={"rows": [{"enrollment_id": row.enrollment.id, "minutes": row.minutes} for row in roster]},
        )
    # Each box beside its learner: the boxes as sent (with their errors), and new ones for anyone enrolled since.
    entries = {str(entry.form.enrollment_id.data): entry.form for entry in form.rows.entries}
    for row in roster:
        if str(row.enrollment.id) not in entries:
            entry = form.rows.append_entry({"enrollment_id": row.enrollment.id, "minutes": row.minutes})
            entries[str(row.enrollment.id)] = entry.form
    rows = [(row, entries[str(row.enrollment.id)]) for row in roster]
    return render_template(
        "studio/attendance.html",
        offering=offering,
        session=session,
        zone=session_zone(offering, current_user),
        now=utcnow(),
        form=form,
        rows=rows,
        recorded=sum(1 for row in roster if row.minutes is not None),
        upload=upload or AttendanceImportForm(),
        code_form=CheckInCodeForm(),
        checkin_over=checkin_is_over(session),
        job=job,
        report=job.result if job is not None and job.status is JobStatus.DONE else None,
        active_tab="studio.live_sessions",
    )


@bp.route("/courses/<int:offering_id>/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
@studio_required
def attendance(offering_id: int, session_id: int):
    """Who attended a session and for how long, typed in for every learner and saved at once."""
    offering, session = _session_of(offering_id, session_id)
    form = attendance_form(max_minutes(session)) if request.method == "POST" else None
    if form is not None and form.validate_on_submit():
        try:
            recorded = save_attendance(offering, session, form.minutes_by_enrollment())
        except AttendanceKept as kept:
            db.session.rollback()
            flash(str(kept), "error")
            return _page(offering, session, form=form), 400
        flash(f"Attendance saved: {recorded} learner{'' if recorded == 1 else 's'} recorded.", "success")
        return redirect(url_for("studio.attendance", offering_id=offering.id, session_id=session.id))
    return _page(offering, session, form=form)


@bp.post("/courses/<int:offering_id>/sessions/<int:session_id>/check-in-code/new")
@studio_required
def new_session_checkin_code(offering_id: int, session_id: int):
    """Create the session's check-in code (or a new one: check-ins already made stay), then show it."""
    offering, session = _session_of(offering_id, session_id)
    if not offering.checkin_required:
        abort(404)
    if checkin_is_over(session):
        flash("This session is over: a code created now would deny credit to everyone who attended.", "error")
        return redirect(url_for("studio.attendance", offering_id=offering.id, session_id=session.id))
    session.checkin_code = new_checkin_code()
    return redirect(url_for("studio.session_checkin_code", offering_id=offering.id, session_id=session.id))


@bp.get("/courses/<int:offering_id>/sessions/<int:session_id>/check-in-code")
@studio_required
def session_checkin_code(offering_id: int, session_id: int):
    """The code in large letters, to share on screen during the session, with how many have checked in."""
    offering, session = _session_of(offering_id, session_id)
    if not offering.checkin_required:
        abort(404)
    checked_in = db.session.scalar(
        sa.select(sa.func.count()).select_from(LiveCheckIn).where(LiveCheckIn.live_session_id == session.id)
    )
    return render_template(
        "studio/checkin_code.html",
        offering=offering,
        session=session,
        checked_in=checked_in,
        zone=session_zone(offering, current_user),
        form=CheckInCodeForm(),
        over=checkin_is_over(session),
    )


@bp.post("/courses/<int:offering_id>/sessions/<int:session_id>/attendance/import")
@studio_required
def import_attendance(offering_id: int, session_id: int):
    """Read a meeting platform's attendance report and start recording each matched learner's minutes."""
    offering, session = _session_of(offering_id, session_id)
    upload = AttendanceImportForm()
    chosen = [name for name in (upload.email_column.data, upload.minutes_column.data) if name]
    if chosen:
        upload.offer_columns(list(dict.fromkeys(chosen)))
    if not upload.validate_on_submit():
        return _page(offering, session, upload=upload)
    try:
        data = upload.file.data.read(MAX_REPORT_BYTES + 1)
    finally:
        upload.file.data.close()
    try:
        parsed = read_report(data, upload.email_column.data or None, upload.minutes_column.data or None, session)
    except ColumnsNeeded as needed:
        upload.offer_columns(needed.headers)
        upload.file.errors = [*upload.file.errors, str(needed)]
        return _page(offering, session, upload=upload)
    except AttendanceError as error:
        upload.file.errors = [*upload.file.errors, str(error)]
        return _page(offering, session, upload=upload)
    job = start_attendance_import(offering, session, parsed, by=current_user)
    return redirect(url_for("studio.attendance_import", offering_id=offering.id, session_id=session.id, job_id=job.id))


@bp.get("/courses/<int:offering_id>/sessions/<int:session_id>/attendance/imports/<int:job_id>")
@studio_required
def attendance_import(offering_id: int, session_id: int, job_id: int):
    """The attendance page with an imported report's progress, then what it recorded and the lines it didn't use."""
    offering, session = _session_of(offering_id, session_id)
    job = attendance_job(offering, session, job_id)
    if job is None:
        abort(404)
    return _page(offering, session, job=job)
