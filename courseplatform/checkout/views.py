"""Checkout routes.

POST /courses/<slug>/checkout            Buy (or Enroll for free): a pending order and the provider's checkout
GET  /checkout/test/<order>              the test-mode checkout page (no Stripe key): Pay or Decline
POST /checkout/test/<order>/pay|decline
GET  /checkout/success?session_id=...    back from Stripe: fulfils too, so a late webhook never strands anyone
GET  /checkout/cancel?order=<id>          back from Stripe without paying: the seat is released
POST /webhooks/stripe                    Stripe's events, signature checked on the raw body
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..extensions import csrf, db, limiter
from ..ids import parse_id
from ..integrations.payments import PaymentsError, payments_for, test_mode
from ..integrations.stripe_events import MalformedEvent, WebhookError, verify_webhook, webhook_secrets
from ..models import Enrollment, Offering, Order, OrderStatus, PaymentProvider, utcnow
from ..page_cache import token_or_same_origin
from ..request_guard import raw_body
from . import bp
from .coupons import CouponError, normalise_code
from .forms import CheckoutForm
from .services import (
    AlreadyEnrolled,
    CheckoutError,
    begin_checkout,
    close_order,
    fulfil_order,
    lock_known_order,
    open_checkout,
)
from .webhooks import handle_event


@bp.post("/courses/<slug>/checkout")
@limiter.limit("20 per minute", methods=["POST"])
@token_or_same_origin
def start(slug: str):
    """The buy box: enrol at once when free, else hold the seat and send the learner to pay."""
    offering = db.session.scalar(sa.select(Offering).where(Offering.slug == slug))
    if offering is None:
        abort(404)
    try:
        code = normalise_code(request.form.get("coupon"))
    except CouponError as exc:
        # Never a sale at full price for a learner who meant to use a code.
        flash(exc.message, "error")
        return redirect(url_for("catalog.offering", slug=offering.slug) + "#enrol")
    # Back to the page with the code still applied, so a refusal or a login doesn't lose it.
    offering_page = url_for("catalog.offering", slug=offering.slug, coupon=code)
    if not current_user.is_authenticated:
        flash("Log in or create an account to sign up; you'll come straight back here.", "info")
        return redirect(url_for("accounts.login", next=offering_page))
    form = CheckoutForm(offering)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(offering_page + "#enrol")
    try:
        result = begin_checkout(current_user, offering, form.amount_cents, code, plan=form.plan.data == "1")
    except AlreadyEnrolled:
        flash("You're already enrolled, so there's nothing to pay. Welcome back.", "info")
        return redirect(_where_to_learn(offering))
    except CheckoutError as exc:
        db.session.rollback()
        flash(exc.message, exc.category)
        return redirect(offering_page + "#enrol")
    if isinstance(result, Enrollment):
        if code and not offering.is_free:
            flash(f"You're enrolled in {offering.title} with the code {code}. A receipt is on its way.", "success")
        else:
            flash(f"You're enrolled in {offering.title}. Enjoy!", "success")
        return redirect(_where_to_learn(offering))
    # Two steps, deliberately: the pending order (holding the seat, carrying the idempotency key) is kept
    # before the payment provider is called, so a paid checkout always finds its order.
    db.session.commit()
    try:
        target = open_checkout(result)
    except CheckoutError as exc:
        flash(exc.message, "error")  # the failed order is kept, so its seat is free again
        return redirect(offering_page + "#enrol")
    return redirect(target, code=303)


def _offering_page(order: Order) -> str:
    """The page the order was bought from, with its code still applied (so trying again keeps it)."""
    return url_for("catalog.offering", slug=order.offering.slug, coupon=order.coupon.code if order.coupon else None)


def _where_to_learn(offering: Offering) -> str:
    """Where a learner goes once enrolled: the offering, or for a bundle their list of offerings."""
    return url_for("learning.index") if offering.holds_offerings else url_for("learning.offering", slug=offering.slug)


# ---------------------------------------------------------------------------
# Test mode
# ---------------------------------------------------------------------------


def _own_test_order(order_id: int) -> Order:
    if not test_mode():
        abort(404)
    order = db.session.get(Order, order_id)
    if order is None or order.learner_id != current_user.id or order.provider is not PaymentProvider.TEST:
        abort(404)
    return order


@bp.get("/checkout/test/<int:order_id>")
@login_required
def test_checkout(order_id: int):
    """A clearly labelled stand-in for Stripe's page: Pay or Decline, and no money moves."""
    order = _own_test_order(order_id)
    if order.is_settled:
        return redirect(url_for("checkout.success", order=order.id))
    expired = order.status is OrderStatus.PENDING and order.expires_at is not None and order.expires_at <= utcnow()
    return render_template("checkout/test_checkout.html", order=order, offering=order.offering, expired=expired)


@bp.post("/checkout/test/<int:order_id>/<any(pay, pay_declining, decline):choice>")
@login_required
def test_checkout_choice(order_id: int, choice: str):
    order = lock_known_order(_own_test_order(order_id).id)
    offering_page = _offering_page(order)
    if order.status is OrderStatus.PENDING and order.expires_at and order.expires_at <= utcnow():
        close_order(order, OrderStatus.EXPIRED, "The checkout expired before payment.")
        flash("This checkout expired, so nothing was charged. Press Buy again to start over.", "error")
        return redirect(offering_page + "#enrol")
    if order.status is not OrderStatus.PENDING:
        return redirect(url_for("checkout.success", order=order.id))
    if choice == "decline":
        if close_order(order, OrderStatus.FAILED, "Declined on the test-mode checkout."):
            flash("The payment was declined, so nothing was charged. You can try again.", "error")
        return redirect(offering_page + "#enrol")
    if order.plan is not None:
        order.plan.test_card_declines = choice == "pay_declining"
    fulfil_order(order.id, paid=True, payment_intent_id=f"test_intent_{order.id}")
    return redirect(url_for("checkout.success", order=order.id))


# ---------------------------------------------------------------------------
# Coming back from the checkout
# ---------------------------------------------------------------------------


@bp.get("/checkout/success")
@login_required
def success():
    """Back from paying: fulfil now (the webhook may be late), then open the course or say what's pending."""
    session_id = request.args.get("session_id", "")
    order_id = parse_id(request.args.get("order"))
    if session_id:
        order = db.session.scalar(
            sa.select(Order).where(Order.provider == PaymentProvider.STRIPE, Order.checkout_id == session_id[:255])
        )
    else:
        order = db.session.get(Order, order_id) if order_id else None
    if order is None or order.learner_id != current_user.id:
        abort(404)
    if order.provider is PaymentProvider.STRIPE and order.status is OrderStatus.PENDING:
        try:
            checkout = payments_for(order).retrieve_checkout(order.checkout_id)
        except PaymentsError:
            checkout = None  # Stripe is unreachable: the page says we're confirming, and reloads
        if checkout is not None and checkout.is_complete:
            fulfil_order(
                order.id,
                paid=checkout.is_paid,
                payment_intent_id=checkout.payment_intent_id,
                totals=checkout.totals,
                subscription=checkout.started,
            )
    db.session.refresh(order)
    offering = order.offering
    if order.status is OrderStatus.PAID:
        enrollment = db.session.scalar(
            sa.select(Enrollment).where(Enrollment.order_id == order.id, Enrollment.user_id == current_user.id)
        )
        if enrollment is not None and enrollment.is_active:
            flash(f"Payment received. You're enrolled in {offering.title}; a receipt is on its way.", "success")
            return redirect(_where_to_learn(offering))
    return render_template("checkout/status.html", order=order, offering=offering)


@bp.get("/checkout/cancel")
@login_required
def cancel():
    """Back from the checkout without paying: close it so the seat is free and it can't be paid later."""
    order_id = parse_id(request.args.get("order"))
    order = db.session.get(Order, order_id) if order_id else None
    if order is None or order.learner_id != current_user.id:
        abort(404)
    offering_page = _offering_page(order)
    if order.status is OrderStatus.PENDING and order.checkout_id and not order.is_processing:
        try:
            checkout = payments_for(order).expire_checkout(order.checkout_id)
        except PaymentsError:
            checkout = None  # the session expires on its own within the hold time
        order = lock_known_order(order.id)
        if checkout is not None and checkout.is_complete:
            # Paid in another tab after all.
            fulfil_order(
                order.id,
                paid=checkout.is_paid,
                payment_intent_id=checkout.payment_intent_id,
                totals=checkout.totals,
                subscription=checkout.started,
            )
            return redirect(url_for("checkout.success", order=order.id))
        if checkout is not None:
            close_order(order, OrderStatus.EXPIRED, "Checkout cancelled by the learner.")
    flash("Checkout cancelled. Nothing was charged.", "info")
    return redirect(offering_page + "#enrol")


# ---------------------------------------------------------------------------
# Stripe's webhook
# ---------------------------------------------------------------------------


@bp.post("/webhooks/stripe")
@csrf.exempt
@limiter.exempt
@raw_body
def stripe_webhook():
    """Check the signature on the raw body, then the event's shape; record it once, apply it. 400 changes nothing."""
    payload = request.get_data(cache=False, as_text=False)
    try:
        event = verify_webhook(payload, request.headers.get("Stripe-Signature"), webhook_secrets(current_app.config))
    except MalformedEvent as exc:
        # Signed by Stripe yet not a shape Stripe sends: answered 400 so the dashboard shows it failed.
        current_app.logger.warning("refused a signed Stripe event: %s", exc)
        return {"error": str(exc)}, 400
    except WebhookError as exc:
        return {"error": str(exc)}, 400
    try:
        outcome = handle_event(event)
    except PaymentsError as exc:
        # Stripe couldn't be asked what the event needs (a charge's refunds): nothing is kept (503), Stripe retries.
        current_app.logger.warning("Stripe event %s not applied yet: %s", event.id, exc.message)
        return {"error": "Stripe could not be reached; deliver again later."}, 503
    return {"received": True, "outcome": outcome}
