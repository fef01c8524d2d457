"""The studio's upload API: the browser asks where to send a file, sends it straight to
storage, then asks the server to check what arrived.

Every route takes and answers JSON; the CSRF token travels in the X-CSRFToken header.
A multipart upload's id stays on the server (on the asset): the browser names the asset, and
only its uploader (the owner, or an admin) can sign its parts, complete or cancel it, and only
while it is pending. Only the parts its announced size needs are signed.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, jsonify, request
from flask_login import current_user

from ..access import owned_offering_or_404, studio_required
from ..extensions import db, limiter
from ..ids import parse_id
from ..models import MediaAsset, MediaStatus
from ..request_guard import json_body
from . import bp
from .services import (
    CATEGORY_LABELS,
    UploadError,
    begin_direct_upload,
    cancel_upload,
    complete_multipart_upload,
    confirm_upload,
    sign_parts,
)

PARTS_PER_CALL = 100


def _uploader_key() -> str:
    return f"uploads-started:{current_user.id}"


@bp.post("/studio/uploads")
@studio_required
@limiter.limit("60 per minute", key_func=_uploader_key)
@json_body
def start_upload():
    """Record a pending upload and answer with a presigned POST, or a started multipart upload."""
    body = _json_body()
    filename = body.get("filename")
    content_type = body.get("content_type") or ""
    size = body.get("size")
    purpose = body.get("purpose")
    if not isinstance(filename, str) or not filename.strip():
        return _error("Choose a file to upload.")
    if not isinstance(purpose, str) or purpose not in CATEGORY_LABELS:
        return _error("Say what the file is for: video, audio, document, image or captions.")
    if not isinstance(content_type, str):
        return _error("The file's type must be text, such as “video/mp4”.")
    if not _is_count(size):
        return _error("The file's size is missing; please choose the file again.")
    if size < 1:
        return _error(f"“{filename}” is empty. Please choose a file with something in it.")
    owner = current_user
    if body.get("course_id") is not None:
        # A file for an offering belongs to (and counts against) the offering's creator,
        # also when an admin uploads it for them.
        offering_id = body["course_id"]
        if not _is_count(offering_id) or parse_id(offering_id) is None:
            return _error("The offering's id must be a whole number.")
        owner = owned_offering_or_404(offering_id).creator.user
    try:
        answer = begin_direct_upload(owner, filename.strip(), content_type, size, purpose)
    except UploadError as error:
        return _error(str(error))  # a 400: the request's work is rolled back
    return jsonify(answer), 201


@bp.post("/studio/uploads/<int:asset_id>/parts")
@studio_required
@json_body
def presign_parts(asset_id: int):
    """Presigned PUT links for up to a hundred parts of a multipart upload, within its announced size."""
    asset = _pending_asset_or_404(asset_id)
    numbers = _json_body().get("part_numbers")
    if not isinstance(numbers, list) or not numbers or len(numbers) > PARTS_PER_CALL:
        return _error(f"Ask for between 1 and {PARTS_PER_CALL} parts at a time.")
    if not all(_is_count(n) for n in numbers):
        return _error("Part numbers must be whole numbers.")
    try:
        urls = sign_parts(asset, numbers)
    except UploadError as error:
        return _error(str(error))
    return jsonify({"urls": urls})


@bp.post("/studio/uploads/<int:asset_id>/complete")
@studio_required
@json_body
def complete_upload(asset_id: int):
    """Join the uploaded parts into the object, then check what arrived."""
    asset = _pending_asset_or_404(asset_id)
    try:
        complete_multipart_upload(asset)
    except UploadError as error:
        return _error(str(error))  # a 400: the request's work is rolled back
    return jsonify(_confirmation(asset))


@bp.post("/studio/uploads/<int:asset_id>/confirm")
@studio_required
@json_body
def confirm(asset_id: int):
    """Check what arrived in storage; the asset becomes ready, or failed with its reason."""
    asset = _pending_asset_or_404(asset_id)
    confirm_upload(asset)
    return jsonify(_confirmation(asset))


@bp.post("/studio/uploads/<int:asset_id>/abort")
@studio_required
@json_body
def abort_upload(asset_id: int):
    """Cancel a pending upload: storage discards what arrived and the asset is marked failed."""
    asset = _pending_asset_or_404(asset_id)
    cancel_upload(asset)
    return jsonify({"asset_id": asset.id, "status": asset.status.value, "reason": asset.failure_reason})


def _pending_asset_or_404(asset_id: int) -> MediaAsset:
    """The caller's (or, for an admin, anyone's) pending asset; 404 for anything else."""
    query = sa.select(MediaAsset).where(MediaAsset.id == asset_id, MediaAsset.status == MediaStatus.PENDING)
    if not current_user.is_admin:
        query = query.where(MediaAsset.owner_id == current_user.id)
    asset = db.session.scalar(query.with_for_update())
    if asset is None:
        abort(404)
    return asset


def _confirmation(asset: MediaAsset) -> dict:
    return {
        "asset_id": asset.id,
        "status": asset.status.value,
        "reason": asset.failure_reason,
        "size": asset.size_bytes,
        "content_type": asset.content_type,
        "name": asset.original_name,
    }


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(message: str):
    return jsonify({"error": message}), 400
