"""Learner routes: /learn (my offerings)."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from . import bp
from .services import my_offerings


@bp.get("")
@login_required
def index():
    """Everything I'm enrolled in, with my progress."""
    return render_template("learning/index.html", offerings=my_offerings(current_user))
