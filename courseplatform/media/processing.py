"""After a video or audio file arrives: `media.probe` reads what it really is (see `probe.py`), then for a
video `media.ladder` makes its HLS ladder (see `ladder.py`).

The upload answers at once; the job records the file's length, codecs and size as shown, and
gives lessons using it the real length when none was typed. A file browsers can't play, or that
isn't media at all, fails with a message the Files page shows; its bytes are removed unless a
lesson already uses it (the lesson then says so, and the creator replaces the file).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ..extensions import db
from ..integrations.storage import get_storage
from ..jobs import Heartbeat, JobRefused, enqueue
from ..models import Job, Lesson, MediaAsset, MediaStatus, utcnow
from .ladder import CONTENT_TYPES, LadderError, Source, rungs_for, transcoder, workspace
from .probe import DEMUXERS, MediaFacts, ProbeError, playback_problem, probe

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
        facts = probe(get_storage().reader_source(asset.storage_key), DEMUXERS.get(asset.content_type))
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
    if category == "video" and rungs_for(facts.width or 0, facts.height or 0):
        start_ladder(asset)  # a video too small for the lowest rung plays as it is
    db.session.flush()
    return {"asset_id": asset.id, "duration_seconds": facts.duration_seconds}


def probe_failed(job: Job) -> None:
    """The probe failed for good (storage out of reach on every try): the file stays playable as uploaded,
    and the Files page stops saying it is being checked."""
    asset = db.session.get(MediaAsset, int(job.payload.get("asset_id") or 0))
    if asset is not None and asset.probed_at is None:
        asset.probed_at = utcnow()


# ---------------------------------------------------------------------------
# The HLS ladder (`ladder.py`)

LADDER_KIND = "media.ladder"
RENDITIONS = "renditions/"
MAX_LINK_SECONDS = 7 * 24 * 3600


def rendition_prefix(asset_id: int) -> str:
    """Where a video's ladder, poster and thumbnail are stored."""
    return f"{RENDITIONS}{asset_id}/"


def start_ladder(asset: MediaAsset) -> Job:
    """Record the job that makes the asset's HLS ladder; until it is ready, the original plays."""
    asset.ladder_status, asset.ladder_error, asset.ladder_percent = "queued", None, None
    return enqueue(LADDER_KIND, {"asset_id": asset.id}, owner_id=asset.owner_id)


def ladder_media_job(job: Job) -> dict:
    """The job: transcode the video into its ladder in a scratch folder, then store every file of it.

    A video ffmpeg can't transcode is marked failed (the original keeps playing); a storage error is
    raised, so the job is tried again (the keys are the same each time).
    """
    asset = db.session.get(MediaAsset, int(job.payload.get("asset_id") or 0))
    if asset is None:
        raise JobRefused("The video was deleted before its streaming versions were made.")
    return build_ladder(asset, Heartbeat(job))


def ladder_failed(job: Job) -> None:
    """The job failed for good (its retries spent): the Files page says so instead of "making" forever."""
    asset = db.session.get(MediaAsset, int(job.payload.get("asset_id") or 0))
    if asset is not None and asset.ladder_status in UNDERWAY:
        asset.ladder_status, asset.ladder_percent = "failed", None
        asset.ladder_error = "making them failed several times"


UNDERWAY = ("queued", "making")
# The transcode is this share of the work shown; storing its files is the rest.
TRANSCODE_SHARE = 0.95


def build_ladder(asset: MediaAsset, heartbeat: Heartbeat | None = None) -> dict:
    """Make and store the asset's ladder now (the job's work; the demo data calls it directly).

    With a `heartbeat` (the job), no transaction is held while ffmpeg works: the Files page reads how far
    it has got from `ladder_percent`, renewed with the job's lease every few seconds.
    """
    if asset.status is not MediaStatus.READY or not (asset.video_codec and asset.width and asset.height):
        asset.ladder_status = None
        return {"asset_id": asset.id, "skipped": True}
    storage = get_storage()
    duration = asset.duration_seconds or 1
    asset_id = asset.id
    source = Source(
        # S3 signs links for a week at most; a file's own length claim can't ask for more.
        location=storage.reader_source(asset.storage_key, expires_in=min(MAX_LINK_SECONDS, max(900, duration * 30))),
        width=asset.width,
        height=asset.height,
        duration_seconds=duration,
        has_sound=asset.audio_codec is not None,
        demuxer=DEMUXERS.get(asset.content_type),
        bitrate=asset.size_bytes * 8 // duration if asset.size_bytes else None,
        key=asset.storage_key,
        prefix=rendition_prefix(asset_id),
    )

    def report(done: float, now: bool = False) -> None:
        if heartbeat is not None:
            shown = sa.update(MediaAsset).where(MediaAsset.id == asset_id, MediaAsset.ladder_status.in_(UNDERWAY))
            heartbeat.beat(shown.values(ladder_status="making", ladder_percent=min(99, int(done * 100))), now=now)

    if heartbeat is not None:
        heartbeat.release()
    with workspace() as scratch:
        try:
            ladder = transcoder().make_ladder(source, Path(scratch), lambda done: report(done * TRANSCODE_SHARE))
        except LadderError as error:
            if heartbeat is not None:
                heartbeat.own()  # a worker taken over after a stall leaves the ladder to the new owner
            failed = db.session.get(MediaAsset, asset_id)
            if failed is not None:
                failed.ladder_status, failed.ladder_error = "failed", str(error)[:255]
                failed.ladder_percent = None
            db.session.flush()
            return {"asset_id": asset_id, "failed": str(error)[:255]}
        report(TRANSCODE_SHARE, now=True)
        stored = ladder.stored_bytes or 0  # a transcoder that wrote to the bucket itself has stored them
        made_here = ladder.files if ladder.folder is not None else []
        for index, name in enumerate(made_here, start=1):
            with (Path(scratch) / name).open("rb") as stream:
                content_type = CONTENT_TYPES.get(name.suffix, "application/octet-stream")
                stored += storage.save(source.prefix + name.as_posix(), stream, content_type)
            report(TRANSCODE_SHARE + (1 - TRANSCODE_SHARE) * index / len(made_here))
    if heartbeat is not None:
        heartbeat.own()
    made = db.session.get(MediaAsset, asset_id)
    if made is None or made.status is not MediaStatus.READY:  # deleted meanwhile: storage-gc removes the files
        return {"asset_id": asset_id, "skipped": True}
    made.ladder_status, made.ladder_error, made.ladder_percent = "ready", None, None
    made.ladder_heights, made.ladder_bytes, made.ladder_ready_at = ladder.heights, stored, utcnow()
    db.session.flush()
    return {"asset_id": asset_id, "heights": ladder.heights, "bytes": stored}


def collect_orphan_renditions() -> int:
    """Remove the renditions of videos that are gone or failed (storage-gc); returns how many files went."""
    storage = get_storage()
    owners = {}  # key: the asset id its folder names, or None
    for key, _modified in storage.list_keys(RENDITIONS):
        folder = key[len(RENDITIONS) :].split("/", 1)[0]
        owners[key] = int(folder) if folder.isdigit() else None
    ids = {asset_id for asset_id in owners.values() if asset_id is not None}
    ready = sa.select(MediaAsset.id).where(MediaAsset.id.in_(ids), MediaAsset.status == MediaStatus.READY)
    kept = set(db.session.scalars(ready)) if ids else set()
    gone = [key for key, asset_id in owners.items() if asset_id not in kept]
    for key in gone:
        storage.delete(key)
    return len(gone)
