"""Media routes: /media/<token> streams a file a signed link grants, with HTTP Range;
/media/upload/<token> receives a browser's upload to the local backend.

With MEDIA_ORIGIN set, /media/<token> is answered only on that host, and that host answers
nothing else: files never share an origin with the site's pages and cookies.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, request, send_file

from ..extensions import csrf, limiter
from ..integrations.storage import MEDIA_RESPONSE_CSP, InvalidMediaToken, LocalStorage, StorageError, get_storage
from ..links import origin_of
from ..request_guard import raw_body
from . import bp
from .services import upload_is_open

# Room for the multipart form's own headers and fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024
# What the media host answers besides files: a load balancer's health check.
MEDIA_HOST_ENDPOINTS = {"media.serve", "health.healthz"}


def media_host() -> str | None:
    """The host of MEDIA_ORIGIN (with a port other than 80 or 443), or None when the site serves its files itself."""
    origin = current_app.config.get("MEDIA_ORIGIN")
    return _host_name(urlsplit(origin).netloc) if origin else None


def on_media_host() -> bool:
    """Whether this request is for the media host, however the browser spelt its name."""
    host = media_host()
    return host is not None and _host_name(request.host) == host


def _host_name(netloc: str) -> str:
    """A host as browsers tell hosts apart: in lower case, without the DNS root's trailing dot
    ("media.example.com." is the same host), with its port unless that is 80 or 443."""
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return netloc.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if port not in (None, 80, 443) else host


@bp.before_app_request
def keep_the_media_host_for_files():
    """Answer 404 for every page asked of the media host: it serves files and nothing else."""
    if on_media_host() and request.endpoint not in MEDIA_HOST_ENDPOINTS:
        abort(404)


@bp.get("/media/<token>")
@limiter.exempt
def serve(token: str):
    """Stream the file behind a valid, unexpired link, as the type and disposition the link was signed with."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage) or (media_host() and not on_media_host()):
        abort(404)
    try:
        grant = storage.playback_grant(token)
    except InvalidMediaToken:
        abort(403)
    path = storage.path(grant.key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=grant.delivery.content_type, conditional=True, max_age=0)
    response.headers["Content-Disposition"] = grant.delivery.disposition
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Even a file that were mistyped could run nothing here: no script, no plugin, no same-origin access.
    response.headers["Content-Security-Policy"] = MEDIA_RESPONSE_CSP
    if media_host():
        # The player fetches video and captions across origins (crossorigin="anonymous").
        # The site's own origin (BASE_URL's) is the only one allowed to read files across origins.
        response.headers["Access-Control-Allow-Origin"] = origin_of(current_app.config["BASE_URL"])
    return response


@bp.route("/media/upload/<token>", methods=["PUT", "POST"])
@limiter.exempt
@csrf.exempt
@raw_body
def upload(token: str):
    """Receive a browser's upload to the local backend; the signed token is the credential.

    POST takes a form with the file in `file` (like an S3 presigned POST); PUT takes the
    raw bytes of the file or of one part (answering with its ETag, like S3). A token works
    only while its asset is pending: once checked, a file can't be changed through its link.
    """
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    try:
        grant = storage.upload_grant(token)
    except InvalidMediaToken:
        abort(403)
    if not upload_is_open(grant.key, grant.upload_id):
        abort(403)
    if request.content_length is not None and request.content_length > grant.max_bytes + FORM_OVERHEAD_BYTES:
        abort(413)
    request.max_content_length = grant.max_bytes + FORM_OVERHEAD_BYTES
    if request.method == "POST":
        file = request.files.get("file")
        if file is None:
            abort(400)
        stream = file.stream
    else:
        stream = request.stream
    try:
        etag = storage.receive(grant, stream)
    except OverflowError:
        abort(413)
    except StorageError:
        abort(404)
    return "", 204, {"ETag": f'"{etag}"'}
