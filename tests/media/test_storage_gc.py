"""`flask storage-gc` removes abandoned uploads, on both backends, and nothing else."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import MediaAsset, MediaStatus, utcnow


def test_storage_gc_removes_day_old_pending_uploads_only(backend, runner, pending_asset):
    two_days_ago = utcnow() - timedelta(days=2)
    keys = {label: f"uploads/gc/{uuid.uuid4().hex}/{label}.vtt" for label in ("abandoned", "fresh", "ready")}
    for key in keys.values():
        backend.post_file(key, b"WEBVTT\n", "text/vtt")
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
