"""Serving a video's HLS ladder (`ladder.py`) to whoever the calling route has let in.

Playlists come from storage through the app (they are small, and their relative links lead back to
the same route); each segment, the poster and the thumbnail are a redirect to a link that lasts
HLS_LINK_SECONDS, so the access check runs again for every segment and, on S3, no video byte passes
through the app. Only the names a ladder holds can be asked for.

With CloudFront and CLOUDFRONT_COOKIE_DOMAIN (the large-scale path), segments skip the app: a rung's
playlist names them at the distribution, and every playlist answer sets CloudFront signed cookies
for that one video's folder, lasting HLS_LINK_SECONDS. The player renews them (`keep`) while it
plays; the renewal runs the same access check, so a refund stops the stream within that long.
"""

from __future__ import annotations

import re

from flask import Response, abort, current_app, redirect
from werkzeug.wrappers import Response as BaseResponse

from ..integrations.storage import CloudFrontLinks, S3Storage, get_storage
from ..models import MediaAsset, MediaStatus
from .ladder import CONTENT_TYPES
from .processing import rendition_prefix

# The ladder's files, as ffmpeg lays them out (a folder per rung) or MediaConvert does (side by side).
STREAM_FILE = re.compile(
    r"master\.m3u8|([0-9]{3,4})p/(?:index\.m3u8|seg_[0-9]{3,6}\.ts)|master_([0-9]{3,4})p(?:\.m3u8|_[0-9]{5,7}\.ts)"
    r"|poster\.jpg|thumb\.jpg|(keep)"
)
SEGMENT_LINE = re.compile(r"seg_[0-9]{3,6}\.ts|master_[0-9]{3,4}p_[0-9]{5,7}\.ts")
MAX_PLAYLIST_BYTES = 1024 * 1024


def has_ladder(asset: MediaAsset | None) -> bool:
    return asset is not None and asset.status is MediaStatus.READY and asset.ladder_status == "ready"


def edge_pass_seconds() -> int:
    """How long the signed cookies of the CloudFront path last (the player renews them twice as often);
    0 when segments go through the app."""
    config = current_app.config
    on_edge = config["STORAGE_BACKEND"] == "s3" and config["CLOUDFRONT_DOMAIN"] and config["CLOUDFRONT_COOKIE_DOMAIN"]
    return config["HLS_LINK_SECONDS"] if on_edge else 0


def ladder_response(asset: MediaAsset | None, name: str) -> BaseResponse:
    """The ladder file `name` of `asset` (404 for anything else), never cached.

    Under `app/` the same ladder plays with its segments through the app whatever the setup: for the
    browser's own HLS (Safari without Media Source Extensions), which sends no cookies to another origin.
    """
    via_app = name.startswith("app/")
    name = name.removeprefix("app/")
    found = STREAM_FILE.fullmatch(name)
    if asset is None or not has_ladder(asset) or found is None:
        abort(404)
    rung = found.group(1) or found.group(2)
    if rung is not None and int(rung) not in (asset.ladder_heights or []):
        abort(404)
    storage = get_storage()
    edge = storage.cdn if edge_pass_seconds() and isinstance(storage, S3Storage) and not via_app else None
    prefix = rendition_prefix(asset.id)
    key = prefix + name
    expires_in = current_app.config["HLS_LINK_SECONDS"]
    response: BaseResponse
    if found.group(3):  # the player renewing its pass to the edge
        if edge is None:
            abort(404)
        response = Response(status=204)
    elif name.endswith(".m3u8"):
        if storage.head(key) is None:
            abort(404)
        with storage.open(key) as stream:
            playlist = stream.read(MAX_PLAYLIST_BYTES).decode("utf-8", "replace")
        if edge is not None and rung is not None:
            playlist = _segments_at(edge, key.rsplit("/", 1)[0] + "/", playlist)
        response = Response(playlist, mimetype=CONTENT_TYPES[".m3u8"])
    else:
        content_type = CONTENT_TYPES[name[name.rindex(".") :]]
        url = storage.playback_url(key, content_type=content_type, filename=name, expires_in=expires_in)
        response = redirect(url, code=302)
    if edge is not None and (found.group(3) or name.endswith(".m3u8")):
        for cookie, value in edge.signed_cookies(prefix, expires_in).items():
            response.set_cookie(
                cookie, value, max_age=expires_in, path="/" + prefix,
                domain=current_app.config["CLOUDFRONT_COOKIE_DOMAIN"], secure=True, httponly=True, samesite="Lax",
            )  # fmt: skip
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _segments_at(edge: CloudFrontLinks, folder: str, playlist: str) -> str:
    """A rung's playlist with each segment named at the distribution (the cookies open them there)."""
    return "\n".join(edge.url(folder + line) if SEGMENT_LINE.fullmatch(line) else line for line in playlist.split("\n"))
