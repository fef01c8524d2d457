"""Serving a video's HLS ladder (`ladder.py`) to whoever the calling route has let in.

Playlists come from storage through the app (they are small, and their relative links lead back to
the same route); each segment, the poster and the thumbnail are a redirect to a link that lasts
HLS_LINK_SECONDS, so the access check runs again for every segment and, on S3, no video byte passes
through the app. Only the names a ladder holds can be asked for.
"""

from __future__ import annotations

import re

from flask import Response, abort, current_app, redirect
from werkzeug.wrappers import Response as BaseResponse

from ..integrations.storage import get_storage
from ..models import MediaAsset, MediaStatus
from .ladder import CONTENT_TYPES
from .processing import rendition_prefix

STREAM_FILE = re.compile(r"master\.m3u8|([0-9]{3,4})p/(?:index\.m3u8|seg_[0-9]{3,6}\.ts)|poster\.jpg|thumb\.jpg")
MAX_PLAYLIST_BYTES = 1024 * 1024


def has_ladder(asset: MediaAsset | None) -> bool:
    return asset is not None and asset.status is MediaStatus.READY and asset.ladder_status == "ready"


def ladder_response(asset: MediaAsset | None, name: str) -> BaseResponse:
    """The ladder file `name` of `asset` (404 for anything else), never cached."""
    found = STREAM_FILE.fullmatch(name)
    if asset is None or not has_ladder(asset) or found is None:
        abort(404)
    if found.group(1) is not None and int(found.group(1)) not in (asset.ladder_heights or []):
        abort(404)
    storage = get_storage()
    key = rendition_prefix(asset.id) + name
    response: BaseResponse
    if name.endswith(".m3u8"):
        if storage.head(key) is None:
            abort(404)
        with storage.open(key) as stream:
            response = Response(stream.read(MAX_PLAYLIST_BYTES), mimetype=CONTENT_TYPES[".m3u8"])
    else:
        content_type = CONTENT_TYPES[name[name.rindex(".") :]]
        expires_in = current_app.config["HLS_LINK_SECONDS"]
        url = storage.playback_url(key, content_type=content_type, filename=name, expires_in=expires_in)
        response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response
