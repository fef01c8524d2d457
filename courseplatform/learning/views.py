"""Learner routes: /learn (my offerings), a lesson, and the links that play its files.

GET  /learn                                          my offerings with progress
GET  /learn/<slug>                                   back into an offering, where I left off
GET  /learn/<slug>/lessons/<id>                      a lesson, in the player
GET  /learn/<slug>/lessons/<id>/media|captions       a short-lived link to the lesson's file (302)
POST /learn/<slug>/lessons/<id>/position             where I stopped watching (JSON)
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import db, limiter
from ..integrations.storage import get_storage
from ..models import CourseStatus, MediaStatus
from . import bp
from .access import Viewer, find_lesson, lesson_access
from .services import course_outline, my_offerings, resume_lesson, save_position, saved_position


@bp.get("")
@login_required
def index():
    """Everything I'm enrolled in, with my progress."""
    return render_template("learning/index.html", offerings=my_offerings(current_user))


@bp.get("/<slug>")
@login_required
def course(slug: str):
    """Open an offering I'm enrolled in: the lesson I was last on, else the first one."""
    found = resume_lesson(current_user, slug)
    if found is None:
        abort(404)
    course, lesson = found
    if lesson is None:
        flash("The first lessons are on their way; you'll find them here when they're ready.", "info")
        return redirect(url_for("learning.index"))
    return redirect(url_for("learning.lesson", slug=course.slug, lesson_id=lesson.id))


def _lesson_or_404(slug: str, lesson_id: int):
    lesson = find_lesson(slug, lesson_id)
    if lesson is None:
        abort(404)
    return lesson


@bp.get("/<slug>/lessons/<int:lesson_id>")
def lesson(slug: str, lesson_id: int):
    """One lesson: its video, audio, handout or text, with the outline beside it."""
    lesson = _lesson_or_404(slug, lesson_id)
    course = lesson.section.course
    access = lesson_access(current_user, lesson)
    if access is None:
        if course.status is not CourseStatus.PUBLISHED:
            abort(404)
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        flash("Enroll in this offering to open its lessons.", "info")
        return redirect(url_for("catalog.course", slug=course.slug))
    if access.viewer is Viewer.PREVIEW:
        return redirect(url_for("catalog.preview_lesson", slug=course.slug, lesson_id=lesson.id))
    outline = course_outline(course)
    flat = [item for _section, lessons in outline for item in lessons]
    index = next(i for i, item in enumerate(flat) if item.id == lesson.id)
    return render_template(
        "learning/lesson.html",
        course=course,
        lesson=lesson,
        viewer=access.viewer.value,
        outline=outline,
        previous=flat[index - 1] if index > 0 else None,
        next=flat[index + 1] if index + 1 < len(flat) else None,
        start_at=saved_position(access.enrollment, lesson) if access.enrollment else 0,
    )


@bp.get("/<slug>/lessons/<int:lesson_id>/<any(media, captions):which>")
@limiter.exempt
def lesson_file(slug: str, lesson_id: int, which: str):
    """Check who asks, then send them to a short-lived link to the file (storage serves the bytes).

    Every request checks access again, so a revoked enrollment gets no new link; the
    player asks here again when a link it holds has expired.
    """
    lesson = _lesson_or_404(slug, lesson_id)
    if lesson_access(current_user, lesson) is None:
        abort(403)
    asset = lesson.media_asset if which == "media" else lesson.captions_asset
    if asset is None or asset.status is not MediaStatus.READY:
        abort(404)
    download_name = asset.original_name if request.args.get("download") == "1" else None
    url = get_storage().playback_url(
        asset.storage_key, expires_in=current_app.config["MEDIA_URL_SECONDS"], download_name=download_name
    )
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<slug>/lessons/<int:lesson_id>/position")
@login_required
@limiter.exempt
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
    save_position(access.enrollment, lesson, int(seconds))
    db.session.commit()
    return {"saved": True}
