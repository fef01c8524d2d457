"""Learning: what a learner has, and the course player."""

from flask import Blueprint

bp = Blueprint("learning", __name__)

from . import views  # noqa: E402,F401
