"""Studio routes for offerings: /studio, /studio/courses/new, /studio/courses/<id>[/edit|/publish|…]."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ... import clientfacing
from ...access import creator_required, owned_offering_or_404, studio_required
from ...extensions import db
from ...fields import page_number
from ...markdown_render import render_markdown
from ...media.services import UploadError, media_url, ready_upload
from ...models import Offering, OfferingKind
from .. import bp
from ..curriculum.services import CURRICULUM_OPTIONS
from . import services
from .forms import ConfirmForm, OfferingForm
from .services import (
    CERulesBroken,
    NotReadyToPublish,
    StudioError,
    archive,
    has_buyers,
    offerings_overview,
    offerings_page,
    publish,
    publish_problems,
    save_offering,
    unpublish,
)


@bp.get("")
@creator_required
def dashboard():
    """The creator's offerings with kind, status, learners, revenue and next live date."""
    profile = current_user.creator_profile
    found, rows = offerings_page(profile, page_number(request.args))
    return render_template("studio/dashboard.html", profile=profile, found=found, rows=rows, kinds=list(OfferingKind))


@bp.route("/courses/new", methods=["GET", "POST"])
@creator_required
def new_offering():
    """Start an offering: a self-paced course, a recorded workshop or a live workshop."""
    form = OfferingForm()
    if request.method == "GET":
        kind = request.args.get("kind", OfferingKind.COURSE.value)
        form.kind.data = kind if kind in {k.value for k in OfferingKind} else OfferingKind.COURSE.value
    return _offering_form(form, offering=None)


@bp.get("/courses/<int:offering_id>")
@studio_required
def offering(offering_id: int):
    """An offering's overview: what is missing before publishing, and what can be done next."""
    offering = owned_offering_or_404(offering_id, selectinload(Offering.creator))
    (figures,) = offerings_overview(offering.creator, offering_id=offering.id)
    return render_template(
        "studio/offering.html",
        offering=offering,
        figures=figures,
        deletable=not has_buyers(offering),
        problems=publish_problems(offering),
        confirm=ConfirmForm(),
        public_url=url_for("catalog.offering", slug=offering.slug),
    )


@bp.route("/courses/<int:offering_id>/edit", methods=["GET", "POST"])
@studio_required
def edit_offering(offering_id: int):
    """Change an offering's details: title, address, description, cover, price, topics, CE."""
    offering = owned_offering_or_404(offering_id, selectinload(Offering.topics), selectinload(Offering.creator))
    form = OfferingForm(obj=offering)
    if request.method == "GET":
        form.price_kind.data = (
            "free" if offering.is_free else "sliding" if offering.sliding_scale_min_cents is not None else "fixed"
        )
        form.billing_interval.data = offering.billing_interval.value if offering.billing_interval else "month"
    return _offering_form(form, offering=offering)


def _offering_form(form: OfferingForm, offering: Offering | None):
    preview = None
    if request.method == "POST" and "preview" in request.form:
        # The description's own rules (its length above all) apply to a preview as they do to saving.
        if form.description.validate(form):
            preview = render_markdown(form.description.data)
    elif form.validate_on_submit():
        profile = offering.creator if offering is not None else current_user.creator_profile
        try:
            saved, _unused_keys = save_offering(profile, offering, form, request.files.get(form.cover.name))
        except CERulesBroken as error:
            flash(str(error), "error")
            db.session.rollback()
        except (StudioError, UploadError) as error:
            target = getattr(form, error.field) if isinstance(error, StudioError) else form.cover
            target.errors = [*target.errors, str(error)]
            db.session.rollback()
        else:
            if offering is None:
                next_step = "choose the offerings it holds" if saved.holds_offerings else "build its curriculum"
                flash(f"Your offering is saved as a draft. Next, {next_step}.", "success")
                return redirect(url_for("studio.offering", offering_id=saved.id))
            flash("Your changes are saved.", "success")
            return redirect(url_for("studio.edit_offering", offering_id=saved.id))
    profile = offering.creator if offering is not None else current_user.creator_profile
    return render_template(
        "studio/offering_form.html",
        form=form,
        offering=offering,
        preview=preview,
        currency=(offering.currency if offering else current_user.creator_profile.currency),
        cover_url=media_url(offering.cover_asset) if offering is not None else None,
        pending_cover=ready_upload(offering.creator.user if offering else current_user, form.cover_asset_id.data),
        not_therapy_default=clientfacing.default_not_therapy_statement(profile),
        crisis_default=clientfacing.default_crisis_resources(profile),
    )


@bp.post("/courses/<int:offering_id>/publish")
@studio_required
def publish_offering(offering_id: int):
    """Publish, or say exactly what is still missing."""
    offering = owned_offering_or_404(offering_id, selectinload(Offering.creator))
    _check_confirm()
    try:
        publish(offering)
    except NotReadyToPublish as error:
        db.session.rollback()
        flash("Not published yet. " + " ".join(error.problems), "error")
    else:
        flash("Published: your offering is in the catalog.", "success")
    return redirect(url_for("studio.offering", offering_id=offering_id))


@bp.post("/courses/<int:offering_id>/archive")
@studio_required
def archive_offering(offering_id: int):
    """Take it out of the catalog; enrolled learners keep access."""
    return _change_status(offering_id, archive, "Archived: it has left the catalog; enrolled learners keep access.")


@bp.post("/courses/<int:offering_id>/unpublish")
@studio_required
def unpublish_offering(offering_id: int):
    """Back to draft to rework it; enrolled learners keep access."""
    return _change_status(offering_id, unpublish, "Back to draft: only you can see it now.")


@bp.post("/courses/<int:offering_id>/duplicate")
@studio_required
def duplicate_offering(offering_id: int):
    """Copy an offering, curriculum and quizzes included, as a new draft."""
    offering = owned_offering_or_404(offering_id)
    _check_confirm()
    copy = services.duplicate_offering(offering)
    flash(f"Duplicated as “{copy.title}”, a draft. Live session dates are not copied.", "success")
    return redirect(url_for("studio.offering", offering_id=copy.id))


def _change_status(offering_id: int, change, message: str):
    offering = owned_offering_or_404(offering_id)
    _check_confirm()
    try:
        change(offering)
    except StudioError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(message, "success")
    return redirect(url_for("studio.offering", offering_id=offering_id))


@bp.post("/courses/<int:offering_id>/delete")
@studio_required
def delete_offering(offering_id: int):
    """Delete an offering nobody has bought, with its lessons and files, after the creator confirmed."""
    offering = owned_offering_or_404(offering_id, *CURRICULUM_OPTIONS, selectinload(Offering.live_sessions))
    _check_confirm()
    title = offering.title
    try:
        services.delete_offering(offering)
    except StudioError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("studio.offering", offering_id=offering_id))
    flash(f"“{title}” was deleted, with its lessons and files.", "success")
    return redirect(url_for("studio.dashboard"))


def _check_confirm() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)
