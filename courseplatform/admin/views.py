"""The operator's console. Every route is for admins only (`admin_required`).

GET  /admin                                   the platform at a glance: counts, sales and the platform fee
GET  /admin/creators                          creators with payout status, offerings, learners, money (search, page)
GET  /admin/creators/<id>                     one creator: figures, offerings, recent orders, suspension
POST /admin/creators/<id>/suspend             take their offerings out of the catalog and close their studio
POST /admin/creators/<id>/unsuspend           put them back
GET  /admin/accounts/<id>                     one account: its orders and whether it may log in
POST /admin/accounts/<id>/suspend             stop it logging in and end its logins
POST /admin/accounts/<id>/unsuspend           let it log in again
GET  /admin/orders                            orders by buyer e-mail, number or Stripe id (search, status, page)
GET  /admin/orders/<id>                       one order, its refunds, and the refund form
POST /admin/orders/<id>/refund                review a refund, then confirm it (the studio's refund service)
GET  /admin/audit                             every operator action, newest first
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..access import admin_required
from ..checkout.services import RefundError, refund_as_seen, refund_outcome
from ..extensions import db
from ..fields import page_number
from ..formatting import format_money
from ..ids import parse_id
from ..models import AuditEntry, Order, OrderStatus
from ..pagination import paginate
from ..studio.learners.services import refund_authors
from . import bp
from .audit import ACTION_LABELS, entries_about, record
from .forms import CreatorSearchForm, OperatorRefundForm, OrderSearchForm, ReasonForm
from .services import (
    AUDIT_PER_PAGE,
    AdminError,
    PayoutStatus,
    account_or_none,
    creator_detail,
    creator_or_none,
    creators_page,
    fee_percent,
    order_or_none,
    orders_of,
    orders_page,
    platform_counts,
    platform_money,
    suspend_account,
    suspend_creator,
    unsuspend_account,
    unsuspend_creator,
)


@bp.after_request
def keep_private(response):
    """Buyers' e-mails and money: never kept in a browser's cache."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.context_processor
def labels():
    return {"action_labels": ACTION_LABELS}


@bp.get("")
@admin_required
def index():
    """What an operator checks first: people, offerings, suspensions, sales and the platform fee per currency."""
    return render_template(
        "admin/index.html", stats=platform_counts(), money=platform_money(), fee_percent=fee_percent()
    )


# ---------------------------------------------------------------------------
# Creators


@bp.get("/creators")
@admin_required
def creators():
    """Every creator with their payout status, offerings, learners and money; search by name, e-mail or slug."""
    search = CreatorSearchForm(request.args)
    found = creators_page(search.query, search.status.data or "", page_number(request.args))
    return render_template("admin/creators.html", search=search, found=found, statuses=PayoutStatus)


def _creator_or_404(creator_id: int):
    profile = creator_or_none(creator_id)
    if profile is None:
        abort(404)
    return profile


def _render_creator(profile, form: ReasonForm | None = None, account_form: ReasonForm | None = None):
    return render_template(
        "admin/creator.html",
        profile=profile,
        detail=creator_detail(profile),
        form=form or ReasonForm(formdata=None),
        account_form=account_form or ReasonForm(formdata=None),
        history=entries_about(profile, profile.user),
    )


@bp.get("/creators/<int:creator_id>")
@admin_required
def creator(creator_id: int):
    """One creator: figures, offerings, recent orders, the audit trail, and Suspend or Unsuspend."""
    return _render_creator(_creator_or_404(creator_id))


@bp.post("/creators/<int:creator_id>/suspend")
@admin_required
def suspend_creator_route(creator_id: int):
    """Suspend a creator: their offerings leave the catalog and their studio closes; learners keep access."""
    return _change_creator(creator_id, suspend_creator, "{name} is suspended: nothing of theirs can be bought now.")


@bp.post("/creators/<int:creator_id>/unsuspend")
@admin_required
def unsuspend_creator_route(creator_id: int):
    """Unsuspend a creator: their published offerings are back in the catalog and their studio opens."""
    return _change_creator(creator_id, unsuspend_creator, "{name} is no longer suspended.")


def _change_creator(creator_id: int, change, done: str):
    profile = _creator_or_404(creator_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_creator(profile, form=form), 400
    try:
        change(profile, form.reason.data)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "info")
    else:
        flash(done.format(name=profile.display_name), "success")
    return redirect(url_for("admin.creator", creator_id=profile.id))


# ---------------------------------------------------------------------------
# Accounts


def _account_or_404(user_id: int):
    user = account_or_none(user_id)
    if user is None:
        abort(404)
    return user


def _render_account(user, form: ReasonForm | None = None):
    return render_template(
        "admin/account.html",
        user=user,
        orders=orders_of(user),
        form=form or ReasonForm(formdata=None),
        history=entries_about(user),
    )


@bp.get("/accounts/<int:user_id>")
@admin_required
def account(user_id: int):
    """One account: who it is, its orders, whether it may log in, and Suspend or Unsuspend."""
    return _render_account(_account_or_404(user_id))


@bp.post("/accounts/<int:user_id>/suspend")
@admin_required
def suspend_account_route(user_id: int):
    """Suspend an account: it can't log in, and every device it is logged in on is logged out."""
    user = _account_or_404(user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_account(user, form), 400
    try:
        ended = suspend_account(user, form.reason.data, by=current_user)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        devices = f"{ended} device" if ended == 1 else f"{ended} devices"
        flash(f"{user.email} is suspended and was logged out of {devices}.", "success")
    return redirect(url_for("admin.account", user_id=user.id))


@bp.post("/accounts/<int:user_id>/unsuspend")
@admin_required
def unsuspend_account_route(user_id: int):
    """Unsuspend an account: it can log in again."""
    user = _account_or_404(user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_account(user, form), 400
    try:
        unsuspend_account(user, form.reason.data)
    except AdminError as error:
        db.session.rollback()
        flash(str(error), "info")
    else:
        flash(f"{user.email} can log in again.", "success")
    return redirect(url_for("admin.account", user_id=user.id))


# ---------------------------------------------------------------------------
# Orders


@bp.get("/orders")
@admin_required
def orders():
    """Orders, newest first, found by buyer e-mail, order number or Stripe id, filtered by status."""
    search = OrderSearchForm(request.args)
    creator_id = parse_id(search.creator.data)
    found = orders_page(search.query, search.status_filter, creator_id, page_number(request.args))
    creator = creator_or_none(creator_id) if creator_id else None
    return render_template("admin/orders.html", search=search, found=found, creator=creator)


def _order_or_404(order_id: int) -> Order:
    order = order_or_none(order_id)
    if order is None:
        abort(404)
    return order


def _render_order(order: Order, form: OperatorRefundForm | None = None, status: int = 200):
    if form is None:
        form = OperatorRefundForm(formdata=None)
        form.amount.data = order.refundable_cents or None
    form.refunded_before.data = str(order.refunds_requested_cents)
    form.confirmed.data = ""
    left = format_money(order.refundable_cents, order.currency)
    form.amount.description = f"Up to {left}. Refunding all of it ends the learner's access; a partial refund keeps it."
    return (
        render_template(
            "admin/order.html", order=order, form=form, authors=refund_authors(order), history=entries_about(order)
        ),
        status,
    )


@bp.get("/orders/<int:order_id>")
@admin_required
def order(order_id: int):
    """One order: amounts, fees, Stripe ids, refunds, and the refund form."""
    return _render_order(_order_or_404(order_id))


@bp.post("/orders/<int:order_id>/refund")
@admin_required
def refund(order_id: int):
    """Refund part or all of an order, after a confirmation step, through the same service as the studio's refund."""
    order = _order_or_404(order_id)
    if not order.is_settled:
        abort(404)
    form = OperatorRefundForm()
    if not form.validate_on_submit():
        return _render_order(order, form, 400)
    if form.amount.data > order.refundable_cents:
        left = format_money(order.refundable_cents, order.currency)
        form.amount.errors.append(
            f"You can refund at most {left} on this order."
            if order.refundable_cents
            else "This order has nothing left to refund."
        )
        return _render_order(order, form, 400)
    if form.confirmed.data != "yes":
        return render_template("admin/refund_confirm.html", order=order, form=form)
    try:
        order, made = refund_as_seen(
            order.id, form.amount.data, form.refunded_before.data, by=current_user, reason=form.reason.data
        )
        amount = format_money(form.amount.data, order.currency)
        record(
            "order.refund",
            order,
            f"{amount} of order #{order.id} ({order.offering.title}) to {order.learner.email}; "
            f"order now {order.status.value}",
            reason=form.reason.data,
        )
    except RefundError as error:
        db.session.rollback()
        order = _order_or_404(order_id)
        form.amount.errors.append(str(error))
        return _render_order(order, form, 409)
    flash(refund_outcome(order, made, form.amount.data), "success")
    return redirect(url_for("admin.order", order_id=order.id))


# ---------------------------------------------------------------------------
# Audit log


@bp.get("/audit")
@admin_required
def audit():
    """Every operator action, newest first: who, when, what, to what, and why."""
    rows = (
        sa.select(AuditEntry)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
    found = paginate(rows, page_number(request.args), AUDIT_PER_PAGE, total=sa.select(sa.func.count(AuditEntry.id)))
    return render_template("admin/audit.html", found=found, statuses=OrderStatus)
