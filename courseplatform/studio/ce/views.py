"""Studio routes for continuing education.

GET  /studio/ce                            the creator's approvals as a provider, and their CE policies
POST /studio/ce/approvals                  record a body's approval (or update the one on record)
POST /studio/ce/approvals/<id>/delete      remove an approval
POST /studio/ce/policies                   the provider name and the refund, grievance and ADA policies
GET, POST /studio/courses/<id>/ce          an offering's CE details, the bodies it claims, and what the rules say
GET  /studio/courses/<id>/evaluations      the averages of its CE evaluations, and the latest comments
GET  /studio/courses/<id>/evaluations.csv  every evaluation, anonymous
GET  /studio/courses/<id>/ce/audit-pack.zip  every record an auditor asks for (roster, attendance, attempts…)

Only the creator's own approvals and offerings: anyone else's id is a 404.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import creator_required, owned_offering_or_404, studio_required
from ...continuing_education import approvals_of, approved_credits, creator_today, format_of, snapshot_ce
from ...downloads import private_download
from ...extensions import db
from ...models import DEFAULT_STATEMENTS, AccreditingBody, CreatorProfile, Lesson, LessonKind, OfferingStatus, Section
from .. import bp
from ..offerings.ce_rules import ce_review, ce_rules_kept, creators_ce_rules_kept
from ..offerings.forms import ConfirmForm
from ..offerings.services import CERulesBroken
from .audit_pack import audit_pack
from .forms import ApprovalForm, OfferingCEForm, PoliciesForm
from .services import (
    ApprovalKept,
    delete_approval,
    evaluation_summary,
    evaluations_csv,
    owned_approval,
    save_approval,
    save_offering_ce,
    save_policies,
)


def _profile() -> CreatorProfile:
    return current_user.creator_profile


def _page(approval: ApprovalForm | None = None, policies: PoliciesForm | None = None):
    profile = _profile()
    if policies is None:
        policies = PoliciesForm(obj=profile)
    return render_template(
        "studio/ce.html",
        profile=profile,
        approvals=approvals_of(profile),
        form=approval or ApprovalForm(formdata=None),
        policies=policies,
        confirm=ConfirmForm(),
        today=creator_today(profile),
        statements={body.value: text for body, text in DEFAULT_STATEMENTS.items()},
    )


@bp.get("/ce")
@creator_required
def ce():
    """My approvals as a CE provider, with their periods and formats, and the policies my programs show."""
    return _page()


@bp.post("/ce/approvals")
@creator_required
def save_ce_approval():
    """Record a body's approval; saving the same body again updates it (a renewal, a new format)."""
    form = ApprovalForm()
    if not form.validate_on_submit():
        return _page(approval=form), 400
    try:
        with creators_ce_rules_kept(_profile(), CERulesBroken):
            approval, created = save_approval(_profile(), form.data)
    except ApprovalKept as kept:
        form.provider_number.errors = [*form.provider_number.errors, str(kept)]
        return _page(approval=form), 400
    except CERulesBroken as error:
        flash(str(error), "error")
        return _page(approval=form), 400
    flash(f"{'Added' if created else 'Updated'} your {approval.body.label} approval.", "success")
    return redirect(url_for("studio.ce"))


@bp.post("/ce/approvals/<int:approval_id>/delete")
@creator_required
def delete_ce_approval(approval_id: int):
    approval = owned_approval(_profile(), approval_id)
    if approval is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    label = approval.body.label
    try:
        with creators_ce_rules_kept(_profile(), CERulesBroken):
            delete_approval(approval)
    except (ApprovalKept, CERulesBroken) as refused:
        flash(str(refused), "error")
        return redirect(url_for("studio.ce"))
    flash(f"Removed your {label} approval.", "success")
    return redirect(url_for("studio.ce"))


@bp.post("/ce/policies")
@creator_required
def save_ce_policies():
    form = PoliciesForm()
    if not form.validate_on_submit():
        return _page(policies=form), 400
    try:
        with creators_ce_rules_kept(_profile(), CERulesBroken):
            save_policies(_profile(), form.data)
    except CERulesBroken as error:
        flash(str(error), "error")
        return _page(policies=form), 400
    flash("Saved your CE policies.", "success")
    return redirect(url_for("studio.ce"))


@bp.route("/courses/<int:offering_id>/ce", methods=["GET", "POST"])
@studio_required
def offering_ce(offering_id: int):
    """The offering's CE details, the bodies it claims credit from, and what publishing would say."""
    offering = owned_offering_or_404(offering_id)
    approved = list(dict.fromkeys(approval.body for approval in approvals_of(offering.creator)))
    claimed = [claim.body for claim in offering.ce_claims]
    form = OfferingCEForm(obj=offering) if not _posted() else OfferingCEForm()
    form.offer(list(dict.fromkeys([*approved, *claimed])))
    if not _posted():
        form.claims.data = [body.value for body in claimed]
        for name in ("ce_format", "ce_level", "ce_category"):
            value = getattr(offering, name)
            form[name].data = value.value if value else ""
    today = creator_today(offering.creator)
    refused = False
    if _posted() and form.validate_on_submit():
        # A published offering's learners read its statements at once: its claims must keep standing.
        try:
            with ce_rules_kept(offering, CERulesBroken):
                save_offering_ce(offering, form.data, form.claimed)
        except CERulesBroken as error:
            refused = True
            flash(str(error), "error")
        else:
            if offering.status is OfferingStatus.PUBLISHED:
                snapshot_ce(offering, "CE details changed")
            flash("Saved the CE details.", "success")
            return redirect(url_for("studio.offering_ce", offering_id=offering.id))
    review = ce_review(offering, today) if offering.ce_claims or offering.ce_minutes else None
    status = 400 if refused else 200
    return render_template(
        "studio/offering_ce.html",
        offering=offering,
        form=form,
        review=review,
        approved=approved,
        fmt=format_of(offering),
        credits=approved_credits(offering, today),
        bodies=AccreditingBody,
        runtime=recorded_runtime(offering),
    ), status


def recorded_runtime(offering) -> tuple[int, int]:
    """The video lessons of the offering and their length in seconds, as read from the files (or typed):
    what a self-paced program's CE hours are measured against (one query)."""
    count, seconds = db.session.execute(
        sa.select(sa.func.count(Lesson.id), sa.func.coalesce(sa.func.sum(Lesson.duration_seconds), 0))
        .join(Section, Lesson.section_id == Section.id)
        .where(Section.offering_id == offering.id, Lesson.kind == LessonKind.VIDEO)
    ).one()
    return int(count), int(seconds)


def _posted() -> bool:
    return request.method == "POST"


@bp.get("/courses/<int:offering_id>/evaluations")
@studio_required
def offering_evaluations(offering_id: int):
    """What learners said in the CE evaluation: the average of each objective and statement, the latest comments."""
    offering = owned_offering_or_404(offering_id)
    return render_template(
        "studio/evaluations.html",
        offering=offering,
        summary=evaluation_summary(offering),
        active_tab="studio.offering_ce",
    )


@bp.get("/courses/<int:offering_id>/evaluations.csv")
@studio_required
def offering_evaluations_csv(offering_id: int):
    """Every evaluation as CSV, for the provider's records (anonymous: no learner is named)."""
    offering = owned_offering_or_404(offering_id)
    return private_download(evaluations_csv(offering), f"evaluations-{offering.slug}.csv")


@bp.get("/courses/<int:offering_id>/ce/audit-pack.zip")
@studio_required
def offering_audit_pack(offering_id: int):
    """Every record an accrediting body's auditor asks of this CE offering, in one ZIP."""
    offering = owned_offering_or_404(offering_id)
    return private_download(audit_pack(offering), f"audit-pack-{offering.slug}.zip", "application/zip")
