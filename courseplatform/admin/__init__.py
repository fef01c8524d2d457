"""Admin: the operator's view of the platform."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import jobs, views  # noqa: E402,F401
