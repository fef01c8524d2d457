"""Media routes: /media/<token> streams a file a signed link grants, with HTTP Range."""

from __future__ import annotations

from flask import abort, send_file

from ..extensions import limiter
from ..integrations.storage import InvalidMediaToken, get_storage
from . import bp


@bp.get("/media/<token>")
@limiter.exempt
def serve(token: str):
    """Stream the file behind a valid, unexpired link; 403 for forged or expired links."""
    storage = get_storage()
    try:
        key = storage.key_for_token(token)
    except InvalidMediaToken:
        abort(403)
    path = storage.path(key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=storage.content_type(key), conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
