"""Studio: where a creator builds and runs their offerings."""

from flask import Blueprint

bp = Blueprint("studio", __name__)

from . import (  # noqa: E402,F401
    attendance,
    curriculum,
    files,
    learner_progress,
    learners,
    live_sessions,
    payouts,
    quiz,
    views,
    waitlist,
)
