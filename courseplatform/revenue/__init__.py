"""Revenue: the creator's 1:1 session income, and how it compares with what their offerings bring."""

from flask import Blueprint

bp = Blueprint("revenue", __name__)

from . import sessions, views  # noqa: E402,F401
