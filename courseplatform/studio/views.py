"""Studio routes: /studio (the creator's offerings)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..access import creator_required
from . import bp
from .services import offerings_overview


@bp.get("")
@creator_required
def dashboard():
    """The creator's offerings with kind, status, learners, revenue and next live date."""
    profile = current_user.creator_profile
    return render_template("studio/dashboard.html", profile=profile, rows=offerings_overview(profile))
