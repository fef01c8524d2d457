"""Continuing-education steps and certificates for learners (routes on the learning blueprint).

GET, POST /learn/<slug>/evaluation         the CE evaluation (offerings with CE hours)
GET, POST /learn/<slug>/attestation        the attestation; signing it issues the certificate
POST      /learn/<slug>/certificate        claim the certificate of completion (offerings without CE hours)
GET       /learn/<slug>/certificate.pdf    my certificate as a PDF
GET       /learn/ce                        my CE wallet: every CE certificate, hours by body and category
GET       /learn/ce.csv                    the same as CSV, for a licence renewal
GET       /learn/ce.pdf                    the same as one PDF transcript
GET, POST /learn/ce/licences               my licences (what my CE certificates state), and add one
POST      /learn/ce/licences/<id>/delete   remove one of my licences

Each step refuses to be taken out of order and sends the learner to the step that is
theirs now. Only a learner with an active enrollment uses them.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..continuing_education import LicenceError, add_licence, licences_of, owned_licence
from ..downloads import attachment, private_download
from ..extensions import db
from ..fields import page_number
from ..formatting import format_date
from ..links import absolute_url
from ..models import Enrollment, Offering, utcnow
from . import bp
from .ce_forms import AttestationForm, ClaimCertificateForm, LicenceForm, evaluation_form
from .certificate_pdf import ce_transcript_pdf, certificate_filename, certificate_pdf
from .certificates import (
    EVALUATION_STATEMENTS,
    Completion,
    Step,
    attestation_text,
    ce_hours_label,
    ce_totals,
    ce_wallet_csv,
    ce_wallet_lines,
    ce_wallet_page,
    completion_of,
    issue_certificate,
    learner_enrollment,
    sign_attestation,
    submit_evaluation,
    verification_url,
)

bp.add_app_template_filter(ce_hours_label, "ce_hours")


def _enrollment_or_404(slug: str) -> Enrollment:
    enrollment = learner_enrollment(current_user, slug)
    if enrollment is None:
        abort(404)
    return enrollment


def _outline(offering: Offering) -> str:
    return url_for("learning.offering", slug=offering.slug)


def _not_now(offering: Offering, completion: Completion, here: Step):
    """None when `here` is the learner's step; otherwise a redirect to the step that is, with why."""
    if completion.step is here:
        return None
    step = completion.step
    if step is Step.CONTENT:
        flash("Finish every lesson first (and pass every quiz): your certificate comes after that.", "info")
    elif step is Step.ATTENDANCE:
        attendance = completion.attendance
        flash(
            f"Attend at least {attendance.required_percent}% of the live sessions first "
            f"(you have {attendance.percent}%).",
            "info",
        )
    elif step is Step.EVALUATION:
        flash("Complete the evaluation first: it comes before the attestation.", "info")
        return redirect(url_for("learning.evaluation", slug=offering.slug))
    elif step is Step.ATTESTATION:
        flash("You've completed the evaluation. Sign the attestation to get your certificate.", "info")
        return redirect(url_for("learning.attestation", slug=offering.slug))
    elif step is Step.CLAIM:
        flash(f"{offering.title} has no CE evaluation: get your certificate of completion here.", "info")
    else:
        flash(f"You already have your certificate for {offering.title}.", "info")
    return redirect(_outline(offering))


@bp.route("/<slug>/evaluation", methods=["GET", "POST"])
@login_required
def evaluation(slug: str):
    """The short CE evaluation every learner answers before the attestation."""
    enrollment = _enrollment_or_404(slug)
    offering = enrollment.offering
    completion = completion_of(enrollment)
    elsewhere = _not_now(offering, completion, Step.EVALUATION)
    if elsewhere is not None:
        return elsewhere
    form = evaluation_form(offering.objectives)
    if form.validate_on_submit():
        submit_evaluation(enrollment, form.ratings, form.comments.data or "", objectives=form.objective_ratings)
        flash("Thank you for your evaluation. One last step: the attestation.", "success")
        return redirect(url_for("learning.attestation", slug=offering.slug))
    return render_template(
        "learning/evaluation.html",
        offering=offering,
        completion=completion,
        form=form,
        statements=EVALUATION_STATEMENTS,
    )


@bp.route("/<slug>/attestation", methods=["GET", "POST"])
@login_required
def attestation(slug: str):
    """The attestation the learner signs for their CE hours; signing it issues the certificate."""
    enrollment = _enrollment_or_404(slug)
    offering = enrollment.offering
    completion = completion_of(enrollment)
    elsewhere = _not_now(offering, completion, Step.ATTESTATION)
    if elsewhere is not None:
        return elsewhere
    form = AttestationForm()
    licences = licences_of(current_user)
    # Asked once, before the first CE certificate that answers to an accrediting body.
    licence_form = LicenceForm(prefix="licence") if offering.ce_claims and not licences else None
    if form.validate_on_submit() and (licence_form is None or licence_form.validate()):
        if licence_form is not None:
            add_licence(current_user, licence_form.values)
        certificate = sign_attestation(enrollment, completion.evaluation)
        flash(f"Your certificate is ready: number {certificate.number}.", "success")
        return redirect(_outline(offering))
    return render_template(
        "learning/attestation.html",
        offering=offering,
        completion=completion,
        form=form,
        licence_form=licence_form,
        licences=licences,
        statement=attestation_text(enrollment),
    )


@bp.route("/ce/licences", methods=["GET", "POST"])
@login_required
def licences():
    """My licences: each CE certificate states the one that answers to the body it is issued for."""
    form = LicenceForm()
    if form.validate_on_submit():
        try:
            licence = add_licence(current_user, form.values)
        except LicenceError as error:
            form.licence_type.errors.append(str(error))
        else:
            flash(f"Added your {licence.licence_type} licence. Certificates issued from now on state it.", "success")
            return redirect(url_for("learning.licences"))
    return render_template(
        "learning/licences.html", form=form, licences=licences_of(current_user), confirm=ClaimCertificateForm()
    )


@bp.post("/ce/licences/<int:licence_id>/delete")
@login_required
def delete_licence(licence_id: int):
    """Remove a licence; certificates already issued keep what they state."""
    licence = owned_licence(current_user, licence_id)
    if licence is None:
        abort(404)
    if not ClaimCertificateForm().validate_on_submit():
        abort(400)
    name = licence.licence_type
    db.session.delete(licence)
    flash(f"Removed your {name} licence. Certificates already issued keep what they state.", "success")
    return redirect(url_for("learning.licences"))


@bp.post("/<slug>/certificate")
@login_required
def claim_certificate(slug: str):
    """Claim the certificate of completion of an offering without CE hours, once it is complete."""
    enrollment = _enrollment_or_404(slug)
    offering = enrollment.offering
    if not ClaimCertificateForm().validate_on_submit():
        abort(400)
    completion = completion_of(enrollment)
    if completion.step is Step.ISSUED:  # a second click: the certificate is there already
        return redirect(_outline(offering))
    elsewhere = _not_now(offering, completion, Step.CLAIM)
    if elsewhere is not None:
        return elsewhere
    certificate = issue_certificate(enrollment)
    flash(f"Your certificate is ready: number {certificate.number}.", "success")
    return redirect(_outline(offering))


@bp.get("/<slug>/certificate.pdf")
@login_required
def certificate_download(slug: str):
    """My certificate as a PDF, for as long as my enrollment is active."""
    enrollment = _enrollment_or_404(slug)
    completion = completion_of(enrollment)
    certificate = completion.certificate
    if certificate is None:
        return _not_now(enrollment.offering, completion, Step.ISSUED)
    return _pdf_response(certificate, enrollment)


def _pdf_response(certificate, enrollment: Enrollment) -> Response:
    """The certificate's PDF as a download, dated in the learner's own time zone."""
    pdf = certificate_pdf(certificate, zone=enrollment.user.time_zone, verify_url=verification_url(certificate))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": attachment(certificate_filename(certificate)),
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/ce")
@login_required
def ce_wallet():
    """Every CE certificate I earned here, with hours by body and category, for my licence renewal."""
    return render_template(
        "learning/ce_wallet.html",
        totals=ce_totals(current_user),
        found=ce_wallet_page(current_user, page_number(request.args)),
        licences=licences_of(current_user),
    )


@bp.get("/ce.csv")
@login_required
def ce_wallet_csv_download():
    return private_download(ce_wallet_csv(current_user), "ce-certificates.csv")


@bp.get("/ce.pdf")
@login_required
def ce_transcript_download():
    """Every CE certificate on one PDF transcript, with hours by body and category, for a licence renewal."""
    body = ce_transcript_pdf(
        current_user.name,
        [str(licence) for licence in licences_of(current_user)],
        ce_totals(current_user),
        ce_wallet_lines(current_user),
        made_on=format_date(utcnow(), current_user.time_zone, "%B %-d, %Y"),
        verify_at=absolute_url("certificates.lookup"),
    )
    return private_download(body, "ce-transcript.pdf", "application/pdf")
