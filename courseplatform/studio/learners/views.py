"""Studio routes for an offering's learners: who is in, their progress and orders, and what the creator can do.

GET       /studio/courses/<id>/learners                        the roster (search, status filter, 50 a page)
GET       /studio/courses/<id>/learners.csv                    the roster as a spreadsheet-safe CSV
POST      /studio/courses/<id>/learners/grant                  complimentary access for one e-mail address
POST      /studio/courses/<id>/learners/import                 enrol everyone in a CSV, in the background
GET       /studio/courses/<id>/learners/imports/<job>          that enrolment's progress, then its report
POST      /studio/courses/<id>/learners/<enrollment>/revoke    take access away now (no money moves)
POST      /studio/courses/<id>/learners/<enrollment>/restore   give revoked access back, knowingly
POST      /studio/courses/<id>/learners/<enrollment>/certificate/reissue   a revoked certificate counts again
GET, POST /studio/courses/<id>/orders/<order>/refund           refund part or all of an order
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import owned_offering_or_404, studio_required
from ...accounts.services import INVITE_MAX_AGE
from ...checkout.services import RefundError, refund_as_seen, refund_outcome
from ...downloads import private_download
from ...enrollments import access_changes
from ...extensions import db
from ...fields import page_number
from ...formatting import format_money
from ...integrations.mail import mail_of_job
from ...learning.certificates import completion_of
from ...models import EnrollmentStatus, JobStatus, Offering
from .. import bp
from ..offerings.forms import ConfirmForm
from .forms import GrantAccessForm, ImportLearnersForm, LearnerSearchForm, RefundForm
from .jobs import enrolment_job, report_from, start_enrolling
from .services import (
    MAX_IMPORT_BYTES,
    Grant,
    GrantOutcome,
    LearnerError,
    grant_access,
    has_password,
    learner_roster,
    learners_csv,
    offering_enrollment,
    offering_order,
    order_gave,
    read_learner_list,
    refund_authors,
    restore_access,
)


def _roster_offering(offering_id: int):
    """The offering whose learners these are: 404 for a bundle, whose learners are its offerings' (and whom
    a grant or a list would enrol in an offering with no lessons)."""
    offering = owned_offering_or_404(offering_id)
    if offering.holds_offerings:
        abort(404)
    return offering


@bp.get("/courses/<int:offering_id>/learners")
@studio_required
def learners(offering_id: int):
    """Everyone enrolled, with how they joined, their progress and their order; search, filter, page."""
    return _roster_page(_roster_offering(offering_id))


def _roster_page(offering: Offering, grant: GrantAccessForm | None = None, upload: ImportLearnersForm | None = None):
    search = LearnerSearchForm(request.args)
    roster = learner_roster(offering, search.query, search.status_filter, page_number(request.args))
    return render_template(
        "studio/learners.html",
        offering=offering,
        roster=roster,
        search=search,
        grant=grant or GrantAccessForm(formdata=None),
        upload=upload or ImportLearnersForm(formdata=None),
        confirm=ConfirmForm(),
        statuses=list(EnrollmentStatus),
        open_add=roster.everyone == 0 or grant is not None or upload is not None,
    )


@bp.get("/courses/<int:offering_id>/learners.csv", endpoint="learners_csv")
@studio_required
def learners_csv_download(offering_id: int):
    """The roster (as searched and filtered) as CSV, for the creator's spreadsheet or mailing tool."""
    offering = _roster_offering(offering_id)
    search = LearnerSearchForm(request.args)
    return private_download(learners_csv(offering, search.query, search.status_filter), f"{offering.slug}-learners.csv")


@bp.post("/courses/<int:offering_id>/learners/grant")
@studio_required
def grant_learner(offering_id: int):
    """Give one person complimentary access by e-mail; someone without an account is invited to make one."""
    offering = _roster_offering(offering_id)
    form = GrantAccessForm()
    if not form.validate_on_submit():
        return _roster_page(offering, grant=form)
    try:
        grant = grant_access(offering, form.email.data, form.name.data or "", zone=current_user.time_zone)
    except LearnerError as error:
        db.session.rollback()
        form.email.errors.append(str(error))
        return _roster_page(offering, grant=form)
    flash(*_grant_message(grant, offering))
    return redirect(url_for("studio.learners", offering_id=offering.id))


@bp.post("/courses/<int:offering_id>/learners/import")
@studio_required
def import_learners(offering_id: int):
    """Check an uploaded CSV and start enrolling everyone on it; the next page follows the job."""
    offering = _roster_offering(offering_id)
    form = ImportLearnersForm()
    if not form.validate_on_submit():
        return _roster_page(offering, upload=form)
    try:
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
    finally:
        form.file.data.close()  # a large upload sits in a temporary file: let it go now
    try:
        people, report = read_learner_list(data)
    except LearnerError as error:
        form.file.errors.append(str(error))
        return _roster_page(offering, upload=form)
    job = start_enrolling(
        offering, people, report, notify=form.notify.data, by=current_user, filename=form.file.data.filename or ""
    )
    return redirect(url_for("studio.learner_import", offering_id=offering.id, job_id=job.id))


@bp.get("/courses/<int:offering_id>/learners/imports/<int:job_id>")
@studio_required
def learner_import(offering_id: int, job_id: int):
    """How an uploaded list is being enrolled: progress while the job runs, then line by line what was done."""
    offering = owned_offering_or_404(offering_id)
    job = enrolment_job(offering, job_id)
    if job is None:
        abort(404)
    invitations = mail_of_job(job.id) if job.status is JobStatus.DONE else None
    return render_template(
        "studio/learner_import_report.html",
        offering=offering,
        job=job,
        report=report_from(job.result) if job.status is JobStatus.DONE else None,
        invitations=invitations,
        notified=job.payload.get("notify", False),
        invite_days=INVITE_MAX_AGE // 86400,
        filename=job.payload.get("filename", ""),
        active_tab="studio.learners",
    )


def _confirmed_enrollment(offering_id: int, enrollment_id: int):
    """The offering (owner or admin only) and one of its enrollments, for a confirmed POST; 404 or 400 otherwise."""
    offering = owned_offering_or_404(offering_id)
    enrollment = offering_enrollment(offering, enrollment_id)
    if enrollment is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return offering, enrollment


@bp.post("/courses/<int:offering_id>/learners/<int:enrollment_id>/revoke")
@studio_required
def revoke_learner(offering_id: int, enrollment_id: int):
    """Take a learner's access away at once; money is refunded separately."""
    offering, enrollment = _confirmed_enrollment(offering_id, enrollment_id)
    if enrollment.status is EnrollmentStatus.REVOKED:
        flash(f"{enrollment.user.email} had no access already.", "info")
    else:
        access_changes.revoke(enrollment)
        flash(f"{enrollment.user.email} no longer has access to {offering.title}. No money was refunded.", "success")
    return redirect(_back_to_roster(offering))


@bp.post("/courses/<int:offering_id>/learners/<int:enrollment_id>/restore")
@studio_required
def restore_learner(offering_id: int, enrollment_id: int):
    """Give revoked access back (a mistaken revoke, a change of heart)."""
    offering, enrollment = _confirmed_enrollment(offering_id, enrollment_id)
    if enrollment.status is not EnrollmentStatus.REVOKED:
        flash(f"{enrollment.user.email}'s access isn't revoked, so there is nothing to restore.", "info")
        return redirect(_back_to_roster(offering))
    try:
        restore_access(enrollment)
    except LearnerError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(f"{enrollment.user.email} has access to {offering.title} again.", "success")
    return redirect(_back_to_roster(offering))


@bp.post("/courses/<int:offering_id>/learners/<int:enrollment_id>/certificate/reissue")
@studio_required
def reissue_certificate(offering_id: int, enrollment_id: int):
    """Make a revoked certificate count again: only ever the creator's explicit act, for a learner with access."""
    offering, enrollment = _confirmed_enrollment(offering_id, enrollment_id)
    certificate = completion_of(enrollment).certificate
    if certificate is None:
        abort(404)
    if access_changes.reissue_certificate(certificate):
        flash(f"Certificate {certificate.number} is valid again; its verification page says so.", "success")
    elif not enrollment.is_active:
        flash("Restore their access first: a certificate is reissued only to a learner who has access.", "error")
    else:
        flash(f"Certificate {certificate.number} isn't revoked, so there is nothing to reissue.", "info")
    return redirect(url_for("studio.learner_progress", offering_id=offering.id, enrollment_id=enrollment.id))


@bp.route("/courses/<int:offering_id>/orders/<int:order_id>/refund", methods=["GET", "POST"])
@studio_required
def refund(offering_id: int, order_id: int):
    """Refund part or all of one order: a full refund ends access, a partial one keeps it."""
    offering = owned_offering_or_404(offering_id)
    order = offering_order(offering, order_id)
    if order is None:
        abort(404)
    form = RefundForm()
    if request.method == "GET":
        form.amount.data = order.refundable_cents or None
        form.refunded_before.data = str(order.refunds_requested_cents)
    elif form.validate_on_submit():
        try:
            order, refund = refund_as_seen(
                order.id, form.amount.data, form.refunded_before.data, by=current_user, reason=form.reason.data or ""
            )
        except RefundError as error:
            db.session.rollback()
            form.amount.errors.append(str(error))
            order = offering_order(offering, order_id)
            form.refunded_before.data = str(order.refunds_requested_cents)
        else:
            flash(refund_outcome(order, refund, form.amount.data), "success")
            # A bundle's learners are its offerings': its overview is where the creator came from.
            back = "studio.offering" if offering.holds_offerings else "studio.learners"
            return redirect(url_for(back, offering_id=offering.id))
    left = format_money(order.refundable_cents, order.currency)
    form.amount.description = f"Up to {left}. Refunding all of it ends their access; a partial refund keeps it."
    return render_template(
        "studio/refund.html",
        offering=offering,
        order=order,
        form=form,
        authors=refund_authors(order),
        given=order_gave(order) if offering.holds_offerings else [],
        active_tab="studio.offering" if offering.holds_offerings else "studio.learners",
    )


def _grant_message(grant: Grant, offering: Offering) -> tuple[str, str]:
    """What the creator is told after giving access: what changed, and whether the e-mail went."""
    email = grant.user.email
    invitation = not has_password(grant.user)
    if grant.outcome is GrantOutcome.ALREADY:
        if invitation and grant.mailed:
            return (
                f"{email} already has access but hasn't chosen a password yet: we've sent the invitation again.",
                "info",
            )
        return f"{email} already has access to {offering.title}. Nothing changed.", "info"
    done = {
        GrantOutcome.INVITED: f"{email} now has access. They had no account, so we've made one",
        GrantOutcome.RESTORED: f"{email} has access again",
        GrantOutcome.ENROLLED: f"{email} now has access",
    }[grant.outcome]
    if invitation and grant.outcome is GrantOutcome.INVITED:
        return f"{done} and e-mailed them an invitation to choose a password.", "success"
    if invitation:
        return f"{done}. They haven't chosen a password yet, so we've e-mailed them an invitation.", "success"
    return f"{done}, and we've e-mailed them the link.", "success"


def _back_to_roster(offering: Offering) -> str:
    """The roster page the creator acted from: its search, filter and page travel in the form's address."""
    args = {key: request.args[key] for key in ("q", "status", "page") if request.args.get(key)}
    return url_for("studio.learners", offering_id=offering.id, **args)
