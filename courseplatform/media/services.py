"""Storing uploaded files as MediaAssets, after checking what actually arrived."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage

from ..downloads import clean_filename
from ..extensions import db
from ..formatting import format_size
from ..ids import parse_id
from ..integrations.storage import STAGING_PREFIX, StorageError, get_storage, staging_key
from ..jobs import enqueue
from ..models import CreatorProfile, Job, Lesson, LiveSession, MediaAsset, MediaStatus, Offering, Section, User, utcnow
from ..pagination import paginate
from .processing import start_probe


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extensions: tuple[str, ...]
    category: str  # video, audio, document, image, captions


# What may be uploaded, recognised by the file's own first bytes, not by its name.
ALLOWED = {
    "video/mp4": FileKind("video/mp4", (".mp4", ".m4v"), "video"),
    "video/webm": FileKind("video/webm", (".webm",), "video"),
    # A phone's or a Mac's .mov is the MP4 family; its codecs are read after it arrives (`media.probe`).
    "video/quicktime": FileKind("video/mp4", (".mov",), "video"),
    "audio/mpeg": FileKind("audio/mpeg", (".mp3",), "audio"),
    "audio/mp4": FileKind("audio/mp4", (".m4a",), "audio"),
    "application/pdf": FileKind("application/pdf", (".pdf",), "document"),
    "image/png": FileKind("image/png", (".png",), "image"),
    "image/jpeg": FileKind("image/jpeg", (".jpg", ".jpeg"), "image"),
    "image/webp": FileKind("image/webp", (".webp",), "image"),
    "text/vtt": FileKind("text/vtt", (".vtt",), "captions"),
}
CATEGORY_LABELS = {
    "video": "an MP4, MOV or WebM video",
    "audio": "an MP3 or M4A audio file",
    "document": "a PDF",
    "image": "a PNG, JPEG or WebP image",
    "captions": "a WebVTT (.vtt) captions file",
}
MAX_UPLOAD_BYTES = {"image": 10 * 1024**2, "document": 100 * 1024**2, "captions": 2 * 1024**2}
# S3 allows at most this many parts in one multipart upload.
MAX_PARTS = 10_000
# Uploads nobody confirmed within this long are abandoned; `flask storage-gc` removes them.
STALE_UPLOAD_AGE = timedelta(hours=24)


# ISO media brands of still pictures (an iPhone's HEIC photo, AVIF): their files begin like an MP4's.
STILL_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"avif", b"avis"}
)
# Files `media.probe` reads after they arrive: their length, codecs and size as shown.
PROBED_CATEGORIES = frozenset({"video", "audio"})


class UploadError(ValueError):
    """The file can't be accepted; the message says why in words a creator understands."""


def sniff_content_type(head: bytes, filename: str) -> str | None:
    """The allowed content type these first bytes show, or None."""
    name = filename.lower()
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska and WebM share their header; its DocType says which (browsers play WebM only).
        return None if b"matroska" in head else "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in STILL_IMAGE_BRANDS:  # HEIC and AVIF photos are built like MP4 files
            return None
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") or name.endswith(".m4a") else "video/mp4"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
        return "text/vtt"
    return None


def safe_filename(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("-.")
    return (base or "file")[:120]


def upload_key(owner: User, filename: str) -> str:
    """A fresh storage key for one of the owner's uploads, keeping a readable file name."""
    return f"uploads/{owner.id}/{uuid.uuid4().hex}/{safe_filename(filename)}"


def storage_used(owner: User) -> int:
    """Bytes the owner's files take or have reserved: ready assets and uploads still pending."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(MediaAsset.size_bytes), 0)).where(
            MediaAsset.owner_id == owner.id,
            MediaAsset.status.in_([MediaStatus.READY, MediaStatus.PENDING]),
        )
    )
    return int(total or 0)


def check_quota(owner: User, size: int) -> None:
    """Refuse a file of `size` bytes that would take a creator past their storage space."""
    profile = owner.creator_profile
    if profile is None:  # an admin without a studio of their own has no quota
        return
    used = storage_used(owner)
    if used + size > profile.storage_quota_bytes:
        raise UploadError(
            f"This upload would take you past your storage space ({format_size(used)} of "
            f"{format_size(profile.storage_quota_bytes)} used). Delete unused files or contact us."
        )


def store_upload(owner: User, upload: FileStorage | None, categories: set[str]) -> MediaAsset:
    """Check and store an uploaded file, returning a ready MediaAsset (flushed, not committed)."""
    if upload is None or not upload.filename:
        raise UploadError("Choose a file to upload.")
    if current_app.config["STORAGE_BACKEND"] != "local":
        # With S3, files go from the browser straight to the bucket (static/js/uploader.js).
        raise UploadError(
            f"“{upload.filename}” came to Aqueduct instead of going straight to storage. "
            "Turn on JavaScript in your browser, then choose the file again."
        )
    head = upload.stream.read(64)
    upload.stream.seek(0)
    content_type = sniff_content_type(head, upload.filename)
    kind = ALLOWED.get(content_type or "")
    if kind is None or kind.category not in categories:
        wanted = " or ".join(CATEGORY_LABELS[c] for c in sorted(categories))
        raise UploadError(f"“{upload.filename}” isn't {wanted}. Please choose {wanted}.")
    key = upload_key(owner, upload.filename)
    storage = get_storage()
    size = storage.save(key, upload.stream, kind.content_type)
    limit = MAX_UPLOAD_BYTES.get(kind.category)
    if limit is not None and size > limit:
        storage.delete(key)
        raise UploadError(f"“{upload.filename}” is larger than {limit // 1024**2} MB.")
    try:
        check_quota(owner, size)
    except UploadError:
        storage.delete(key)
        raise
    asset = MediaAsset(
        owner_id=owner.id,
        storage_key=key,
        original_name=clean_filename(upload.filename),
        content_type=kind.content_type,
        size_bytes=size,
        status=MediaStatus.READY,
        confirmed_at=utcnow(),
    )
    db.session.add(asset)
    db.session.flush()
    if kind.category in PROBED_CATEGORIES:
        start_probe(asset)
    return asset


def ready_upload(owner: User, asset_id: str | int | None) -> MediaAsset | None:
    """The owner's ready file with this id (as a form's hidden field holds it), or None."""
    wanted = parse_id(asset_id)
    if wanted is None:
        return None
    return db.session.scalar(
        sa.select(MediaAsset).where(
            MediaAsset.id == wanted, MediaAsset.owner_id == owner.id, MediaAsset.status == MediaStatus.READY
        )
    )


def claim_upload(owner: User, asset_id: str | int | None, categories: set[str]) -> MediaAsset:
    """A ready file the owner uploaded straight to storage, checked to be of a kind this field takes."""
    asset = ready_upload(owner, asset_id)
    if asset is None:
        raise UploadError("That upload can't be found any more. Please choose the file again.")
    kind = ALLOWED.get(asset.content_type)
    if kind is None or kind.category not in categories:
        wanted = " or ".join(CATEGORY_LABELS[c] for c in sorted(categories))
        raise UploadError(f"“{asset.original_name}” isn't {wanted}. Please choose {wanted}.")
    return asset


# Every column that points at a MediaAsset: a file is in use while any of them names it.
ASSET_REFERENCES = (
    Lesson.media_asset_id,
    Lesson.captions_asset_id,
    LiveSession.replay_asset_id,
    Offering.cover_asset_id,
    CreatorProfile.photo_asset_id,
)


def used_asset_ids(ids: set[int]) -> set[int]:
    """Which of these assets something still refers to, in one query."""
    if not ids:
        return set()
    return set(db.session.scalars(sa.union(*(sa.select(column).where(column.in_(ids)) for column in ASSET_REFERENCES))))


def release_assets(assets: list[MediaAsset]) -> list[str]:
    """Delete the asset rows nothing refers to any more (flushed); return their storage keys.

    Their objects are deleted by a job recorded in the same transaction, so they go only
    once it commits (a request that fails never loses a file it still needs) and a crash
    after the commit leaves no object behind for ever.
    """
    unique = {asset.id: asset for asset in assets if asset is not None}
    if not unique:
        return []
    db.session.flush()
    still_used = used_asset_ids(set(unique))
    keys = []
    for asset in unique.values():
        if asset.id not in still_used:
            keys.append(asset.storage_key)
            db.session.delete(asset)
    db.session.flush()
    delete_after_commit(keys)
    return keys


def delete_after_commit(keys: list[str]) -> None:
    """Record, in the current transaction, that these stored objects go once it commits."""
    if keys:
        enqueue("storage.delete", {"keys": keys})


def delete_objects_job(job: Job) -> dict:
    """The job that removes stored objects nothing uses any more; removing one already gone is no error."""
    storage = get_storage()
    keys = [key for key in job.payload.get("keys", []) if isinstance(key, str)]
    for key in keys:
        storage.delete(key)
    return {"deleted": len(keys)}


def media_url(asset: MediaAsset | None, expires_in: int = 3600, download: bool = False) -> str | None:
    """A short-lived link to a ready asset, served as its recorded type (the caller has checked who may see it).

    Audio, video, allowed images and captions show in the browser; anything else, or any file
    with `download`, is saved under its own name.
    """
    if asset is None or asset.status is not MediaStatus.READY:
        return None
    return get_storage().playback_url(
        asset.storage_key,
        content_type=asset.content_type,
        filename=saved_name(asset),
        download=download,
        expires_in=expires_in,
    )


def saved_name(asset: MediaAsset) -> str:
    """The name a browser saves the file under: the creator's own, ending in an extension of the type
    its check recorded, so a PDF called "handout.html" is saved as "handout.html.pdf", never as a page."""
    kind = ALLOWED.get(asset.content_type)
    if kind is None or asset.original_name.lower().endswith(kind.extensions):
        return asset.original_name
    return asset.original_name + kind.extensions[0]


def upload_limit(category: str) -> int | None:
    """The largest file of this kind a creator may upload (video and audio set by MAX_VIDEO_BYTES)."""
    if category in ("video", "audio"):
        return int(current_app.config["MAX_VIDEO_BYTES"])
    return MAX_UPLOAD_BYTES.get(category)


def _upload_problem(asset: MediaAsset, size: int, head: bytes) -> tuple[str | None, FileKind | None]:
    """Why what arrived can't be accepted (or None), and the kind its bytes show."""
    name = asset.original_name
    if size == 0:
        return f"“{name}” arrived empty.", None
    kind = ALLOWED.get(sniff_content_type(head, name) or "")
    claimed = ALLOWED.get(asset.content_type)
    if kind is None:
        wanted = CATEGORY_LABELS[claimed.category] if claimed else "a file type Aqueduct accepts"
        return f"“{name}” isn't {wanted}: its content is not a type Aqueduct accepts.", None
    if claimed is not None and claimed.category != kind.category:
        return f"“{name}” isn't {CATEGORY_LABELS[claimed.category]}: its content is type {kind.content_type}.", kind
    limit = upload_limit(kind.category)
    if limit is not None and size > limit:
        return f"“{name}” is {format_size(size)}, larger than the {format_size(limit)} limit.", kind
    if asset.size_bytes and size > asset.size_bytes:
        # The storage quota was checked against the announced size; more can't slip in.
        return f"“{name}” is larger than announced ({format_size(size)}, not {format_size(asset.size_bytes)}).", kind
    return None, kind


def confirm_upload(asset: MediaAsset) -> MediaAsset:
    """Take a single upload out of its link's reach and check it: the asset becomes ready, or failed
    and deleted (flushed). An upload in parts that was never completed fails here too."""
    storage = get_storage()
    if asset.upload_id is not None:
        storage.abort_multipart(asset.storage_key, asset.upload_id)
        asset.upload_id = None
    else:
        storage.publish(asset.storage_key, asset.content_type)
    return _check_arrival(asset)


def _check_arrival(asset: MediaAsset) -> MediaAsset:
    """Check what is stored under the asset's key; record its real size and type, or fail and delete it."""
    storage = get_storage()
    info = storage.head(asset.storage_key)
    if info is None:
        asset.status = MediaStatus.FAILED
        asset.failure_reason = "The upload didn't arrive. Please try again."
        db.session.flush()
        return asset
    head = storage.read_head(asset.storage_key, 64) if info.size else b""
    problem, kind = _upload_problem(asset, info.size, head)
    if problem is not None or kind is None:
        storage.delete(asset.storage_key)
        asset.status = MediaStatus.FAILED
        asset.failure_reason = (problem or "The upload can't be used.")[:255]
    else:
        if kind.content_type != asset.content_type:
            storage.set_content_type(asset.storage_key, kind.content_type)
        asset.status = MediaStatus.READY
        asset.failure_reason = None
        asset.size_bytes = info.size
        asset.content_type = kind.content_type
        asset.confirmed_at = utcnow()
        db.session.flush()
        if kind.category in PROBED_CATEGORIES:
            start_probe(asset)
    db.session.flush()
    return asset


def begin_direct_upload(owner: User, filename: str, content_type: str, size: int, category: str) -> dict:
    """Record a pending asset and say how the browser sends its bytes straight to storage (flushed)."""
    kind = _claimed_kind(filename, content_type, category)
    limit = upload_limit(category) or size
    if size > limit:
        raise UploadError(f"“{filename}” is {format_size(size)}, larger than the {format_size(limit)} limit.")
    check_quota(owner, size)
    multipart = size > int(current_app.config["MULTIPART_THRESHOLD_BYTES"])
    part_bytes, part_count = part_plan(size)
    if multipart and part_count > MAX_PARTS:
        raise UploadError(f"“{filename}” is too large to upload in {MAX_PARTS} parts.")
    asset = MediaAsset(
        owner_id=owner.id,
        storage_key=upload_key(owner, filename),
        original_name=clean_filename(filename),
        content_type=kind.content_type,
        size_bytes=size,
        status=MediaStatus.PENDING,
    )
    db.session.add(asset)
    db.session.flush()
    storage = get_storage()
    if not multipart:
        # The policy allows exactly the size the quota was checked against (S3 enforces it;
        # confirm_upload checks what arrived on every backend).
        grant = storage.presign_upload(asset.storage_key, kind.content_type, max_bytes=size)
        return {"asset_id": asset.id, "method": "post", "url": grant["url"], "fields": grant["fields"]}
    asset.upload_id = storage.start_multipart(asset.storage_key, kind.content_type)
    db.session.flush()
    return {"asset_id": asset.id, "method": "multipart", "part_size": part_bytes, "part_count": part_count}


def _claimed_kind(filename: str, content_type: str, category: str) -> FileKind:
    """The allowed kind the browser says it sends, its type checked against the upload's purpose."""
    kind = ALLOWED.get(content_type.split(";")[0].strip().lower())
    if kind is None and content_type in ("", "application/octet-stream"):
        # Browsers leave the type empty for files they don't know (.vtt, often); go by the name.
        name = filename.lower()
        kind = next((k for k in ALLOWED.values() if k.category == category and name.endswith(k.extensions)), None)
    if kind is None or kind.category != category:
        wanted = CATEGORY_LABELS[category]
        raise UploadError(f"“{filename}” isn't {wanted}. Please choose {wanted}.")
    return kind


def part_plan(size: int) -> tuple[int, int]:
    """The part size (MULTIPART_PART_BYTES) and the number of parts an upload of `size` bytes takes."""
    part_bytes = int(current_app.config["MULTIPART_PART_BYTES"])
    return part_bytes, max(1, -(-size // part_bytes))


def part_limit(asset: MediaAsset, number: int) -> int:
    """The most bytes part `number` may hold: a full part, and the last only what remains of the announced size."""
    part_bytes, count = part_plan(asset.size_bytes)
    return part_bytes if number < count else asset.size_bytes - (count - 1) * part_bytes


def sign_parts(asset: MediaAsset, numbers: list[int]) -> dict[str, str]:
    """Presigned PUT links for parts of the asset's upload, each only for the bytes its share of the size allows."""
    if asset.upload_id is None:
        raise UploadError("This upload isn't sent in parts.")
    _, count = part_plan(asset.size_bytes)
    if not all(1 <= number <= count for number in numbers):
        raise UploadError(f"Part numbers run from 1 to {count} for this file.")
    storage = get_storage()
    try:
        return {
            str(n): storage.presign_part(asset.storage_key, asset.upload_id, n, part_limit(asset, n)) for n in numbers
        }
    except StorageError as exc:
        raise UploadError("This upload is no longer open. Please start it again.") from exc


def complete_multipart_upload(asset: MediaAsset) -> MediaAsset:
    """Join the parts that arrived into the object, then check it (flushed).

    Storage's own list of parts is the truth, not the browser's: every part of the plan must be
    there (UploadError otherwise, with nothing changed, so the browser can send them again), and
    a part larger than its share fails the upload and discards it.
    """
    if asset.upload_id is None:
        raise UploadError("This upload isn't sent in parts.")
    storage = get_storage()
    missing = UploadError("Some parts of the upload didn't arrive. Please send them again.")
    try:
        parts = storage.list_parts(asset.storage_key, asset.upload_id)
    except StorageError as exc:
        raise missing from exc
    _, count = part_plan(asset.size_bytes)
    if [part.number for part in parts] != list(range(1, count + 1)):
        raise missing
    for part in parts:
        limit = part_limit(asset, part.number)
        if part.size > limit:
            storage.abort_multipart(asset.storage_key, asset.upload_id)
            asset.upload_id = None
            asset.status = MediaStatus.FAILED
            asset.failure_reason = (
                f"“{asset.original_name}” is larger than announced: part {part.number} is "
                f"{format_size(part.size)}, at most {format_size(limit)}."
            )[:255]
            db.session.flush()
            return asset
    try:
        storage.complete_multipart(asset.storage_key, asset.upload_id, parts)
    except StorageError as exc:
        raise missing from exc
    asset.upload_id = None
    return _check_arrival(asset)


def upload_is_open(key: str, upload_id: str | None) -> bool:
    """Whether a signed upload link may still send bytes: its asset is pending, and it names the asset's upload."""
    asset = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.storage_key == key))
    return asset is not None and asset.status is MediaStatus.PENDING and asset.upload_id == upload_id


def cancel_upload(asset: MediaAsset) -> MediaAsset:
    """Give up on a pending upload: discard its parts, staged bytes and object, and mark it failed (flushed)."""
    _discard(asset)
    asset.upload_id = None
    asset.status = MediaStatus.FAILED
    asset.failure_reason = "Upload cancelled."
    db.session.flush()
    return asset


def _discard(asset: MediaAsset) -> None:
    storage = get_storage()
    if asset.upload_id is not None:
        storage.abort_multipart(asset.storage_key, asset.upload_id)
    storage.delete(staging_key(asset.storage_key))
    storage.delete(asset.storage_key)


@dataclass(frozen=True)
class Collected:
    """What `flask storage-gc` removed."""

    uploads: int
    multipart_uploads: int
    staged_files: int


def collect_stale_uploads(now: datetime | None = None) -> Collected:
    """Remove what abandoned uploads left behind a day on (flushed): pending assets with their
    objects, multipart uploads nobody completed, and staged files nobody published.

    A multipart upload or staged file of an asset still pending within the day is kept,
    whatever date storage gives it.
    """
    cutoff = (now or utcnow()) - STALE_UPLOAD_AGE
    stale = db.session.scalars(
        sa.select(MediaAsset).where(MediaAsset.status == MediaStatus.PENDING, MediaAsset.created_at < cutoff)
    ).all()
    for asset in stale:
        _discard(asset)
        db.session.delete(asset)
    db.session.flush()
    # Pending uploads are at most a day's worth, so their keys fit in memory.
    under_way = set(
        db.session.scalars(sa.select(MediaAsset.storage_key).where(MediaAsset.status == MediaStatus.PENDING))
    )
    storage = get_storage()
    multipart = 0
    for upload in list(storage.list_multipart_uploads()):
        if upload.started < cutoff and upload.key not in under_way:
            storage.abort_multipart(upload.key, upload.upload_id)
            multipart += 1
    staged = 0
    for key, modified in list(storage.list_keys(STAGING_PREFIX)):
        if modified < cutoff and key.removeprefix(STAGING_PREFIX) not in under_way:
            storage.delete(key)
            staged += 1
    return Collected(len(stale), multipart, staged)


@dataclass(frozen=True)
class FileUse:
    """One place a file appears: an offering's lesson, captions, cover or replay, or a profile photo."""

    label: str
    offering_id: int | None
    offering_title: str | None


@dataclass(frozen=True)
class Library:
    """A page of a creator's files, newest first, with where each is used and the space they take."""

    assets: list[MediaAsset]
    uses: dict[int, list[FileUse]]
    total: int
    used_bytes: int
    quota_bytes: int | None
    page: int
    pages: int


@dataclass(frozen=True)
class OfferingStorage:
    """The space one offering's files take: the uploads themselves, and the streaming versions made of them."""

    offering_id: int
    title: str
    originals: int
    renditions: int

    @property
    def total(self) -> int:
        return self.originals + self.renditions


def storage_by_offering(owner: User) -> list[OfferingStorage]:
    """Each of the owner's offerings with the bytes of the files it uses (lessons, captions, cover, replays),
    largest first, in one query. A file two offerings use counts in both."""
    profile = owner.creator_profile
    if profile is None:
        return []
    lesson_files = (
        sa.select(Section.offering_id.label("offering_id"), MediaAsset.id.label("asset_id"))
        .join(Lesson, Lesson.section_id == Section.id)
        .join(MediaAsset, sa.or_(MediaAsset.id == Lesson.media_asset_id, MediaAsset.id == Lesson.captions_asset_id))
    )
    covers = sa.select(Offering.id, MediaAsset.id).join(MediaAsset, MediaAsset.id == Offering.cover_asset_id)
    replays = sa.select(LiveSession.offering_id, MediaAsset.id).join(
        MediaAsset, MediaAsset.id == LiveSession.replay_asset_id
    )
    used = sa.union(lesson_files, covers, replays).subquery()
    rows = db.session.execute(
        sa.select(
            Offering.id,
            Offering.title,
            sa.func.coalesce(sa.func.sum(MediaAsset.size_bytes), 0),
            sa.func.coalesce(sa.func.sum(MediaAsset.ladder_bytes), 0),
        )
        .join(used, used.c.offering_id == Offering.id)
        .join(MediaAsset, MediaAsset.id == used.c.asset_id)
        .where(Offering.creator_id == profile.id, MediaAsset.status == MediaStatus.READY)
        .group_by(Offering.id, Offering.title)
    ).all()
    found = [
        OfferingStorage(int(i), title, int(originals), int(renditions)) for i, title, originals, renditions in rows
    ]
    return sorted(found, key=lambda row: (-row.total, row.title.lower()))


def file_library(owner: User, page: int = 1, per_page: int = 50) -> Library:
    """The owner's uploads, with their state and uses, in four queries whatever their number."""
    found = paginate(
        sa.select(MediaAsset)
        .where(MediaAsset.owner_id == owner.id)
        .order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc()),
        page,
        per_page,
        total=sa.select(sa.func.count(MediaAsset.id)).where(MediaAsset.owner_id == owner.id),
    )
    profile = owner.creator_profile
    return Library(
        assets=found.items,
        uses=file_uses({asset.id for asset in found.items}),
        total=found.total,
        used_bytes=storage_used(owner),
        quota_bytes=profile.storage_quota_bytes if profile else None,
        page=found.page,
        pages=found.pages,
    )


def file_uses(ids: set[int]) -> dict[int, list[FileUse]]:
    """Where each of these files is used, in one query."""
    if not ids:
        return {}

    def lesson_uses(column, prefix: str):
        return (
            sa.select(
                column.label("asset_id"),
                (sa.literal(prefix) + Lesson.title).label("label"),
                Offering.id,
                Offering.title,
            )
            .join(Section, Lesson.section_id == Section.id)
            .join(Offering, Section.offering_id == Offering.id)
            .where(column.in_(ids))
        )

    rows: Iterable[tuple[int, str, int | None, str | None]] = db.session.execute(
        sa.union_all(
            lesson_uses(Lesson.media_asset_id, "Lesson: "),
            lesson_uses(Lesson.captions_asset_id, "Captions: "),
            sa.select(Offering.cover_asset_id, sa.literal("Cover image"), Offering.id, Offering.title).where(
                Offering.cover_asset_id.in_(ids)
            ),
            sa.select(LiveSession.replay_asset_id, sa.literal("Live session replay"), Offering.id, Offering.title)
            .join(Offering, LiveSession.offering_id == Offering.id)
            .where(LiveSession.replay_asset_id.in_(ids)),
            sa.select(
                CreatorProfile.photo_asset_id,
                sa.literal("Profile photo"),
                sa.null().cast(sa.Integer),
                sa.null().cast(sa.String),
            ).where(CreatorProfile.photo_asset_id.in_(ids)),
        )
    )
    uses: dict[int, list[FileUse]] = {}
    for asset_id, label, offering_id, offering_title in rows:
        uses.setdefault(asset_id, []).append(FileUse(label, offering_id, offering_title))
    return uses


def delete_unused_file(asset: MediaAsset) -> list[str]:
    """Delete a file nothing uses (flushed); its object goes once the transaction commits."""
    if used_asset_ids({asset.id}):
        raise UploadError(f"“{asset.original_name}” is still used. Remove it from its lesson or offering first.")
    db.session.delete(asset)
    db.session.flush()
    delete_after_commit([asset.storage_key])
    return [asset.storage_key]
