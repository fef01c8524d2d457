"""Studio routes for getting paid: the creator's Stripe Connect account and their earnings.

GET  /studio/payouts            where the creator stands with Stripe, and the ledger of their sales
POST /studio/payouts/connect    create the connected account if needed, then go to Stripe's onboarding
GET  /studio/payouts/return     Stripe sends the creator back here: read and keep the account's status
GET  /studio/payouts/refresh    Stripe sends the creator here when an onboarding link expired: a fresh one

Only the creator's own account: none of these take an id, so nobody can reach another's.
"""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import creator_required
from ...extensions import db
from ...fields import page_number
from ...integrations.payments import TEST_MODE_FEE_FIXED_CENTS, TEST_MODE_FEE_PERCENT_BP
from ...links import absolute_url
from .. import bp
from ..offerings.forms import ConfirmForm
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
        )
    )
    response.headers["Cache-Control"] = "private, no-store"  # learners' e-mails and the creator's income
    return response


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
