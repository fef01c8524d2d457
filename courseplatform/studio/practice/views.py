"""Studio routes for the therapist's practice waitlist.

GET  /studio/practice-waitlist                       the page's switch and words, counts, writing to the list,
                                                     the list 50 at a time, and referral partners
POST /studio/practice-waitlist/settings              open or close the page, and its words
POST /studio/practice-waitlist/mail                  write to the list (a job)
GET  /studio/practice-waitlist.csv                   the list as CSV
POST /studio/practice-waitlist/<id>/remove           take someone off the list (their address is erased)
POST /studio/practice-waitlist/partners              add a colleague
GET|POST /studio/practice-waitlist/partners/<id>     change one
POST /studio/practice-waitlist/partners/<id>/move    up or down
POST /studio/practice-waitlist/partners/<id>/remove  remove one

Only the creator's own list and partners: another's id is a 404.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import creator_required
from ...downloads import private_download
from ...extensions import db
from ...fields import page_number
from ...practice import (
    AlreadySent,
    MailRefused,
    latest_mailing,
    list_counts,
    list_csv,
    list_page,
    referral_partners,
    remove,
    start_mailing,
)
from .. import bp
from ..offerings.forms import ConfirmForm
from .forms import (
    MovePartnerForm,
    PracticeWaitlistMailForm,
    PracticeWaitlistSettingsForm,
    ReferralPartnerForm,
)
from .services import PartnerRefused, add_partner, move_partner, owned_partner, update_partner

PRIVATE = "private, no-store"  # addresses of people asking for therapy


def _page(
    settings: PracticeWaitlistSettingsForm | None = None,
    mail: PracticeWaitlistMailForm | None = None,
    partner: ReferralPartnerForm | None = None,
    status: int = 200,
):
    profile = current_user.creator_profile
    counts = list_counts(profile)
    response = make_response(
        render_template(
            "studio/practice_waitlist.html",
            profile=profile,
            counts=counts,
            listing=list_page(profile, page_number(request.args), counts.on_list),
            mailing=latest_mailing(profile),
            partners=referral_partners(profile),
            settings_form=settings
            or PracticeWaitlistSettingsForm(
                formdata=None,
                data={"open": profile.practice_waitlist_open, "message": profile.practice_waitlist_message},
            ),
            mail_form=mail or PracticeWaitlistMailForm(formdata=None, data={"send_key": uuid.uuid4().hex}),
            partner_form=partner or ReferralPartnerForm(formdata=None),
            confirm=ConfirmForm(),
            move_form=MovePartnerForm(),
        ),
        status,
    )
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.get("/practice-waitlist")
@creator_required
def practice_waitlist():
    """The people I can't see yet: how many, writing to them when a place opens, and who I refer to."""
    return _page()


@bp.post("/practice-waitlist/settings")
@creator_required
def practice_waitlist_settings():
    form = PracticeWaitlistSettingsForm()
    if not form.validate_on_submit():
        return _page(settings=form, status=400)
    profile = current_user.creator_profile
    profile.practice_waitlist_open = bool(form.open.data)
    profile.practice_waitlist_message = form.message.data or ""
    db.session.flush()
    if profile.practice_waitlist_open:
        flash("Your waitlist page is open: share its address wherever people ask for sessions.", "success")
    else:
        flash("Your waitlist page is closed. The people on the list stay on it.", "info")
    return redirect(url_for("studio.practice_waitlist"))


@bp.post("/practice-waitlist/mail")
@creator_required
def practice_waitlist_mail():
    form = PracticeWaitlistMailForm()
    if not form.validate_on_submit():
        if form.send_key.errors:  # not one the page made: the form shown again gets one that is
            form.send_key.data = uuid.uuid4().hex
        return _page(mail=form, status=400)
    try:
        count = start_mailing(
            current_user.creator_profile, form.subject.data, form.message.data, form.limit, form.send_key.data
        )
    except AlreadySent as exc:
        flash(str(exc), "info")
        return redirect(url_for("studio.practice_waitlist"))
    except MailRefused as exc:
        form.message.errors = [str(exc)]
        return _page(mail=form, status=400)
    flash(f"Writing to {count:,} {'person' if count == 1 else 'people'} on your waitlist.", "success")
    return redirect(url_for("studio.practice_waitlist"))


@bp.get("/practice-waitlist.csv", endpoint="practice_waitlist_csv")
@creator_required
def practice_waitlist_csv_download():
    """The list as a spreadsheet-safe CSV: addresses and dates, nothing else is kept."""
    profile = current_user.creator_profile
    return private_download(list_csv(profile), f"{profile.slug}-practice-waitlist.csv")


@bp.post("/practice-waitlist/<int:person_id>/remove")
@creator_required
def remove_from_practice_waitlist(person_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if remove(current_user.creator_profile, person_id) is None:
        abort(404)
    flash("Removed from your waitlist. Their address is erased.", "info")
    return redirect(url_for("studio.practice_waitlist", page=request.args.get("page", type=int) or None))


@bp.post("/practice-waitlist/partners")
@creator_required
def add_referral_partner():
    form = ReferralPartnerForm()
    if not form.validate_on_submit():
        return _page(partner=form, status=400)
    try:
        partner = add_partner(current_user.creator_profile, form)
    except PartnerRefused as exc:
        form.name.errors = [str(exc)]
        return _page(partner=form, status=400)
    flash(f"{partner.name} is on your waitlist page.", "success")
    return redirect(url_for("studio.practice_waitlist") + "#partners")


@bp.route("/practice-waitlist/partners/<int:partner_id>", methods=["GET", "POST"])
@creator_required
def edit_referral_partner(partner_id: int):
    partner = owned_partner(current_user.creator_profile, partner_id)
    if partner is None:
        abort(404)
    form = ReferralPartnerForm(obj=partner)
    if request.method == "POST":
        if form.validate_on_submit():
            update_partner(partner, form)
            flash(f"{partner.name} is updated.", "success")
            return redirect(url_for("studio.practice_waitlist") + "#partners")
        status = 400
    else:
        status = 200
    return render_template("studio/referral_partner.html", partner=partner, form=form), status


@bp.post("/practice-waitlist/partners/<int:partner_id>/move")
@creator_required
def move_referral_partner(partner_id: int):
    profile = current_user.creator_profile
    partner = owned_partner(profile, partner_id)
    if partner is None:
        abort(404)
    form = MovePartnerForm()
    if not form.validate_on_submit():
        abort(400)
    move_partner(profile, partner, form.direction.data)
    return redirect(url_for("studio.practice_waitlist") + "#partners")


@bp.post("/practice-waitlist/partners/<int:partner_id>/remove")
@creator_required
def remove_referral_partner(partner_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    partner = owned_partner(current_user.creator_profile, partner_id)
    if partner is None:
        abort(404)
    db.session.delete(partner)
    flash(f"{partner.name} is no longer on your waitlist page.", "info")
    return redirect(url_for("studio.practice_waitlist") + "#partners")
