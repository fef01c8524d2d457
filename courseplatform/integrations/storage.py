"""Where media lives: the local disk (default) or an S3 bucket, behind one interface.

Browsers upload straight to storage (a presigned POST, or presigned part URLs for large
video) and play back through short-lived links; the app only signs and checks.

Two rules hold on both backends. A link to a stored object always carries the content type
the upload check recorded, and `delivery()` alone decides whether it is shown inline (media,
allowed images, captions) or saved as an attachment: nothing is ever typed by its name. And
a browser's single upload lands at a staging key that only the server moves to the object's
key (`publish`), so no upload link can change a file once it has been checked.
This is the only module that imports boto3.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol
from urllib.parse import quote

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from ..downloads import content_disposition
from ..links import origin_of

log = logging.getLogger(__name__)

MEDIA_SALT = "aqueduct.media"
UPLOAD_SALT = "aqueduct.media.upload"
MULTIPART_DIR = ".multipart"
# Where a browser's single upload waits until the server has checked it and moved it to its key.
STAGING_PREFIX = "staging/"
_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# Shown in the browser: what the player plays, the images of the upload allow-list, captions.
INLINE_TYPES = frozenset(
    {
        "video/mp4",
        "video/webm",
        "video/mp2t",
        "audio/mpeg",
        "audio/mp4",
        "image/png",
        "image/jpeg",
        "image/webp",
        "text/vtt",
    }
)
_MEDIA_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,62}/[a-z0-9][a-z0-9.+-]{0,62}$")
# What a media response may do even if it were mistyped: show itself, and nothing else.
MEDIA_RESPONSE_CSP = "default-src 'none'; media-src 'self'; img-src 'self'; sandbox allow-same-origin"


class InvalidMediaToken(Exception):
    """A media link that was forged, tampered with or has expired."""


class StorageError(Exception):
    """Storage refused an operation (an unknown multipart upload, a missing part…)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What storage says about an object that arrived: its real size, and the type S3 stores (None on disk)."""

    size: int
    content_type: str | None


@dataclass(frozen=True)
class Delivery:
    """The headers a stored object goes to the browser with: its recorded type, inline or attachment."""

    content_type: str
    disposition: str

    @property
    def inline(self) -> bool:
        return self.disposition.startswith("inline")


@dataclass(frozen=True)
class UploadGrant:
    """What a signed local upload token allows: one object, or one part of a multipart upload."""

    key: str
    max_bytes: int
    upload_id: str | None = None
    part_number: int | None = None


@dataclass(frozen=True)
class PlaybackGrant:
    """What a signed local playback token allows: one object, sent with these headers."""

    key: str
    delivery: Delivery
    expires_at: int


@dataclass(frozen=True)
class UploadedPart:
    """One part that arrived for a multipart upload."""

    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload storage still keeps parts for, and when it began."""

    key: str
    upload_id: str
    started: datetime


def delivery(content_type: str, filename: str, download: bool = False) -> Delivery:
    """How a stored object goes to the browser: the recorded type, and inline only for media,
    allowed images and captions (unless a download is asked for); everything else is an attachment."""
    recorded = (content_type or "").strip().lower()
    if not _MEDIA_TYPE_RE.match(recorded):
        recorded = "application/octet-stream"
    inline = recorded in INLINE_TYPES and not download
    return Delivery(recorded, content_disposition("inline" if inline else "attachment", filename))


def staging_key(key: str) -> str:
    """Where a browser's single upload for `key` lands until the server publishes it."""
    return STAGING_PREFIX + key


class Storage(Protocol):
    """What features may ask of storage, whichever backend configuration chose."""

    def save(self, key: str, stream: IO[bytes], content_type: str) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def read_head(self, key: str, n: int = 64) -> bytes: ...
    def reader_source(self, key: str, expires_in: int = 900) -> str: ...
    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, datetime]]: ...
    def playback_url(
        self, key: str, *, content_type: str, filename: str, download: bool = False, expires_in: int = 3600
    ) -> str: ...
    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict: ...
    def publish(self, key: str, content_type: str) -> bool: ...
    def set_content_type(self, key: str, content_type: str) -> None: ...
    def start_multipart(self, key: str, content_type: str) -> str: ...
    def presign_part(
        self, key: str, upload_id: str, part_number: int, part_bytes: int, expires_in: int = 3600
    ) -> str: ...
    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def list_multipart_uploads(self) -> Iterator[OpenUpload]: ...


class LocalStorage:
    """Files on this machine's disk, under MEDIA_ROOT, addressed by storage key."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file behind a key, refusing keys that would leave the media folder."""
        path = (self.root / key).resolve()
        if self.root not in path.parents or path.relative_to(self.root).parts[0] == MULTIPART_DIR:
            raise ValueError(f"storage key escapes the media folder: {key!r}")
        return path

    def save(self, key: str, stream: IO[bytes], content_type: str) -> int:
        """Write a stream under `key` and return its size in bytes.

        A file on disk keeps no type: links to it carry the recorded one (`playback_url`).
        """
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out)
        return path.stat().st_size

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, as a file the caller closes."""
        return self.path(key).open("rb")

    def reader_source(self, key: str, expires_in: int = 900) -> str:
        """Where FFmpeg reads the object from: its path on this machine."""
        return str(self.path(key))

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        self.path(key).unlink(missing_ok=True)

    def head(self, key: str) -> ObjectInfo | None:
        """Size of what is stored, or None when nothing arrived."""
        path = self.path(key)
        if not path.is_file():
            return None
        return ObjectInfo(size=path.stat().st_size, content_type=None)

    def read_head(self, key: str, n: int = 64) -> bytes:
        """The first `n` bytes, for recognising a file by its content."""
        with self.path(key).open("rb") as file:
            return file.read(n)

    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Every stored key under `prefix` with its last change, for garbage collection."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if relative.parts[0] == MULTIPART_DIR or not path.is_file():
                continue
            key = relative.as_posix()
            if key.startswith(prefix):
                yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def playback_url(
        self, key: str, *, content_type: str, filename: str, download: bool = False, expires_in: int = 3600
    ) -> str:
        """A signed link to the file, sent with its recorded type, that stops working after `expires_in` seconds.

        The link is absolute on MEDIA_ORIGIN when one is configured.
        """
        served = delivery(content_type, filename, download)
        payload = {"k": key, "t": served.content_type, "c": served.disposition, "e": int(time.time()) + expires_in}
        link = url_for("media.serve", token=_media_serializer().dumps(payload))
        return current_app.config.get("MEDIA_ORIGIN", "") + link

    def playback_grant(self, token: str) -> PlaybackGrant:
        """The key and headers a playback token grants, or InvalidMediaToken."""
        payload = _load_token(_media_serializer(), token)
        fields = (payload.get("k"), payload.get("t"), payload.get("c"))
        if not all(isinstance(field, str) and field for field in fields):
            raise InvalidMediaToken("a link without the file's type")  # signed before types were recorded
        return PlaybackGrant(payload["k"], Delivery(payload["t"], payload["c"]), int(payload["e"]))

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict:
        """Where a browser may POST one file (field `file`) or PUT its bytes, until the link expires.

        The bytes land at the staging key; `publish` moves them to `key`.
        """
        self.path(staging_key(key))  # refuse a bad key now rather than when the browser uploads
        token = _upload_serializer().dumps({"k": key, "m": max_bytes, "e": int(time.time()) + expires_in})
        return {"url": url_for("media.upload", token=token), "fields": {"Content-Type": content_type}}

    def publish(self, key: str, content_type: str) -> bool:
        """Move a single upload from its staging key to `key`, out of its link's reach; False if none arrived."""
        staged, target = self.path(staging_key(key)), self.path(key)
        if not staged.is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target)
        return True

    def set_content_type(self, key: str, content_type: str) -> None:
        """Nothing to do: a file on disk keeps no type."""

    def start_multipart(self, key: str, content_type: str) -> str:
        """Begin an upload sent in parts; returns its upload id."""
        self.path(key)
        upload_id = uuid.uuid4().hex
        folder = self._multipart_folder(upload_id)
        folder.mkdir(parents=True)
        (folder / "upload.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, part_bytes: int, expires_in: int = 3600) -> str:
        """Where a browser may PUT one part of at most `part_bytes`; the answer's ETag names what arrived."""
        self._multipart_meta(key, upload_id)
        payload = {"k": key, "u": upload_id, "p": int(part_number), "m": int(part_bytes)}
        payload["e"] = int(time.time()) + expires_in
        return url_for("media.upload", token=_upload_serializer().dumps(payload))

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts that arrived for an upload, in part-number order."""
        self._multipart_meta(key, upload_id)
        folder = self._multipart_folder(upload_id)
        parts = []
        for etag_file in folder.glob("*.etag"):
            part_file = etag_file.with_suffix(".part")
            if etag_file.stem.isdigit() and part_file.is_file():
                parts.append(UploadedPart(int(etag_file.stem), part_file.stat().st_size, etag_file.read_text()))
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Join the listed parts, in part-number order, into the object; the upload id closes."""
        folder = self._multipart_folder(upload_id)
        self._multipart_meta(key, upload_id)
        ordered = sorted(parts, key=lambda part: part.number)
        if not ordered:
            raise StorageError("a multipart upload needs at least one part")
        for part in ordered:
            etag_file = folder / f"{part.number}.etag"
            if not etag_file.is_file() or etag_file.read_text() != part.etag.strip('"'):
                raise StorageError(f"part {part.number} did not arrive as described")
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = folder / "joined"
        with partial.open("wb") as out:
            for part in ordered:
                with (folder / f"{part.number}.part").open("rb") as source:
                    shutil.copyfileobj(source, out)
        partial.replace(target)
        shutil.rmtree(folder)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Give up on this key's upload in parts and remove what arrived; another key's upload is left alone."""
        try:
            self._multipart_meta(key, upload_id)
        except StorageError:
            return
        shutil.rmtree(self._multipart_folder(upload_id), ignore_errors=True)

    def list_multipart_uploads(self) -> Iterator[OpenUpload]:
        """Every unfinished upload in parts, dated by when it began, for garbage collection."""
        folder = self.root / MULTIPART_DIR
        if not folder.is_dir():
            return
        for meta_file in sorted(folder.glob("*/upload.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                key = json.loads(meta_file.read_text())["key"]
                started = datetime.fromtimestamp(meta_file.stat().st_mtime, UTC)
                yield OpenUpload(key, meta_file.parent.name, started)

    def upload_grant(self, token: str) -> UploadGrant:
        """What a signed upload token allows, or InvalidMediaToken."""
        payload = _load_token(_upload_serializer(), token)
        return UploadGrant(payload["k"], int(payload["m"]), payload.get("u"), payload.get("p"))

    def receive(self, grant: UploadGrant, stream: BinaryIO) -> str:
        """Store the bytes a signed upload sends (at most `grant.max_bytes`); returns their ETag.

        A single upload goes to the staging key, a part into its upload's folder. Raises
        OverflowError when the body is larger than the grant allows, StorageError when the
        multipart upload is no longer open.
        """
        if grant.upload_id is None:
            target = self.path(staging_key(grant.key))
        else:
            self._multipart_meta(grant.key, grant.upload_id)
            target = self._multipart_folder(grant.upload_id) / f"{grant.part_number}.part"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        try:
            with partial.open("wb") as out:
                while chunk := stream.read(1024 * 1024):
                    received += len(chunk)
                    if received > grant.max_bytes:
                        raise OverflowError("upload larger than allowed")
                    digest.update(chunk)
                    out.write(chunk)
            partial.replace(target)
            etag = digest.hexdigest()
            if grant.upload_id is not None:
                target.with_suffix(".etag").write_text(etag)
        except FileNotFoundError as exc:  # the upload was completed or cancelled meanwhile
            raise StorageError("the multipart upload is no longer open") from exc
        finally:
            partial.unlink(missing_ok=True)
        return etag

    def _multipart_folder(self, upload_id: str) -> Path:
        if not _UPLOAD_ID_RE.match(upload_id or ""):
            raise StorageError("unknown multipart upload")
        return self.root / MULTIPART_DIR / upload_id

    def _multipart_meta(self, key: str, upload_id: str) -> dict:
        meta_file = self._multipart_folder(upload_id) / "upload.json"
        if not meta_file.is_file():
            raise StorageError("unknown multipart upload")
        meta = json.loads(meta_file.read_text())
        if meta["key"] != key:
            raise StorageError("the multipart upload belongs to another key")
        return meta


class S3Storage:
    """Objects in an S3 (or S3-compatible) bucket; browsers talk to the bucket directly."""

    def __init__(self, client: Any, bucket: str, cdn: CloudFrontLinks | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.cdn = cdn

    def save(self, key: str, stream: IO[bytes], content_type: str) -> int:
        """Upload a stream under `key` from this process (seeding, small files), stored with its recorded type."""
        self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type})
        info = self.head(key)
        return info.size if info else 0

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        return self.head(key) is not None

    def open(self, key: str) -> BinaryIO:
        """The stored bytes as a stream the caller closes."""
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def reader_source(self, key: str, expires_in: int = 900) -> str:
        """Where FFmpeg reads the object from: a presigned GET it reads in ranges, never a public address."""
        params = {"Bucket": self.bucket, "Key": key}
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def head(self, key: str) -> ObjectInfo | None:
        """Size and type the bucket reports, or None when nothing arrived."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(size=answer["ContentLength"], content_type=answer.get("ContentType", ""))

    def read_head(self, key: str, n: int = 64) -> bytes:
        """The first `n` bytes, fetched with a ranged GET rather than the whole object."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{n - 1}")
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) == "InvalidRange":  # an empty object
                return b""
            raise
        body = answer["Body"]
        try:
            return body.read(n)
        finally:
            body.close()

    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Every stored key under `prefix` with its last change, for garbage collection."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]

    def playback_url(
        self, key: str, *, content_type: str, filename: str, download: bool = False, expires_in: int = 3600
    ) -> str:
        """A link that stops working after `expires_in` seconds and answers with the recorded type.

        A presigned GET names the type and disposition the bucket must answer with. A CloudFront
        signed URL can't, so only inline media goes through CloudFront: its stored type is the
        recorded one (`publish`, `set_content_type`); documents and downloads use presigned GETs.
        """
        served = delivery(content_type, filename, download)
        if self.cdn is not None and served.inline:
            return self.cdn.signed_url(key, expires_in)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentType": served.content_type,
            "ResponseContentDisposition": served.disposition,
        }
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict:
        """A presigned POST the browser sends straight to the bucket: {"url", "fields"}.

        The policy pins the staging key, the type and the size range. A presigned POST can't be
        revoked, so it never names `key` itself: `publish` copies the checked upload there.
        """
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=staging_key(key),
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": content_type}],
            ExpiresIn=expires_in,
        )

    def publish(self, key: str, content_type: str) -> bool:
        """Copy a single upload from its staging key to `key` with this type, then delete the staging copy.

        One CopyObject copies one version of the staged object (a POST is at most 5 GB, as is
        a copy), so a later POST under the same policy only writes a new orphan at the staging
        key. Returns False when nothing was staged.
        """
        source = {"Bucket": self.bucket, "Key": staging_key(key)}
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource=source,
                ContentType=content_type,
                MetadataDirective="REPLACE",
            )
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        self.delete(staging_key(key))
        return True

    def set_content_type(self, key: str, content_type: str) -> None:
        """Store the object with this type, when its check found another than the one it was sent as."""
        info = self.head(key)
        if info is None or info.content_type == content_type:
            return
        # A managed copy, since an object joined from parts may be larger than one CopyObject takes.
        self.client.copy(
            {"Bucket": self.bucket, "Key": key},
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type, "MetadataDirective": "REPLACE"},
        )

    def start_multipart(self, key: str, content_type: str) -> str:
        """Begin an upload sent in parts; returns its upload id."""
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return answer["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, part_bytes: int, expires_in: int = 3600) -> str:
        """A presigned PUT for one part of exactly `part_bytes` (the length is signed); its ETag names what arrived."""
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": int(part_number),
            "ContentLength": int(part_bytes),
        }
        return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts that arrived for an upload, in part-number order."""
        parts: list[UploadedPart] = []
        try:
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                parts.extend(
                    UploadedPart(item["PartNumber"], item["Size"], item["ETag"]) for item in page.get("Parts", [])
                )
        except self.client.exceptions.ClientError as exc:
            raise StorageError(str(exc)) from exc
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Ask the bucket to join the listed parts into the object; the upload id closes."""
        ordered = [{"PartNumber": part.number, "ETag": part.etag} for part in sorted(parts, key=lambda p: p.number)]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": ordered}
            )
        except self.client.exceptions.ClientError as exc:
            raise StorageError(str(exc)) from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Give up on an upload in parts; the bucket discards what arrived."""
        with contextlib.suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def list_multipart_uploads(self) -> Iterator[OpenUpload]:
        """Every unfinished upload in parts, dated by when it began, for garbage collection."""
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket):
            for item in page.get("Uploads", []):
                yield OpenUpload(item["Key"], item["UploadId"], item["Initiated"])


class CloudFrontLinks:
    """Signed CloudFront URLs for playback, so viewers stream from the edge (canned policy, RSA-SHA1)."""

    def __init__(self, domain: str, key_id: str, private_key_pem: str) -> None:
        from botocore.signers import CloudFrontSigner
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        private_key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("CloudFront signs URLs with an RSA key; the configured private key is another kind")
        self.domain = domain.removeprefix("https://").rstrip("/")
        self.key_id = key_id

        def sign(message: bytes) -> bytes:
            # CloudFront signatures are RSA-SHA1 by definition; the key, not the digest, carries the secret.
            return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

        self.sign = sign
        self.signer = CloudFrontSigner(key_id, sign)

    def url(self, key: str) -> str:
        """The object's address at the distribution."""
        return f"https://{self.domain}/{quote(key)}"

    def signed_url(self, key: str, expires_in: int) -> str:
        expires = datetime.fromtimestamp(int(time.time()) + expires_in, UTC)
        return self.signer.generate_presigned_url(self.url(key), date_less_than=expires)

    def signed_cookies(self, prefix: str, expires_in: int) -> dict[str, str]:
        """The three cookies that let a browser fetch every object under `prefix` from the distribution for
        `expires_in` seconds: a custom policy whose resource ends in a wildcard, and its signature."""
        expires = datetime.fromtimestamp(int(time.time()) + expires_in, UTC)
        policy = self.signer.build_policy(self.url(prefix) + "*", expires).encode()
        return {
            "CloudFront-Policy": _cloudfront_b64(policy),
            "CloudFront-Signature": _cloudfront_b64(self.sign(policy)),
            "CloudFront-Key-Pair-Id": self.key_id,
        }


def _cloudfront_b64(data: bytes) -> str:
    """Base64 as CloudFront reads it in URLs and cookies: `+`, `=` and `/` written `-`, `_` and `~`."""
    return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _media_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MEDIA_SALT)


def _upload_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UPLOAD_SALT)


def _load_token(serializer: URLSafeSerializer, token: str) -> dict:
    try:
        payload = serializer.loads(token)
    except BadSignature as exc:
        raise InvalidMediaToken("forged or tampered link") from exc
    if not isinstance(payload, dict) or payload.get("e", 0) < time.time():
        raise InvalidMediaToken("expired link")
    return payload


def _s3_client(region: str, endpoint_url: str | None) -> Any:
    """One boto3 client per application and settings: creating one per call is slow."""
    cache = current_app.extensions.setdefault("aqueduct_s3_clients", {})
    client = cache.get((region, endpoint_url))
    if client is None:
        import boto3
        from botocore.config import Config

        client = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"} if endpoint_url else {}),
        )
        cache[(region, endpoint_url)] = client
    return client


def mediaconvert_client(endpoint_url: str | None) -> Any:
    """A boto3 MediaConvert client in AWS_REGION (TRANSCODER=mediaconvert), one per application and endpoint."""
    region = current_app.config["AWS_REGION"]
    cache = current_app.extensions.setdefault("aqueduct_mediaconvert_clients", {})
    client = cache.get((region, endpoint_url))
    if client is None:
        import boto3
        from botocore.config import Config

        # Three tries of a throttled or failed call, then the ladder job's own retries take over.
        retries = Config(retries={"mode": "standard", "max_attempts": 3})
        client = boto3.session.Session().client(
            "mediaconvert", region_name=region, endpoint_url=endpoint_url, config=retries
        )
        cache[(region, endpoint_url)] = client
    return client


def _cloudfront_links() -> CloudFrontLinks | None:
    """The CloudFront signer when CLOUDFRONT_DOMAIN is set, built once per application."""
    config = current_app.config
    if not config.get("CLOUDFRONT_DOMAIN"):
        return None
    cache = current_app.extensions.setdefault("aqueduct_cloudfront", {})
    settings = (config["CLOUDFRONT_DOMAIN"], config["CLOUDFRONT_KEY_ID"], config["CLOUDFRONT_PRIVATE_KEY"])
    if settings not in cache:
        cache[settings] = CloudFrontLinks(*settings)
    return cache[settings]


def get_storage() -> LocalStorage | S3Storage:
    """The storage backend chosen by configuration (STORAGE_BACKEND)."""
    config = current_app.config
    if config["STORAGE_BACKEND"] == "s3":
        client = _s3_client(config["AWS_REGION"], config["S3_ENDPOINT_URL"])
        return S3Storage(client, config["S3_BUCKET"], _cloudfront_links())
    return LocalStorage(config["MEDIA_ROOT"])


def storage_origins() -> tuple[str, ...]:
    """The origins browsers load images and media from, for the Content-Security-Policy:
    MEDIA_ORIGIN, the bucket and CloudFront, whichever are configured."""
    config = current_app.config
    origins = []
    if config.get("MEDIA_ORIGIN"):
        origins.append(origin_of(config["MEDIA_ORIGIN"]))
    origins.extend(upload_origins())
    if config["STORAGE_BACKEND"] == "s3" and config.get("CLOUDFRONT_DOMAIN"):
        origins.append("https://" + config["CLOUDFRONT_DOMAIN"].removeprefix("https://").strip("/"))
    return tuple(dict.fromkeys(origins))


def upload_origins() -> tuple[str, ...]:
    """The origins the uploader script sends files to: the bucket in S3 mode (none with local storage,
    whose uploads go to the site itself).

    The hosts are asked of boto3 itself (path- or host-style, regional or not), so the policy names
    exactly the hosts that presigned links use.
    """
    config = current_app.config
    if config["STORAGE_BACKEND"] != "s3":
        return ()
    client = _s3_client(config["AWS_REGION"], config["S3_ENDPOINT_URL"])
    bucket = config["S3_BUCKET"] or "bucket"
    origins = []
    try:
        origins.append(origin_of(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})))
        origins.append(origin_of(client.generate_presigned_post(bucket, "k")["url"]))
    except Exception:  # no credentials yet: media can't work, but pages must still render
        log.warning("S3 links can't be signed; the Content-Security-Policy names the bucket's usual hosts")
        origins.append(origin_of(config["S3_ENDPOINT_URL"] or f"https://{bucket}.s3.amazonaws.com"))
        if not config["S3_ENDPOINT_URL"]:
            origins.append(f"https://{bucket}.s3.{config['AWS_REGION']}.amazonaws.com")
    return tuple(dict.fromkeys(origins))
