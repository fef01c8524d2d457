"""Studio routes for a bundle's contents: which of the creator's offerings it sells together.

GET  /studio/courses/<id>/contents    the creator's courses and recorded workshops, ticked if in the bundle
POST /studio/courses/<id>/contents    keep the ticked ones

Only for bundles (another kind of offering answers 404), and only the owner's (404 to anyone else).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ...access import owned_offering_or_404, studio_required
from ...bundles import BundleError, bundle_candidates, list_value_cents, set_bundle_offerings
from ...checkout.plans import give_members
from ...extensions import db
from ...ids import parse_id
from .. import bp
from .forms import ConfirmForm


def _bundle_or_404(offering_id: int):
    bundle = owned_offering_or_404(offering_id)
    if not bundle.holds_offerings:
        abort(404)
    return bundle


@bp.get("/courses/<int:offering_id>/contents")
@studio_required
def bundle_contents(offering_id: int):
    """What the bundle holds, what those cost one by one, and what learners save."""
    bundle = _bundle_or_404(offering_id)
    return _page(bundle)


def _page(bundle, status: int = 200, chosen: set[int] | None = None):
    candidates = bundle_candidates(bundle.creator, bundle)
    held = {o.id for o in bundle.bundle_offerings} if chosen is None else chosen
    return (
        render_template(
            "studio/bundle_contents.html",
            offering=bundle,
            candidates=candidates,
            held=held,
            value_cents=list_value_cents(bundle),
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.post("/courses/<int:offering_id>/contents")
@studio_required
def save_bundle_contents(offering_id: int):
    bundle = _bundle_or_404(offering_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    read = [parse_id(value) for value in request.form.getlist("offering_ids")]
    chosen = {i for i in read if i is not None}
    if None in read:
        flash("Choose offerings from the list.", "error")
        return _page(bundle, 400, set())
    try:
        kept = set_bundle_offerings(bundle, chosen, bundle_candidates(bundle.creator, bundle))
    except BundleError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(bundle, 400, chosen)
    what = bundle.kind.label.lower()
    message = f"The {what} holds {len(kept)} {'offering' if len(kept) == 1 else 'offerings'}."
    if bundle.is_membership:
        given = give_members(bundle)
        if given:
            message += f" {given} member{'' if given == 1 else 's'} now have what you added."
    flash(message, "success")
    return redirect(url_for("studio.bundle_contents", offering_id=bundle.id))
