"""Account routes: /signup, /login, /logout, password reset, /account and its devices, my orders, /become-a-creator."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..checkout.plans import (
    card_update_url,
    charge_test_instalment,
    end_membership,
    lock_plan,
    manage_url,
    may_pay,
    set_cancel_at_period_end,
)
from ..extensions import db, limiter
from ..fields import mailbox_of, slugify
from ..formatting import format_date
from ..integrations.payments import PaymentsError
from ..models import PaymentPlan, PaymentProvider, PlanStatus, User, utcnow
from . import bp
from .forms import (
    ChangePasswordForm,
    CreatorProfileForm,
    FinishSignupForm,
    ForgotPasswordForm,
    LoginForm,
    PlanCardForm,
    ResetPasswordForm,
    SignupForm,
)
from .services import (
    AccountError,
    authenticate,
    change_password,
    end_device_session,
    end_login_session,
    end_other_login_sessions,
    find_user_by_email,
    login_lifetime,
    login_sessions_of,
    orders_of,
    plans_of,
    receipt_order,
    register_user,
    request_signup,
    save_creator_profile,
    send_password_reset,
    set_password,
    signup_request_for,
    slug_taken,
    start_login_session,
    user_for_reset_token,
)


def _local_path(target: str) -> bool:
    parts = urlsplit(target)
    return target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme


def _safe_next(default: str) -> str:
    """Follow ?next= only to a path on this site."""
    target = request.args.get("next", "")
    return target if _local_path(target) else default


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _mailbox_key() -> str:
    """The mailbox the form's e-mail address names, hashed: one short key for all of its spellings.

    Short, because a limit's key is kept (in Redis) for as long as its window, whatever was typed.
    """
    return hashlib.sha256(mailbox_of(request.form.get("email") or "").encode()).hexdigest()


def _login_email_key() -> str:
    return "login-email:" + _mailbox_key()


def _mail_to_email_key() -> str:
    """One address gets only a few sign-up or reset messages, whoever asks for them."""
    return f"mail-to:{request.endpoint}:" + _mailbox_key()


def _end_this_browsers_login() -> None:
    """End the login session this browser holds, whoever it belongs to (the request's commit follows)."""
    if current_user.is_authenticated:
        end_login_session(current_user.login_session)


def _log_in(user: User, remember: bool = False) -> None:
    """Make this browser `user`'s with a new login session (kept by the request's commit; if that fails,
    the browser keeps the cookie it came with).

    Whoever the browser was logged in as is logged out first, remember cookie included, or
    that cookie would log the browser back in as them.
    """
    _end_this_browsers_login()
    start_login_session(user, request.user_agent.string)
    logout_user()
    login_user(user, remember=remember)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("3 per hour", methods=["POST"], key_func=_mail_to_email_key)
def signup():
    """Start an account: we e-mail a link to choose the password (or, for a known address, a way back in)."""
    if current_user.is_authenticated:
        return redirect(url_for("learning.index"))
    form = SignupForm()
    if form.validate_on_submit():
        request_signup(form.name.data, form.email.data, form.time_zone.data, _safe_next(url_for("learning.index")))
        session["signup_sent_to"] = User.normalize_email(form.email.data)
        return redirect(url_for("accounts.signup_sent"))
    return render_template("accounts/signup.html", form=form)


@bp.get("/signup/sent")
def signup_sent():
    """Check your inbox: the same page whether or not the address already had an account."""
    return render_template("accounts/signup_sent.html", email=session.get("signup_sent_to"))


@bp.route("/signup/finish/<token>", methods=["GET", "POST"])
def finish_signup(token: str):
    """Choose a password from the e-mailed link; the account is created and logged in."""
    try:
        pending = signup_request_for(token)
    except AccountError as error:
        flash(str(error), "error")
        return redirect(url_for("accounts.signup"))
    next_path = pending.next_path if _local_path(pending.next_path) else url_for("learning.index")
    if find_user_by_email(pending.email) is not None:
        flash("You already have an account with this address. Log in to continue.", "info")
        return redirect(url_for("accounts.login", next=next_path))
    form = FinishSignupForm(account_email=pending.email)
    if form.validate_on_submit():
        try:
            user = register_user(pending.name, pending.email, form.password.data, pending.time_zone)
        except AccountError:
            db.session.rollback()
            flash("You already have an account with this address. Log in to continue.", "info")
            return redirect(url_for("accounts.login", next=next_path))
        _log_in(user)
        flash(f"Welcome to Aqueduct, {user.name}.", "success")
        return redirect(next_path)
    return render_template("accounts/finish_signup.html", form=form, pending=pending)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(
    _login_limit, methods=["POST"], key_func=_login_email_key, deduct_when=lambda response: response.status_code == 200
)
def login():
    """Log in with e-mail and password, optionally remembered on this device."""
    if current_user.is_authenticated:
        return redirect(url_for("catalog.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except AccountError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
            return render_template("accounts/login.html", form=form)
        if user is None:
            form.password.errors.append("That e-mail and password don't match an account.")
        else:
            _log_in(user, remember=form.remember.data)
            flash("You're logged in.", "success")
            studio_open = user.is_creator and not user.creator_profile.is_suspended
            default = url_for("studio.dashboard") if studio_open else url_for("learning.index")
            return redirect(_safe_next(default))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    """End this device's login: its cookies, and any copy of them, open nothing afterwards."""
    _end_this_browsers_login()
    logout_user()
    flash("You're logged out.", "info")
    return redirect(url_for("catalog.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
@limiter.limit("3 per hour", methods=["POST"], key_func=_mail_to_email_key)
def forgot_password():
    """Ask for a reset link by e-mail; the answer is the same whether or not the account exists."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        send_password_reset(form.email.data)
        flash(
            "If that address has an account, we've sent it a link to choose a new password. "
            "It works once, for the next hour.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from an e-mailed, expiring, single-use link."""
    try:
        user = user_for_reset_token(token)
    except AccountError as error:
        flash(str(error), "error")
        return redirect(url_for("accounts.forgot_password"))
    # Someone invited by a creator (see studio.learners.services) has never had a password.
    first_time = user.password_hash.startswith("!")
    form = ResetPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        set_password(user, form.password.data)  # every device of the account is logged out
        if first_time:
            _log_in(user)
            flash("Your password is set. Welcome to Aqueduct: your courses are below.", "success")
            return redirect(url_for("learning.index"))
        _end_this_browsers_login()  # whoever this browser was logged in as
        logout_user()
        flash("Your password has been changed. Log in with the new one.", "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form, first_time=first_time)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """Change my password (this ends my other sessions) and see where I'm logged in."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.password.data)
        except AccountError as error:
            form.current_password.errors.append(str(error))
        else:
            flash("Your password has been changed. Other devices have been logged out.", "success")
            return redirect(url_for("accounts.account"))
    return render_template(
        "accounts/account.html",
        form=form,
        login_sessions=login_sessions_of(current_user),
        this_session=current_user.login_session,
        login_days=login_lifetime().days,
    )


@bp.post("/account/sessions/logout-others")
@login_required
def logout_other_devices():
    """Log out every other device and browser; this one stays logged in."""
    ended = end_other_login_sessions(current_user, keep=current_user.login_session)
    if ended:
        flash(f"You've been logged out on {ended} other device{'' if ended == 1 else 's'}.", "success")
    else:
        flash("You weren't logged in anywhere else.", "info")
    return redirect(url_for("accounts.account"))


@bp.post("/account/sessions/<int:login_session_id>/logout")
@login_required
def logout_device(login_session_id: int):
    """Log out one of my devices (404 for anyone else's)."""
    ended = end_device_session(current_user, login_session_id)
    if ended is None:
        abort(404)
    label, this_device = ended.device or "That device", ended.id == current_user.login_session.id
    if this_device:
        logout_user()
        flash("You're logged out.", "info")
        return redirect(url_for("catalog.home"))
    flash(f"{label} has been logged out.", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/become-a-creator", methods=["GET", "POST"])
@login_required
def become_creator():
    """Add (or edit) the creator profile that opens the studio."""
    profile = current_user.creator_profile
    form = CreatorProfileForm(obj=profile)
    if request.method == "GET":
        form.time_zone.data = current_user.time_zone
        if profile is None:
            form.display_name.data = current_user.name
            form.default_session_fee_cents.data = 15000
            suggestion = slugify(current_user.name)
            form.slug.data = suggestion if not slug_taken(suggestion) else ""
    if form.validate_on_submit():
        try:
            save_creator_profile(current_user, form.data)
        except AccountError as error:
            db.session.rollback()
            form[error.field or "slug"].errors.append(str(error))
        else:
            if profile is None:
                flash("Your studio is ready. Start by creating your first offering.", "success")
                return redirect(url_for("studio.dashboard"))
            flash("Your profile has been saved.", "success")
            return redirect(url_for("accounts.become_creator"))
    return render_template("accounts/creator_profile.html", form=form, profile=profile)


@bp.get("/account/orders")
@login_required
def orders():
    """Everything I've bought, newest first, with what became of each payment."""
    return render_template(
        "accounts/orders.html", orders=orders_of(current_user), plans=plans_of(current_user), cancel_form=PlanCardForm()
    )


def _own_plan(plan_id: int) -> PaymentPlan:
    plan = db.session.get(PaymentPlan, plan_id)
    if plan is None or plan.learner_id != current_user.id or plan.status in (PlanStatus.PENDING, PlanStatus.ABANDONED):
        abort(404)
    return plan


@bp.get("/account/plans/<int:plan_id>/card")
@login_required
def plan_card(plan_id: int):
    """Update the card a payment plan is paid by, and pay what is overdue: Stripe's page, or the test mode's."""
    plan = _own_plan(plan_id)
    if not may_pay(plan):
        flash("This payment plan has ended, so there is no card to update.", "info")
        return redirect(url_for("accounts.orders"))
    if plan.provider is PaymentProvider.STRIPE:
        try:
            return redirect(card_update_url(plan), code=303)
        except PaymentsError as exc:
            flash(exc.message.replace("Nothing was charged; please", "Please"), "error")
            return redirect(url_for("accounts.orders"))
    return render_template("accounts/plan_card.html", plan=plan, form=PlanCardForm())


@bp.get("/account/plans/<int:plan_id>/manage")
@login_required
def plan_manage(plan_id: int):
    """A Stripe membership's own page in Stripe's customer portal: cancel, resume, change the card, invoices."""
    plan = _own_plan(plan_id)
    if plan.provider is not PaymentProvider.STRIPE or not plan.is_membership:
        abort(404)
    try:
        return redirect(manage_url(plan), code=303)
    except PaymentsError as exc:
        flash(exc.message.replace("Nothing was charged; please", "Please"), "error")
        return redirect(url_for("accounts.orders"))


@bp.post("/account/plans/<int:plan_id>/cancel")
@login_required
def plan_cancel(plan_id: int):
    """Test mode: cancel a membership at the end of its period, or keep it after all."""
    plan = _own_plan(plan_id)
    form = PlanCardForm()
    if plan.provider is not PaymentProvider.TEST or not plan.is_membership or not form.validate_on_submit():
        abort(400)
    plan = lock_plan(plan.id) or plan
    keep = request.form.get("keep") == "1"
    if not plan.is_running:
        flash("This membership has already ended. Join again from its page whenever you like.", "info")
        return redirect(url_for("accounts.orders"))
    if plan.status is not PlanStatus.ACTIVE and not keep:
        # A renewal is overdue: nothing is paid ahead, so it ends now (and its group seat goes back).
        end_membership(plan, "Canceled by the member while a renewal was overdue.")
        flash("Your membership is canceled and has ended: nothing more will be taken.", "success")
        return redirect(url_for("accounts.orders"))
    set_cancel_at_period_end(plan, not keep)
    when = format_date(plan.next_charge_at, current_user.time_zone) if plan.next_charge_at else "the end of the period"
    if keep:
        flash(f"Your membership goes on: it renews on {when}.", "success")
    else:
        flash(f"Your membership is canceled: it ends on {when}, and you keep access until then.", "success")
    return redirect(url_for("accounts.orders"))


@bp.post("/account/plans/<int:plan_id>/card")
@login_required
def plan_card_test(plan_id: int):
    """Test mode: switch to the test card that works; what is overdue is taken with it at once."""
    plan = _own_plan(plan_id)
    form = PlanCardForm()
    if plan.provider is not PaymentProvider.TEST or not form.validate_on_submit():
        abort(400)
    plan = lock_plan(plan.id) or plan
    if not plan.is_running:
        flash("This payment plan has ended, so there is no card to update.", "info")
        return redirect(url_for("accounts.orders"))
    plan.test_card_declines = False
    if plan.status in (PlanStatus.PAST_DUE, PlanStatus.PAUSED):
        charge_test_instalment(plan, utcnow())
        flash("Your card is updated and the payment that was due is taken. Your access is on.", "success")
    else:
        flash("Your card is updated: the next payments are taken from it.", "success")
    return redirect(url_for("accounts.orders"))


@bp.get("/account/orders/<int:order_id>")
@login_required
def receipt(order_id: int):
    """A printable receipt for one of my paid orders (404 for anyone else's)."""
    order = receipt_order(current_user, order_id)
    if order is None:
        abort(404)
    return render_template("accounts/receipt.html", order=order)
