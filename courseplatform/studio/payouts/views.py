"""Studio routes for getting paid: the creator's Stripe Connect account and their earnings.

GET  /studio/payouts            where the creator stands with Stripe, and the ledger of their sales
POST /studio/payouts/connect    create the connected account if needed, then go to Stripe's onboarding
GET  /studio/payouts/return     Stripe sends the creator back here: read and keep the account's status
GET  /studio/payouts/refresh    Stripe sends the creator here when an onboarding link expired: a fresh one
GET  /studio/payouts/tax        sales tax and VAT (with STRIPE_TAX): head office, pricing, registrations
POST /studio/payouts/tax/settings, /tax/registrations, /tax/registrations/end   change them at Stripe

Only the creator's own account: none of these take an id, so nobody can reach another's.
"""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import creator_required
from ...extensions import db
from ...fields import page_number
from ...integrations.payments import TEST_MODE_FEE_FIXED_CENTS, TEST_MODE_FEE_PERCENT_BP, TaxAddress, tax_behavior
from ...links import absolute_url
from .. import bp
from ..offerings.forms import ConfirmForm
from .forms import EndRegistrationForm, TaxRegistrationForm, TaxSettingsForm
from .services import (
    PayoutsError,
    PayoutStage,
    earnings,
    fresh_onboarding_link,
    payout_stage,
    refresh_account_status,
    sale_split,
    start_onboarding,
)
from .tax import (
    TaxSetupError,
    add_registration,
    end_registration,
    kind_label,
    place_label,
    save_tax_settings,
    tax_enabled,
    tax_overview,
)

EXAMPLE_SALE_CENTS = 10_000

# What the creator is told when they come back from Stripe, by where they now stand.
RETURN_NEWS = {
    PayoutStage.READY: ("Stripe is connected: you can publish paid offerings and take payments.", "success"),
    PayoutStage.REVIEWING: (
        "Thanks: Stripe has your details and is reviewing them. "
        "Stripe lets us know when it's done, and from then on you can publish paid offerings.",
        "info",
    ),
    PayoutStage.ONBOARDING: (
        "Stripe still needs a few details before you can take payments. Continue onboarding whenever you're ready.",
        "warning",
    ),
}


def _onboarding_urls() -> tuple[str, str]:
    """Where Stripe sends the creator when a link has expired, and when they're done."""
    return absolute_url("studio.payouts_refresh"), absolute_url("studio.payouts_return")


@bp.get("/payouts")
@creator_required
def payouts():
    """Where I stand with Stripe, the one next step, and what my sales have earned me."""
    profile = current_user.creator_profile
    page = page_number(request.args)
    response = make_response(
        render_template(
            "studio/payouts.html",
            profile=profile,
            stage=payout_stage(profile),
            ledger=earnings(profile, page),
            fee_percent=current_app.config["PLATFORM_FEE_PERCENT"],
            example=sale_split(EXAMPLE_SALE_CENTS),
            estimate_rule=(TEST_MODE_FEE_PERCENT_BP, TEST_MODE_FEE_FIXED_CENTS),
            confirm=ConfirmForm(),
            tax_enabled=tax_enabled(),
        )
    )
    response.headers["Cache-Control"] = "private, no-store"  # learners' e-mails and the creator's income
    return response


@bp.get("/payouts/tax")
@creator_required
def payouts_tax():
    """Sales tax and VAT: where Stripe stands with my head office and registrations, and forms to change them."""
    if not tax_enabled():
        abort(404)
    profile = current_user.creator_profile
    settings_form = TaxSettingsForm(pricing=tax_behavior(profile.prices_include_tax))
    return _tax_page(profile, settings_form, TaxRegistrationForm(prefix="reg"), fill=True)


def _tax_page(profile, settings_form, registration_form, *, fill: bool = False, status: int = 200):
    """The tax page with what Stripe has now; `fill` puts the head office Stripe has in the form."""
    overview, problem = None, None
    if profile.stripe_account_id:
        try:
            overview = tax_overview(profile)
        except TaxSetupError as error:
            problem = error.message
        else:
            db.session.commit()  # whether the settings are active, as Stripe said
    head_office = overview.settings.head_office if overview else None
    if fill and head_office is not None:
        settings_form.country.data = head_office.country
        settings_form.state.data = head_office.state if head_office.country == "US" else ""
        settings_form.postal_code.data = head_office.postal_code
        settings_form.city.data = head_office.city
        settings_form.line1.data = head_office.line1
    response = make_response(
        render_template(
            "studio/payouts_tax.html",
            profile=profile,
            overview=overview,
            problem=problem,
            settings_form=settings_form,
            registration_form=registration_form,
            end_form=EndRegistrationForm(),
            kind_label=kind_label,
            place_label=place_label,
        ),
        status,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/payouts/tax/settings")
@creator_required
def payouts_tax_settings():
    """Keep my head office and pricing at Stripe."""
    if not tax_enabled():
        abort(404)
    profile = current_user.creator_profile
    form = TaxSettingsForm()
    if not form.validate_on_submit():
        return _tax_page(profile, form, TaxRegistrationForm(prefix="reg"), status=400)
    address = TaxAddress(
        country=form.country.data,
        state=form.state.data if form.country.data == "US" else "",
        postal_code=(form.postal_code.data or "").strip(),
        city=(form.city.data or "").strip(),
        line1=(form.line1.data or "").strip(),
    )
    try:
        settings = save_tax_settings(profile, address, prices_include_tax=form.pricing.data == "inclusive")
    except TaxSetupError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("studio.payouts_tax"))
    db.session.commit()
    if settings.is_active:
        flash("Saved. Stripe works out tax on your sales wherever you're registered below.", "success")
    else:
        flash("Saved, but Stripe still needs: " + ", ".join(settings.missing or ("your head office",)) + ".", "warning")
    return redirect(url_for("studio.payouts_tax"))


@bp.post("/payouts/tax/registrations")
@creator_required
def payouts_tax_register():
    """Add a place I'm registered to collect tax in."""
    if not tax_enabled():
        abort(404)
    profile = current_user.creator_profile
    form = TaxRegistrationForm(prefix="reg")
    if not form.validate_on_submit():
        settings_form = TaxSettingsForm(formdata=None, pricing=tax_behavior(profile.prices_include_tax))
        return _tax_page(profile, settings_form, form, fill=True, status=400)
    try:
        registration = add_registration(profile, form.country.data, form.kind.data, form.state.data)
    except TaxSetupError as error:
        flash(error.message, "error")
    else:
        place = place_label(registration.country, registration.state)
        flash(f"Tax is now collected on your sales to learners in {place}.", "success")
    return redirect(url_for("studio.payouts_tax"))


@bp.post("/payouts/tax/registrations/end")
@creator_required
def payouts_tax_unregister():
    """Stop collecting tax in a place from now on."""
    if not tax_enabled():
        abort(404)
    form = EndRegistrationForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        registration = end_registration(current_user.creator_profile, form.registration_id.data)
    except TaxSetupError as error:
        flash(error.message, "error")
    else:
        place = place_label(registration.country, registration.state)
        flash(f"Tax is no longer collected on your sales to learners in {place}.", "success")
    return redirect(url_for("studio.payouts_tax"))


@bp.post("/payouts/connect")
@creator_required
def payouts_connect():
    """Connect with Stripe (or continue onboarding): off to Stripe's hosted form."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        link = start_onboarding(current_user.creator_profile, *_onboarding_urls())
    except PayoutsError as error:
        # An account Stripe created before the link failed is kept (the answer is a redirect), and reused next time.
        flash(error.message, error.category)
        return redirect(url_for("studio.payouts"))
    return redirect(link, code=303)


@bp.get("/payouts/return")
@creator_required
def payouts_return():
    """Back from Stripe's form: ask Stripe how the account stands, keep it, and say what it means."""
    profile = current_user.creator_profile
    try:
        refresh_account_status(profile)
    except PayoutsError as error:
        db.session.rollback()
        flash(error.message, error.category)
    else:
        message, category = RETURN_NEWS[payout_stage(profile)]
        if category == "success" and not profile.stripe_payouts_enabled:
            message += " Stripe still needs your bank details before it can send you payouts."
        flash(message, category)
    return redirect(url_for("studio.payouts"))


@bp.get("/payouts/refresh")
@creator_required
def payouts_refresh():
    """The onboarding link expired or was used already: make a fresh one and go straight back to Stripe."""
    try:
        link = fresh_onboarding_link(current_user.creator_profile, *_onboarding_urls())
    except PayoutsError as error:
        flash(error.message, error.category)
        return redirect(url_for("studio.payouts"))
    return redirect(link)
