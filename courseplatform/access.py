"""Who may open what: decorators shared by the studio and admin routes."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, url_for
from flask_login import current_user, login_required

STUDIO_CLOSED = (
    "Your studio is closed because an operator suspended your creator account. "
    "Your learners keep their access. Write to support to talk about it."
)


def creator_required(view):
    """Logged in with a creator profile; a learner is invited to become a creator."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_creator:
            flash("Set up your creator profile to open the studio.", "info")
            return redirect(url_for("accounts.become_creator"))
        if current_user.creator_profile.is_suspended:
            abort(403, description=STUDIO_CLOSED)
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


def studio_required(view):
    """Logged in as a creator, or as an admin (who may open any creator's studio pages)."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not (current_user.is_creator or current_user.is_admin):
            flash("Set up your creator profile to open the studio.", "info")
            return redirect(url_for("accounts.become_creator"))
        if current_user.is_creator and current_user.creator_profile.is_suspended and not current_user.is_admin:
            abort(403, description=STUDIO_CLOSED)
        return view(*args, **kwargs)

    return wrapper


def owned_offering_or_404(offering_id: int, *options):
    """The offering if the current user owns it or is an admin; 404 otherwise (ids are not guessable)."""
    import sqlalchemy as sa

    from .extensions import db
    from .models import CreatorProfile, Offering

    offering = db.session.scalar(sa.select(Offering).where(Offering.id == offering_id).options(*options))
    if offering is None:
        abort(404)
    if current_user.is_admin:
        return offering
    profile: CreatorProfile | None = current_user.creator_profile
    if profile is None or offering.creator_id != profile.id:
        abort(404)
    return offering
