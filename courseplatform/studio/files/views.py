"""Studio routes for a creator's files: every upload with its state, where it is used,
and the storage space they take.

GET  /studio/files                    the file library (newest first, 50 a page)
POST /studio/files/<id>/delete        delete a file nothing uses (or a pending/failed upload)
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...access import studio_required
from ...extensions import db
from ...fields import page_number
from ...media.services import UploadError, delete_unused_file, file_library, storage_by_offering
from ...models import MediaAsset
from .. import bp
from ..offerings.forms import ConfirmForm


@bp.get("/files")
@studio_required
def files():
    """My uploads: pending, ready or failed with the reason, and where each one is used."""
    page = page_number(request.args)
    return render_template(
        "studio/files.html",
        library=file_library(current_user, page),
        by_offering=storage_by_offering(current_user),
        confirm=ConfirmForm(),
    )


@bp.post("/files/<int:asset_id>/delete")
@studio_required
def delete_file(asset_id: int):
    """Delete one of my files that no lesson or offering uses, freeing its space."""
    asset = db.session.scalar(
        sa.select(MediaAsset).where(MediaAsset.id == asset_id, MediaAsset.owner_id == current_user.id)
    )
    if asset is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = asset.original_name
    try:
        delete_unused_file(asset)
    except UploadError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(f"“{name}” was deleted.", "success")
    return redirect(url_for("studio.files", page=page_number(request.args)))
