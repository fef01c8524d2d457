"""After a video or audio file arrives: `media.probe` reads what it really is (see `probe.py`).

The upload answers at once; the job records the file's length, codecs and size as shown, and
gives lessons using it the real length when none was typed. A file browsers can't play, or that
isn't media at all, fails with a message the Files page shows; its bytes are removed unless a
lesson already uses it (the lesson then says so, and the creator replaces the file).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..integrations.storage import get_storage
from ..jobs import JobRefused, enqueue
from ..models import Job, Lesson, MediaAsset, MediaStatus, utcnow
from .probe import MediaFacts, ProbeError, playback_problem, probe

KIND = "media.probe"


def start_probe(asset: MediaAsset) -> Job:
    """Record the job that probes the asset (the caller commits; it runs after the commit)."""
    return enqueue(KIND, {"asset_id": asset.id}, owner_id=asset.owner_id)


def unprobed_media() -> int:
    """Queue a probe for every ready video and audio file never read (flushed; the caller commits)."""
    assets = db.session.scalars(
        sa.select(MediaAsset).where(
            MediaAsset.status == MediaStatus.READY,
            MediaAsset.probed_at.is_(None),
            sa.or_(MediaAsset.content_type.like("video/%"), MediaAsset.content_type.like("audio/%")),
        )
    ).all()
    for asset in assets:
        start_probe(asset)
    return len(assets)


def record_facts(asset: MediaAsset, facts: MediaFacts) -> None:
    """Keep what the probe read on the asset."""
    asset.probed_at = utcnow()
    asset.media_container = facts.container
    asset.video_codec, asset.audio_codec = facts.video_codec, facts.audio_codec
    asset.width, asset.height = facts.width, facts.height
    asset.duration_seconds = facts.duration_seconds or asset.duration_seconds


def probe_media_job(job: Job) -> dict:
    """The job: read the file's container and streams, then record them or fail the file."""
    from .services import ALLOWED, delete_after_commit, used_asset_ids

    asset = db.session.get(MediaAsset, int(job.payload.get("asset_id") or 0))
    if asset is None:
        raise JobRefused("The file was deleted before it could be checked.")
    if asset.status is not MediaStatus.READY:
        return {"asset_id": asset.id, "skipped": asset.status.value}
    kind = ALLOWED.get(asset.content_type)
    category = kind.category if kind is not None else "video"
    facts: MediaFacts | None = None
    try:
        facts = probe(get_storage().reader_source(asset.storage_key))
    except ProbeError as error:
        problem: str | None = f"“{asset.original_name}” can't be played: {error}."
    else:
        problem = playback_problem(facts, asset.original_name, category)
    asset.probed_at = utcnow()
    if problem is not None or facts is None:
        problem = problem or f"“{asset.original_name}” can't be played."
        asset.status = MediaStatus.FAILED
        asset.failure_reason = problem[:255]
        if not used_asset_ids({asset.id}):
            delete_after_commit([asset.storage_key])
        db.session.flush()
        return {"asset_id": asset.id, "failed": problem}
    record_facts(asset, facts)
    if facts.duration_seconds:
        db.session.execute(
            sa.update(Lesson)
            .where(Lesson.media_asset_id == asset.id, Lesson.duration_seconds.is_(None))
            .values(duration_seconds=facts.duration_seconds)
        )
    db.session.flush()
    return {"asset_id": asset.id, "duration_seconds": facts.duration_seconds}
