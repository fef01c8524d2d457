"""Media routes: /media/<token> streams a file a signed link grants, with HTTP Range;
/media/upload/<token> receives a browser's upload to the local backend."""

from __future__ import annotations

from flask import abort, request, send_file

from ..extensions import csrf, limiter
from ..integrations.storage import InvalidMediaToken, LocalStorage, StorageError, get_storage
from ..request_guard import raw_body
from . import bp

# Room for the multipart form's own headers and fields around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


@bp.get("/media/<token>")
@limiter.exempt
def serve(token: str):
    """Stream the file behind a valid, unexpired link; 403 for forged or expired links."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    try:
        grant = storage.playback_grant(token)
    except InvalidMediaToken:
        abort(403)
    key = grant["k"]
    path = storage.path(key)
    if not path.is_file():
        abort(404)
    download_name = grant.get("d")
    response = send_file(
        path,
        mimetype=storage.content_type(key),
        conditional=True,
        max_age=0,
        as_attachment=bool(download_name),
        download_name=download_name,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/media/upload/<token>", methods=["PUT", "POST"])
@limiter.exempt
@csrf.exempt
@raw_body
def upload(token: str):
    """Receive a browser's upload to the local backend; the signed token is the credential.

    POST takes a form with the file in `file` (like an S3 presigned POST); PUT takes the
    raw bytes of the file or of one part (answering with its ETag, like S3).
    """
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    try:
        grant = storage.upload_grant(token)
    except InvalidMediaToken:
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
