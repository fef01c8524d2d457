"""Live sessions for enrolled learners: calendar files, the join link and replays.

GET /learn/<slug>/sessions.ics                    every session of the offering, for a calendar
GET /learn/<slug>/sessions/<id>.ics               one session, for a calendar
GET /learn/<slug>/sessions/<id>/join              the meeting, from the join window on (302)
GET /learn/<slug>/sessions/<id>/replay            a short-lived link to the recording (302)
GET /learn/<slug>/sessions/<id>/hls/<file>        the recording's HLS ladder (playlists; segments by 302)
POST /learn/<slug>/sessions/<id>/check-in         the check-in code shown during the session

Each route checks, on every request, that the user holds an active enrollment (or owns
the offering, or is an admin): a revoked learner gets 403, a session of another
offering 404.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, url_for
from flask_login import current_user, login_required

from ..downloads import attachment
from ..extensions import limiter
from ..formatting import format_date
from ..media.services import media_url
from ..media.streaming import edge_pass_seconds, has_ladder, ladder_response
from ..models import LiveSession, Offering, utcnow
from . import bp
from .forms import CheckInForm
from .live import (
    CheckInRefused,
    calendar_file,
    check_in,
    checkin_is_open,
    find_live_session,
    find_offering,
    join_window,
    live_viewer,
    replay_of,
    session_lessons,
)
from .permissions import Viewer, active_enrollment

bp.add_app_template_global(join_window)
bp.add_app_template_global(checkin_is_open)
bp.add_app_template_global(has_ladder)
bp.add_app_template_global(edge_pass_seconds)
bp.add_app_template_global(replay_of)


def _session_or_404(slug: str, session_id: int) -> tuple[LiveSession, Viewer]:
    session = find_live_session(slug, session_id)
    if session is None:
        abort(404)
    viewer = live_viewer(current_user, session.offering)
    if viewer is None:
        abort(403)
    return session, viewer


def _calendar_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = attachment(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<slug>/sessions.ics")
@login_required
def offering_calendar(slug: str):
    """Every session of a live workshop as one calendar file, times in UTC."""
    offering = find_offering(slug)
    if offering is None:
        abort(404)
    if live_viewer(current_user, offering) is None:
        abort(403)
    if not offering.live_sessions:
        abort(404)
    return _calendar_response(calendar_file(offering, list(offering.live_sessions)), f"{offering.slug}.ics")


@bp.get("/<slug>/sessions/<int:session_id>.ics")
@login_required
def session_calendar(slug: str, session_id: int):
    """One session as a calendar file, to add it to the learner's own calendar."""
    session, _viewer = _session_or_404(slug, session_id)
    day = session.starts_at.strftime("%Y-%m-%d")
    return _calendar_response(calendar_file(session.offering, [session]), f"{session.offering.slug}-{day}.ics")


def _session_page(offering: Offering, session: LiveSession) -> str:
    lesson_id = session_lessons([offering.id]).get(session.id)
    if lesson_id is not None:
        return url_for("learning.lesson", slug=offering.slug, lesson_id=lesson_id)
    return url_for("learning.offering", slug=offering.slug)


@bp.get("/<slug>/sessions/<int:session_id>/join")
@login_required
def join_session(slug: str, session_id: int):
    """Send the learner to the meeting, but only from the join window on; before it, say when it opens.

    Checked on the server at every click, so a bookmarked link can't open the meeting early.
    The owner and admins, who set the link, are let through at any time.
    """
    session, viewer = _session_or_404(slug, session_id)
    offering = session.offering
    window = join_window(session, utcnow())
    if session.join_url and (window.is_open or viewer in (Viewer.OWNER, Viewer.ADMIN)):
        response = redirect(session.join_url, code=302)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    if window.is_over:
        flash("This session has ended.", "info")
    elif window.is_before:
        opens = format_date(window.opens_at, current_user.time_zone, "%A, %B %-d at %-I:%M %p %Z")
        flash(f"The join link opens on {opens} ({window.lead_minutes} minutes before the start).", "info")
    else:
        flash("The join link hasn't been added yet. Please check again in a few minutes.", "info")
    return redirect(_session_page(offering, session))


def _checker_key() -> str:
    """Tries are counted per learner: a whole training room may share one address."""
    return f"check-in:{current_user.id}"


@bp.post("/<slug>/sessions/<int:session_id>/check-in")
@login_required
@limiter.limit("20 per hour", key_func=_checker_key)
def session_check_in(slug: str, session_id: int):
    """Record a learner's check-in with the code the presenter showed; the answer is a message on the lesson."""
    session, _viewer = _session_or_404(slug, session_id)
    offering = session.offering
    enrollment = active_enrollment(current_user, offering)
    form = CheckInForm()
    if enrollment is None:
        flash("Only enrolled learners check in; your own preview needs no code.", "info")
    elif not form.validate_on_submit():
        flash(next(iter(form.code.errors), "Enter the code shown in the session."), "error")
    else:
        try:
            check_in(enrollment, session, form.code.data or "")
        except CheckInRefused as refused:
            flash(str(refused), "error")
        else:
            flash("You're checked in to this session.", "success")
    return redirect(_session_page(offering, session))


@bp.get("/<slug>/sessions/<int:session_id>/hls/<path:name>")
@login_required
@limiter.exempt
def session_replay_stream(slug: str, session_id: int, name: str):
    """The replay's HLS ladder (`media.streaming`), for whoever may see the session, checked on every request."""
    session, _viewer = _session_or_404(slug, session_id)
    return ladder_response(replay_of(session), name)


@bp.get("/<slug>/sessions/<int:session_id>/replay")
@login_required
@limiter.exempt
def session_replay(slug: str, session_id: int):
    """Check who asks, then send them to a short-lived link to the recording (storage serves the bytes).

    The player asks here again when a link it holds has expired; a revoked learner gets no new one.
    """
    session, _viewer = _session_or_404(slug, session_id)
    asset = replay_of(session)
    if asset is None:
        abort(404)
    url = media_url(asset, current_app.config["MEDIA_URL_SECONDS"])
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response
