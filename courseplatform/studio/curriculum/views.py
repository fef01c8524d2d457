"""Curriculum routes under /studio/courses/<id>: sections and lessons.

GET  /courses/<id>/curriculum                              the outline, with every edit action
POST /courses/<id>/curriculum/order                        drag-and-drop order (JSON)
POST /courses/<id>/sections                                add a section
POST /courses/<id>/sections/<sid>/rename|move|delete       change a section
GET/POST /courses/<id>/sections/<sid>/lessons/new          add a lesson
GET/POST /courses/<id>/lessons/<lid>/edit                  edit a lesson
POST /courses/<id>/lessons/<lid>/move|delete               move or delete a lesson
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ...access import owned_offering_or_404, studio_required
from ...extensions import db
from ...formatting import format_date, format_size
from ...media.services import ready_upload, upload_limit
from ...models import Lesson, LessonKind, Offering, OfferingKind, Section
from ...request_guard import json_body
from .. import bp
from ..offerings.forms import ConfirmForm
from . import services
from .forms import (
    LessonForm,
    MoveForm,
    SectionForm,
)
from .services import CURRICULUM_OPTIONS, CurriculumError, LessonChanges, LessonFileError

# ---------------------------------------------------------------------------
# Lookups: every id in a URL must belong to the offering in the same URL.


def _section_of(offering: Offering, section_id: int) -> Section:
    section = next((s for s in offering.sections if s.id == section_id), None)
    if section is None:
        abort(404)
    return section


def lesson_of(offering: Offering, lesson_id: int) -> Lesson:
    lesson = next((lesson for s in offering.sections for lesson in s.lessons if lesson.id == lesson_id), None)
    if lesson is None:
        abort(404)
    return lesson


def back_to_curriculum(offering: Offering, anchor: str | None = None):
    return redirect(url_for("studio.curriculum", offering_id=offering.id, _anchor=anchor))


# ---------------------------------------------------------------------------
# The outline


@bp.get("/courses/<int:offering_id>/curriculum")
@studio_required
def curriculum(offering_id: int):
    """The offering's sections and lessons, in order, with everything a creator can change."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    return _render_curriculum(offering, SectionForm())


KIND_SHORT_LABELS = {"video": "Video", "text": "Text", "download": "Download", "quiz": "Quiz", "live": "Live"}


def _render_curriculum(offering: Offering, section_form: SectionForm):
    return render_template(
        "studio/curriculum.html",
        offering=offering,
        section_form=section_form,
        section_rename_form=lambda section: SectionForm(
            prefix=f"s{section.id}", formdata=None, data={"title": section.title}
        ),
        kind_labels=KIND_SHORT_LABELS,
        zone=services.session_zone(offering, current_user) if offering.kind is OfferingKind.LIVE_WORKSHOP else None,
    )


@bp.post("/courses/<int:offering_id>/curriculum/order")
@studio_required
@json_body
def reorder_curriculum(offering_id: int):
    """Save the order a creator dragged sections and lessons into (JSON, sent by curriculum.js)."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    try:
        services.reorder_curriculum(offering, request.get_json(silent=True))
    except CurriculumError as error:
        return jsonify(error=str(error)), 400  # a 400: the request's work is rolled back
    return jsonify(status="saved")


# ---------------------------------------------------------------------------
# Sections


@bp.post("/courses/<int:offering_id>/sections")
@studio_required
def new_section(offering_id: int):
    """Add a section at the end of the outline."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    form = SectionForm()
    if not form.validate_on_submit():
        return _render_curriculum(offering, form)
    section = services.add_section(offering, form.title.data)
    flash(f"Section “{section.title}” added. Now add its first lesson.", "success")
    return back_to_curriculum(offering, f"section-{section.id}")


@bp.post("/courses/<int:offering_id>/sections/<int:section_id>/rename")
@studio_required
def rename_section(offering_id: int, section_id: int):
    """Change a section's title."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    section = _section_of(offering, section_id)
    form = SectionForm(prefix=f"s{section.id}")
    if not form.validate_on_submit():
        flash("A section needs a title of up to 160 characters.", "error")
    else:
        services.rename_section(section, form.title.data)
        flash("Section renamed.", "success")
    return back_to_curriculum(offering, f"section-{section.id}")


@bp.post("/courses/<int:offering_id>/sections/<int:section_id>/move")
@studio_required
def move_section(offering_id: int, section_id: int):
    """Move a section up or down by one place."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    section = _section_of(offering, section_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    services.move_section(offering, section, form.direction.data)
    return back_to_curriculum(offering, f"section-{section.id}")


@bp.post("/courses/<int:offering_id>/sections/<int:section_id>/delete")
@studio_required
def delete_section(offering_id: int, section_id: int):
    """Delete a section and its lessons, after the creator confirmed."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    section = _section_of(offering, section_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    title = section.title
    try:
        services.delete_section(offering, section)
    except CurriculumError as error:
        flash(str(error), "error")
        return back_to_curriculum(offering, f"section-{section.id}")
    flash(f"Section “{title}” and its lessons were deleted.", "success")
    return back_to_curriculum(offering)


# ---------------------------------------------------------------------------
# Lessons


def _session_choices(offering: Offering, zone: str) -> list[SelectChoice]:
    return [
        SelectChoice(
            str(s.id),
            f"{format_date(s.starts_at, zone, '%a %b %-d, %Y, %-I:%M %p %Z')}{' — ' + s.title if s.title else ''}",
        )
        for s in offering.live_sessions
    ]


def _lesson_form(offering: Offering, lesson: Lesson | None) -> LessonForm:
    data = {}
    if request.method == "GET" and lesson is not None:
        data = {
            "title": lesson.title,
            "kind": lesson.kind.value,
            "body": lesson.body,
            "is_preview": lesson.is_preview,
            "available_after_days": lesson.available_after_days,
            "duration_minutes": whole_minutes(lesson.duration_seconds),
            "live_session": str(lesson.live_session_id or ""),
        }
    elif request.method == "GET":
        data = {"kind": request.args.get("kind", LessonKind.VIDEO.value)}
    form = LessonForm(data=data)
    allow_live = offering.kind is OfferingKind.LIVE_WORKSHOP or (lesson is not None and lesson.kind is LessonKind.LIVE)
    form.set_choices(allow_live, _session_choices(offering, services.session_zone(offering, current_user)))
    if request.method == "GET" and form.kind.data not in {choice.value for choice in form.kind.choices}:
        form.kind.data = LessonKind.VIDEO.value
    if lesson is not None and lesson.media_asset is not None:
        form.media_file.label.text = "Replace the file"
    if lesson is not None and lesson.captions_asset is not None:
        form.captions_file.label.text = "Replace the captions (optional)"
    return form


def whole_minutes(seconds: int | None) -> int | None:
    return math.ceil(seconds / 60) if seconds else None


def _lesson_changes(offering: Offering, lesson: Lesson | None, form: LessonForm) -> LessonChanges:
    sessions = {str(s.id): s for s in offering.live_sessions}
    minutes = form.duration_minutes.data
    seconds = minutes * 60 if minutes else None
    if lesson is not None and minutes and minutes == whole_minutes(lesson.duration_seconds):
        seconds = lesson.duration_seconds  # untouched: keep the exact length, not the rounded minutes
    return LessonChanges(
        title=form.title.data,
        kind=LessonKind(form.kind.data),
        body=form.body.data or "",
        is_preview=form.is_preview.data,
        content_note=form.content_note.data or "",
        available_after_days=form.available_after_days.data,
        duration_seconds=seconds,
        live_session=sessions.get(form.live_session.data or ""),
        media_file=form.media_file.data,
        captions_file=form.captions_file.data,
        media_asset_id=form.media_asset_id.data or None,
        captions_asset_id=form.captions_asset_id.data or None,
    )


def _save_lesson(offering: Offering, section: Section, lesson: Lesson | None, form: LessonForm):
    """Validate and store files (kept by the request's commit); on an upload problem nothing is kept and the form
    says why."""
    try:
        if lesson is None:
            lesson, _keys = services.add_lesson(section, _lesson_changes(offering, None, form), offering.creator.user)
        else:
            services.update_lesson(lesson, _lesson_changes(offering, lesson, form), offering.creator.user)
    except LessonFileError as error:
        db.session.rollback()
        field = form[error.field]
        field.errors = [*field.errors, str(error)]
        return None
    except CurriculumError as error:  # a published CE offering's rules
        db.session.rollback()
        form.kind.errors = [*form.kind.errors, str(error)]
        return None
    return lesson


def _render_lesson_form(offering: Offering, section: Section, lesson: Lesson | None, form: LessonForm):
    owner = offering.creator.user
    return render_template(
        "studio/lesson_form.html",
        offering=offering,
        section=section,
        lesson=lesson,
        form=form,
        # Files already uploaded for this form, when it comes back with a message to fix.
        pending=SimpleNamespace(
            media=ready_upload(owner, form.media_asset_id.data),
            captions=ready_upload(owner, form.captions_asset_id.data),
        ),
        limits={category: format_size(upload_limit(category)) for category in ("video", "document")},
    )


@bp.route("/courses/<int:offering_id>/sections/<int:section_id>/lessons/new", methods=["GET", "POST"])
@studio_required
def new_lesson(offering_id: int, section_id: int):
    """Add a lesson (video, text, download, quiz or live) at the end of a section."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS, selectinload(Offering.live_sessions))
    section = _section_of(offering, section_id)
    form = _lesson_form(offering, None)
    if form.validate_on_submit():
        lesson = _save_lesson(offering, section, None, form)
        if lesson is not None:
            flash(f"Lesson “{lesson.title}” added.", "success")
            if lesson.kind is LessonKind.QUIZ:
                return redirect(url_for("studio.quiz", offering_id=offering.id, lesson_id=lesson.id))
            return back_to_curriculum(offering, f"lesson-{lesson.id}")
    return _render_lesson_form(offering, section, None, form)


@bp.route("/courses/<int:offering_id>/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@studio_required
def edit_lesson(offering_id: int, lesson_id: int):
    """Change a lesson: its words, its file, its drip and preview settings."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS, selectinload(Offering.live_sessions))
    lesson = lesson_of(offering, lesson_id)
    form = _lesson_form(offering, lesson)
    if form.validate_on_submit() and _save_lesson(offering, lesson.section, lesson, form) is not None:
        flash(f"Lesson “{lesson.title}” saved.", "success")
        return back_to_curriculum(offering, f"lesson-{lesson.id}")
    return _render_lesson_form(offering, lesson.section, lesson, form)


@bp.post("/courses/<int:offering_id>/lessons/<int:lesson_id>/move")
@studio_required
def move_lesson(offering_id: int, lesson_id: int):
    """Move a lesson one place up or down, into the neighbouring section at the edges."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    lesson = lesson_of(offering, lesson_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    services.move_lesson(offering, lesson, form.direction.data)
    return back_to_curriculum(offering, f"lesson-{lesson.id}")


@bp.post("/courses/<int:offering_id>/lessons/<int:lesson_id>/delete")
@studio_required
def delete_lesson(offering_id: int, lesson_id: int):
    """Delete a lesson, and its files when no other lesson uses them, after the creator confirmed."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS)
    lesson = lesson_of(offering, lesson_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    title, section_id = lesson.title, lesson.section_id
    try:
        services.delete_lesson(lesson)
    except CurriculumError as error:
        flash(str(error), "error")
        return back_to_curriculum(offering, f"lesson-{lesson.id}")
    flash(f"Lesson “{title}” was deleted.", "success")
    return back_to_curriculum(offering, f"section-{section_id}")


# ---------------------------------------------------------------------------
