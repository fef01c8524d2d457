"""Learning: what a learner has, and the course player."""

from flask import Blueprint

bp = Blueprint("learning", __name__)

from . import ce_views, live_views, views  # noqa: E402,F401
