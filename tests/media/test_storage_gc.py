"""`flask storage-gc` removes abandoned uploads, on both backends, and nothing else."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import MediaAsset, MediaStatus, utcnow


def test_storage_gc_removes_day_old_pending_uploads_only(backend, runner, pending_asset):
    two_days_ago = utcnow() - timedelta(days=2)
    keys = {label: f"uploads/gc/{uuid.uuid4().hex}/{label}.vtt" for label in ("abandoned", "fresh", "ready")}
    for key in keys.values():
        backend.store(key, b"WEBVTT\n", "text/vtt")
    abandoned = pending_asset(keys["abandoned"], "a.vtt", "text/vtt", created_at=two_days_ago)
    fresh = pending_asset(keys["fresh"], "f.vtt", "text/vtt")
    ready = pending_asset(keys["ready"], "r.vtt", "text/vtt", created_at=two_days_ago, status=MediaStatus.READY)
    ids = [abandoned.id, fresh.id, ready.id]

    first = runner.invoke(args=["storage-gc"])
    second = runner.invoke(args=["storage-gc"])

    assert first.exit_code == 0, first.output
    assert "Removed 1 abandoned upload." in first.output
    assert "Removed 0 abandoned uploads." in second.output
    remaining = db.session.scalars(sa.select(MediaAsset.id).where(MediaAsset.id.in_(ids))).all()
    assert sorted(remaining) == sorted([fresh.id, ready.id])
    assert backend.storage.head(keys["abandoned"]) is None
    assert backend.storage.head(keys["fresh"]) is not None
    assert backend.storage.head(keys["ready"]) is not None


def backdate_multipart(backend, upload_id: str, days: int = 2) -> None:
    """Make a multipart upload look `days` old: the local backend dates it by its folder's
    upload.json; moto already dates every multipart upload 2010-11-10."""
    if backend.name == "local":
        stamp = time.time() - days * 86400
        folder = backend.storage.root / ".multipart" / upload_id
        for path in (folder / "upload.json", folder):
            os.utime(path, (stamp, stamp))


def test_storage_gc_discards_multipart_uploads_abandoned_for_a_day_but_not_those_under_way(
    backend, runner, pending_asset, demo_video
):
    storage = backend.storage
    abandoned_key = f"uploads/gc/{uuid.uuid4().hex}/abandoned.mp4"
    abandoned_id = storage.start_multipart(abandoned_key, "video/mp4")
    backdate_multipart(backend, abandoned_id)
    under_way = pending_asset(f"uploads/gc/{uuid.uuid4().hex}/under-way.mp4", "under-way.mp4", "video/mp4")
    under_way_id = storage.start_multipart(under_way.storage_key, "video/mp4")
    under_way.upload_id = under_way_id
    db.session.flush()
    backend.put_part(under_way.storage_key, under_way_id, 1, demo_video)

    result = runner.invoke(args=["storage-gc"])

    assert result.exit_code == 0, result.output
    assert "Discarded 1 unfinished multipart upload" in result.output
    assert backend.open_multipart_uploads(abandoned_key) == 0
    assert backend.multipart_upload_ids(under_way.storage_key) == [under_way_id]
    storage.abort_multipart(under_way.storage_key, under_way_id)
