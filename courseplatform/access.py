"""Who may open what: decorators shared by the studio and admin routes."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, url_for
from flask_login import current_user, login_required


def creator_required(view):
    """Logged in with a creator profile; a learner is invited to become a creator."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_creator:
            flash("Set up your creator profile to open the studio.", "info")
            return redirect(url_for("accounts.become_creator"))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    """Logged in as an operator of the platform; everyone else gets 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
