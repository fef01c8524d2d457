"""Live session routes under /studio/courses/<id>/sessions (live workshops only).

GET/POST /courses/<id>/sessions                            list and add live sessions
GET/POST /courses/<id>/sessions/<sid>/edit
GET/POST /courses/<id>/sessions/<sid>/replay                 attach (or remove) the recording
POST /courses/<id>/sessions/<sid>/delete

Attendance has its own page: studio/live/attendance_views.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ...access import owned_offering_or_404, studio_required
from ...enrollments.waitlist import offer_open_seats
from ...extensions import db
from ...formatting import in_zone, zone_or_utc
from ...models import LiveSession, MediaAsset, Offering, OfferingKind, utcnow
from .. import bp
from ..curriculum import services
from ..curriculum.forms import (
    LiveSessionForm,
    ReplayForm,
)
from ..curriculum.services import CurriculumError, SessionChanges
from ..offerings.forms import ConfirmForm

# Live sessions


def _session_changes(form: LiveSessionForm, zone: str) -> SessionChanges:
    return SessionChanges(
        title=form.title.data or "",
        starts_local=form.starts_at.data,
        time_zone=zone,
        duration_minutes=form.duration_minutes.data,
        capacity=form.capacity.data,
        join_url=form.join_url.data or "",
    )


def _render_sessions(
    offering: Offering,
    zone: str,
    form: LiveSessionForm | None,
    editing: LiveSession | None = None,
    replay_form: ReplayForm | None = None,
):
    now = utcnow()
    if form is not None:
        # Browsers grey out past days in the picker; the server still checks.
        form.starts_at.render_kw = {"min": now.astimezone(zone_or_utc(zone)).strftime("%Y-%m-%dT%H:%M")}
    replay_ids = {s.replay_asset_id for s in offering.live_sessions if s.replay_asset_id is not None}
    replays = (
        {asset.id: asset for asset in db.session.scalars(sa.select(MediaAsset).where(MediaAsset.id.in_(replay_ids)))}
        if replay_ids
        else {}
    )
    return render_template(
        "studio/live_sessions.html",
        offering=offering,
        zone=zone,
        form=form,
        editing=editing,
        replay_form=replay_form,
        now=now,
        upcoming=[s for s in offering.live_sessions if s.is_upcoming(now)],
        past=sorted(
            (s for s in offering.live_sessions if not s.is_upcoming(now)), key=lambda s: s.starts_at, reverse=True
        ),
        linked=services.linked_lesson_counts(offering),
        replays=replays,
    )


def _live_offering(offering_id: int) -> Offering:
    offering = owned_offering_or_404(offering_id, selectinload(Offering.live_sessions))
    if offering.kind is not OfferingKind.LIVE_WORKSHOP:
        abort(404)
    return offering


def _saved(message: str, offering: Offering) -> None:
    """Flash `message`, after telling the waitlist if the change opened a seat someone can really take.

    A new date, a higher limit or a session gone may open seats; the waitlist hears once.
    """
    told = offer_open_seats(offering)
    told_text = "1 person on the waitlist is" if told == 1 else f"{told} people on the waitlist are"
    flash(message + (f" {told_text} being e-mailed (see Waitlist)." if told else ""), "success")


@bp.route("/courses/<int:offering_id>/sessions", methods=["GET", "POST"])
@studio_required
def live_sessions(offering_id: int):
    """A live workshop's sessions, upcoming and past, in the creator's time zone, and a form to add one."""
    offering = _live_offering(offering_id)
    zone = services.session_zone(offering, current_user)
    form = LiveSessionForm()
    if form.validate_on_submit():
        try:
            session = services.save_live_session(offering, None, _session_changes(form, zone))
        except CurriculumError as error:
            db.session.rollback()
            form.starts_at.errors = [*form.starts_at.errors, str(error)]
        else:
            _saved("Session scheduled.", offering)
            return redirect(url_for("studio.live_sessions", offering_id=offering.id, _anchor=f"session-{session.id}"))
    return _render_sessions(offering, zone, form)


@bp.route("/courses/<int:offering_id>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@studio_required
def edit_live_session(offering_id: int, session_id: int):
    """Change a session's time, length, seats or join link."""
    offering = _live_offering(offering_id)
    session = next((s for s in offering.live_sessions if s.id == session_id), None)
    if session is None:
        abort(404)
    zone = services.session_zone(offering, current_user)
    form = LiveSessionForm(
        data={
            "title": session.title,
            "starts_at": in_zone(session.starts_at, zone).replace(tzinfo=None),
            "duration_minutes": session.duration_minutes,
            "capacity": session.capacity,
            "join_url": session.join_url,
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            services.save_live_session(offering, session, _session_changes(form, zone))
        except CurriculumError as error:
            db.session.rollback()
            form.starts_at.errors = [*form.starts_at.errors, str(error)]
        else:
            _saved("Session saved.", offering)
            return redirect(url_for("studio.live_sessions", offering_id=offering.id, _anchor=f"session-{session.id}"))
    return _render_sessions(offering, zone, form, editing=session)


@bp.route("/courses/<int:offering_id>/sessions/<int:session_id>/replay", methods=["GET", "POST"])
@studio_required
def session_replay(offering_id: int, session_id: int):
    """Attach the recording learners can watch after a session, from the creator's files or a new upload."""
    offering = _live_offering(offering_id)
    session = next((s for s in offering.live_sessions if s.id == session_id), None)
    if session is None:
        abort(404)
    form = ReplayForm(data={"asset": str(session.replay_asset_id or "")} if request.method == "GET" else None)
    form.set_choices(services.recordings_for(offering))
    if form.validate_on_submit():
        try:
            asset = services.set_replay(
                session,
                offering.creator.user,
                asset_id=form.asset.data,
                upload=request.files.get(form.recording.name),
                uploaded_asset_id=form.recording_asset_id.data,
            )
        except CurriculumError as error:
            db.session.rollback()
            form.recording.errors = [*form.recording.errors, str(error)]
        else:
            flash(
                f"Replay saved: learners can now watch “{asset.original_name}”." if asset else "Replay removed.",
                "success",
            )
            return redirect(url_for("studio.live_sessions", offering_id=offering.id, _anchor=f"session-{session.id}"))
    return _render_sessions(
        offering, services.session_zone(offering, current_user), None, replay_form=form, editing=session
    )


@bp.post("/courses/<int:offering_id>/sessions/<int:session_id>/delete")
@studio_required
def delete_live_session(offering_id: int, session_id: int):
    """Cancel a session after the creator confirmed."""
    offering = _live_offering(offering_id)
    session = next((s for s in offering.live_sessions if s.id == session_id), None)
    if session is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_live_session(offering, session)
    except CurriculumError as error:
        flash(str(error), "error")
        return redirect(url_for("studio.live_sessions", offering_id=offering.id, _anchor=f"session-{session.id}"))
    _saved("Session deleted.", offering)
    return redirect(url_for("studio.live_sessions", offering_id=offering.id))
