"""Revenue: the creator's 1:1 session income, and how it compares with what their offerings bring."""

from flask import Blueprint

bp = Blueprint("revenue", __name__)


@bp.after_request
def keep_private(response):
    """Income figures, and an import preview that came from a client file: never kept in a browser's cache."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


from . import sessions, views  # noqa: E402,F401
