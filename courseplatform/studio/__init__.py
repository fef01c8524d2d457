"""Studio: where a creator builds and runs their offerings."""

from flask import Blueprint

bp = Blueprint("studio", __name__)

from . import curriculum, files, learners, live_sessions, payouts, quiz, views, waitlist  # noqa: E402,F401
