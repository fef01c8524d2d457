"""Learner routes: /learn (my offerings), an offering's outline, a lesson, and the links that play its files.

GET  /learn                                          my offerings with progress, and my certificates
GET  /learn/<slug>                                   the outline: my progress, where to continue, live sessions
GET  /learn/<slug>/lessons/<id>                      a lesson, in the player, with the outline beside it
POST /learn/<slug>/lessons/<id>/complete             mark it complete (a form; or JSON from the player at ~90 %)
POST /learn/<slug>/lessons/<id>/quiz                 answer a quiz: one attempt
GET  /learn/<slug>/lessons/<id>/media|captions       a short-lived link to the lesson's file (302)
POST /learn/<slug>/lessons/<id>/position             where I stopped watching (JSON)

Learners open a lesson only once it is open for them (drip date reached, the lesson before
it complete in a sequential offering); owners, admins and preview visitors are never held back.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..enrollments.notes import learner_note
from ..extensions import limiter
from ..media.services import media_url
from ..media.streaming import ladder_response
from ..models import Lesson, LessonKind, MediaStatus, OfferingStatus, utcnow
from ..request_guard import json_body
from . import bp
from .certificates import completion_of, my_certificates
from .forms import CheckInForm, MarkCompleteForm, QuizForm, quiz_form
from .live import checked_in, sessions_with_replays, upcoming_sessions
from .permissions import LessonAccess, Viewer, ended_enrollment, find_lesson, lesson_access, offering_access
from .progress import (
    OfferingProgress,
    can_mark_complete,
    complete_lesson,
    completion_blocker,
    offering_progress,
    update_completion,
)
from .quiz import QuizClosed, quiz_questions, quiz_standing, submit_quiz
from .services import my_offerings, record_visit, save_position


@bp.get("")
@login_required
def index():
    """Everything I'm enrolled in, with my progress and my certificates."""
    return render_template(
        "learning/index.html", offerings=my_offerings(current_user), certificates=my_certificates(current_user)
    )


@bp.get("/<slug>")
@login_required
def offering(slug: str):
    """An offering's outline: my progress, where to continue, its live sessions and the way to the certificate."""
    access = offering_access(current_user, slug)
    if access is None:
        return _access_ended_or_404(slug)
    now = utcnow()
    zone = current_user.time_zone
    progress = offering_progress(access.offering, access.enrollment, zone=zone, now=now)
    enrollment = access.enrollment
    all_done = progress.total and progress.done >= progress.total
    if enrollment is not None and enrollment.completed_at is None and all_done:
        # Every lesson is done but the date was never set (a lesson deleted, or the last two
        # completed at once in two tabs): set it now rather than leave the learner at 100 %.
        update_completion(enrollment, now)
    return render_template(
        "learning/offering.html",
        offering=access.offering,
        viewer=access.viewer.value,
        progress=progress,
        completion=completion_of(enrollment) if enrollment else None,
        live_sessions=upcoming_sessions(access.offering, now),
        past_sessions=sessions_with_replays(access.offering, now),
        now=now,
        zone=zone,
    )


def _access_ended_or_404(slug: str):
    """A learner whose access ended (a receipt's link after a refund, a bookmark) is told why, not shown a 404."""
    enrollment = ended_enrollment(current_user, slug)
    if enrollment is None:
        abort(404)
    note = learner_note(enrollment, current_user.time_zone)
    offering = enrollment.offering
    return render_template("learning/access_ended.html", offering=offering, note=note), 403


def _lesson_or_404(slug: str, lesson_id: int) -> Lesson:
    lesson = find_lesson(slug, lesson_id)
    if lesson is None:
        abort(404)
    return lesson


def _progress(access: LessonAccess, lesson: Lesson) -> OfferingProgress:
    return offering_progress(lesson.section.offering, access.enrollment, zone=current_user.time_zone)


def _is_locked(access: LessonAccess, lesson: Lesson, progress: OfferingProgress | None = None) -> bool:
    """True when a learner may not open this lesson yet (drip date ahead, or an earlier lesson to finish)."""
    if access.viewer is not Viewer.LEARNER:
        return False
    return not (progress or _progress(access, lesson)).status_of(lesson).is_open


@bp.get("/<slug>/lessons/<int:lesson_id>")
def lesson(slug: str, lesson_id: int):
    """One lesson: its video, audio, handout, text, quiz or live session, with the outline beside it."""
    lesson = _lesson_or_404(slug, lesson_id)
    offering = lesson.section.offering
    access = lesson_access(current_user, lesson)
    if access is None:
        if offering.status is not OfferingStatus.PUBLISHED:
            abort(404)
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if ended_enrollment(current_user, offering.slug) is not None:
            return _access_ended_or_404(offering.slug)
        flash("Enroll in this offering to open its lessons.", "info")
        return redirect(url_for("catalog.offering", slug=offering.slug))
    if access.viewer is Viewer.PREVIEW:
        return redirect(url_for("catalog.preview_lesson", slug=offering.slug, lesson_id=lesson.id))
    return _render_lesson(lesson, access)


def _render_lesson(lesson: Lesson, access: LessonAccess, form: QuizForm | None = None):
    """The lesson page; `form` is a quiz form that came back with errors."""
    offering = lesson.section.offering
    now = utcnow()
    zone = current_user.time_zone
    progress = offering_progress(offering, access.enrollment, zone=zone, now=now)
    status = progress.status_of(lesson)
    previous, following = progress.neighbours(lesson)
    context = {
        "offering": offering,
        "lesson": lesson,
        "viewer": access.viewer.value,
        "progress": progress,
        "status": status,
        "previous": previous,
        "next": following,
        "now": now,
        "zone": zone,
    }
    if not status.is_open:
        return render_template("learning/lesson.html", locked=True, **context)
    if access.enrollment is not None:
        record_visit(access.enrollment, lesson)  # kept by the request's commit, after the page is rendered
    if lesson.kind is LessonKind.QUIZ:
        questions = quiz_questions(lesson)
        standing = quiz_standing(access.enrollment, lesson) if access.enrollment else None
        if form is None:
            form = quiz_form(questions, standing.last_answers() if standing else None, formdata=None)
        context |= {"questions": questions, "standing": standing, "quiz_form": form}
    session = lesson.live_session if lesson.kind is LessonKind.LIVE else None
    if session is not None and offering.checkin_required:
        context |= {
            "checkin_form": CheckInForm(formdata=None),
            "checked_in": access.enrollment is not None and checked_in(access.enrollment, session),
        }
    return render_template(
        "learning/lesson.html",
        locked=False,
        complete_form=MarkCompleteForm(formdata=None),
        can_mark_complete=can_mark_complete(lesson),
        start_at=status.progress.position_seconds if status.progress else 0,
        session=session,
        **context,
    )


def _answer(message: str, code: int, lesson: Lesson, category: str = "error"):
    """Tell the player (JSON) or the learner (a flash message, back on the lesson) why nothing changed."""
    if request.is_json:
        return {"completed": False, "error": message}, code
    flash(message, category)
    return redirect(url_for("learning.lesson", slug=lesson.section.offering.slug, lesson_id=lesson.id))


@bp.post("/<slug>/lessons/<int:lesson_id>/complete")
@login_required
@json_body
def complete(slug: str, lesson_id: int):
    """Mark a lesson complete: the button under it, or the player once about 90 % is watched."""
    lesson = _lesson_or_404(slug, lesson_id)
    access = lesson_access(current_user, lesson)
    if access is None:
        abort(403)
    if not MarkCompleteForm().validate_on_submit():
        abort(400)
    if access.viewer is not Viewer.LEARNER:
        return _answer("You're previewing as the creator, so nothing is recorded.", 403, lesson, "info")
    blocker = completion_blocker(lesson)
    if blocker:
        return _answer(blocker, 400, lesson)
    progress = _progress(access, lesson)
    if _is_locked(access, lesson, progress):
        return _answer("This lesson hasn't opened for you yet.", 403, lesson)
    already = progress.status_of(lesson).is_done
    finished = complete_lesson(access.enrollment, lesson)
    offering = lesson.section.offering
    if request.is_json:
        return {"completed": True, "offering_completed": finished}
    if finished:
        flash(f"You've completed every lesson of {offering.title}. Well done!", "success")
        return redirect(url_for("learning.offering", slug=offering.slug))
    if not already:
        flash(f"“{lesson.title}” is complete.", "success")
    return redirect(url_for("learning.lesson", slug=offering.slug, lesson_id=lesson.id))


@bp.post("/<slug>/lessons/<int:lesson_id>/quiz")
@login_required
def quiz(slug: str, lesson_id: int):
    """Score a quiz attempt and record it; the result shows on the lesson."""
    lesson = _lesson_or_404(slug, lesson_id)
    access = lesson_access(current_user, lesson)
    if access is None:
        abort(403)
    if lesson.kind is not LessonKind.QUIZ:
        abort(404)
    if access.viewer is not Viewer.LEARNER:
        return _answer("You're previewing as the creator, so answers aren't recorded.", 403, lesson, "info")
    if _is_locked(access, lesson):
        return _answer("This quiz hasn't opened for you yet.", 403, lesson)
    questions = quiz_questions(lesson)
    if not questions:
        return _answer("This quiz has no questions yet.", 400, lesson)
    standing = quiz_standing(access.enrollment, lesson)
    if not standing.can_attempt:
        return _answer(standing.closed_message, 409, lesson)
    form = quiz_form(questions)
    if not form.validate_on_submit():
        return _render_lesson(lesson, access, form)
    try:
        submitted = submit_quiz(access.enrollment, lesson, questions, form.answers())
    except QuizClosed as closed:
        return _answer(str(closed), 409, lesson)
    offering = lesson.section.offering
    if submitted.completed_offering:
        flash(f"You passed, and that completes {offering.title}. Well done!", "success")
        return redirect(url_for("learning.offering", slug=offering.slug))
    return redirect(url_for("learning.lesson", slug=offering.slug, lesson_id=lesson.id, _anchor="quiz-result"))


def _playable_lesson_or_403(slug: str, lesson_id: int) -> Lesson:
    """The lesson, when whoever asks may play its files now (a free preview, or open to them); else 403."""
    lesson = _lesson_or_404(slug, lesson_id)
    access = lesson_access(current_user, lesson)
    if access is None or (not lesson.is_preview and _is_locked(access, lesson)):
        abort(403)
    return lesson


@bp.get("/<slug>/lessons/<int:lesson_id>/<any(media, captions):which>")
@limiter.exempt
def lesson_file(slug: str, lesson_id: int, which: str):
    """Check who asks, then send them to a short-lived link to the file (storage serves the bytes).

    Every request checks access again, so a revoked enrollment gets no new link; the
    player asks here again when a link it holds has expired. A learner gets nothing from a
    lesson that hasn't opened for them, unless it is a free preview anyone may play.
    """
    lesson = _playable_lesson_or_403(slug, lesson_id)
    asset = lesson.media_asset if which == "media" else lesson.captions_asset
    if asset is None or asset.status is not MediaStatus.READY:
        abort(404)
    if which == "captions" and asset.content_type != "text/vtt":
        abort(404)  # captions are WebVTT and nothing else
    url = media_url(asset, current_app.config["MEDIA_URL_SECONDS"], download=request.args.get("download") == "1")
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<slug>/lessons/<int:lesson_id>/hls/<path:name>")
@limiter.exempt
def lesson_stream(slug: str, lesson_id: int, name: str):
    """The lesson video's HLS ladder (`media.streaming`), for whoever may play the lesson, checked on every
    request: a refund or revoked access stops the next segment."""
    return ladder_response(_playable_lesson_or_403(slug, lesson_id).media_asset, name)


@bp.post("/<slug>/lessons/<int:lesson_id>/position")
@login_required
@limiter.exempt
@json_body
def lesson_position(slug: str, lesson_id: int):
    """Remember where an enrolled learner stopped, so the lesson resumes there."""
    lesson = _lesson_or_404(slug, lesson_id)
    access = lesson_access(current_user, lesson)
    if access is None:
        abort(403)
    body = request.get_json(silent=True)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 86_400:
        return {"error": 'Send the position as {"seconds": a number from 0 to 86400}.'}, 400
    if access.viewer is not Viewer.LEARNER:
        return {"saved": False}  # owners, admins and preview visitors keep it in the browser only
    if _is_locked(access, lesson):
        return {"error": "This lesson hasn't opened for you yet."}, 403
    save_position(access.enrollment, lesson, int(seconds))
    return {"saved": True}
