"""Where media lives: the local disk (default) or an S3 bucket, behind one interface.

Browsers upload straight to storage (a presigned POST, or presigned part URLs for large
video) and play back through short-lived links; the app only signs and checks.
This is the only module that imports boto3.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote, urlsplit

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

log = logging.getLogger(__name__)

MEDIA_SALT = "aqueduct.media"
UPLOAD_SALT = "aqueduct.media.upload"
MULTIPART_DIR = ".multipart"
_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class InvalidMediaToken(Exception):
    """A media link that was forged, tampered with or has expired."""


class StorageError(Exception):
    """Storage refused an operation (an unknown multipart upload, a missing part…)."""


@dataclass(frozen=True)
class ObjectInfo:
    """What storage says about an object that arrived: its real size and stored type."""

    size: int
    content_type: str


@dataclass(frozen=True)
class UploadGrant:
    """What a signed local upload token allows: one object, or one part of a multipart upload."""

    key: str
    max_bytes: int
    upload_id: str | None = None
    part_number: int | None = None


class Storage(Protocol):
    """What features may ask of storage, whichever backend configuration chose."""

    def save(self, key: str, stream: BinaryIO) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def read_head(self, key: str, n: int = 64) -> bytes: ...
    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, datetime]]: ...
    def playback_url(self, key: str, expires_in: int = 3600, download_name: str | None = None) -> str: ...
    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict: ...
    def start_multipart(self, key: str, content_type: str) -> str: ...
    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int = 3600) -> str: ...
    def complete_multipart(self, key: str, upload_id: str, parts: list[dict]) -> None: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...


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

    def save(self, key: str, stream: BinaryIO) -> int:
        """Write a stream under `key` and return its size in bytes."""
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

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        self.path(key).unlink(missing_ok=True)

    def head(self, key: str) -> ObjectInfo | None:
        """Size and type of what is stored, or None when nothing arrived."""
        path = self.path(key)
        if not path.is_file():
            return None
        return ObjectInfo(size=path.stat().st_size, content_type=self.content_type(key))

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

    def playback_url(self, key: str, expires_in: int = 3600, download_name: str | None = None) -> str:
        """A signed link to the file that stops working after `expires_in` seconds."""
        payload: dict[str, Any] = {"k": key, "e": int(time.time()) + expires_in}
        if download_name:
            payload["d"] = download_name
        return url_for("media.serve", token=_media_serializer().dumps(payload))

    def key_for_token(self, token: str) -> str:
        """The storage key a playback token grants, or InvalidMediaToken."""
        return self.playback_grant(token)["k"]

    def playback_grant(self, token: str) -> dict:
        """The key (and download name, if any) a playback token grants, or InvalidMediaToken."""
        return _load_token(_media_serializer(), token)

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict:
        """Where a browser may POST one file (field `file`) or PUT its bytes, until the link expires."""
        self.path(key)  # refuse a bad key now rather than when the browser uploads
        token = _upload_serializer().dumps({"k": key, "m": max_bytes, "e": int(time.time()) + expires_in})
        return {"url": url_for("media.upload", token=token), "fields": {"Content-Type": content_type}}

    def start_multipart(self, key: str, content_type: str) -> str:
        """Begin an upload sent in parts; returns its upload id."""
        self.path(key)
        upload_id = uuid.uuid4().hex
        folder = self._multipart_folder(upload_id)
        folder.mkdir(parents=True)
        (folder / "upload.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int = 3600) -> str:
        """Where a browser may PUT one part; the response's ETag goes into `complete_multipart`."""
        self._multipart_meta(key, upload_id)
        payload = {
            "k": key,
            "u": upload_id,
            "p": int(part_number),
            "m": int(current_app.config["MAX_VIDEO_BYTES"]),
            "e": int(time.time()) + expires_in,
        }
        return url_for("media.upload", token=_upload_serializer().dumps(payload))

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict]) -> None:
        """Join the uploaded parts, in part-number order, into the object."""
        folder = self._multipart_folder(upload_id)
        self._multipart_meta(key, upload_id)
        ordered = sorted(parts, key=lambda part: int(part["PartNumber"]))
        if not ordered:
            raise StorageError("a multipart upload needs at least one part")
        for part in ordered:
            etag_file = folder / f"{int(part['PartNumber'])}.etag"
            if not etag_file.is_file() or etag_file.read_text() != str(part["ETag"]).strip('"'):
                raise StorageError(f"part {part['PartNumber']} did not arrive as described")
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = folder / "joined"
        with partial.open("wb") as out:
            for part in ordered:
                with (folder / f"{int(part['PartNumber'])}.part").open("rb") as source:
                    shutil.copyfileobj(source, out)
        partial.replace(target)
        shutil.rmtree(folder)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Give up on an upload in parts and remove what arrived."""
        if _UPLOAD_ID_RE.match(upload_id):
            shutil.rmtree(self._multipart_folder(upload_id), ignore_errors=True)

    def upload_grant(self, token: str) -> UploadGrant:
        """What a signed upload token allows, or InvalidMediaToken."""
        payload = _load_token(_upload_serializer(), token)
        return UploadGrant(payload["k"], int(payload["m"]), payload.get("u"), payload.get("p"))

    def receive(self, grant: UploadGrant, stream: BinaryIO) -> str:
        """Store the bytes a signed upload sends (at most `grant.max_bytes`); returns their ETag.

        Raises OverflowError when the body is larger than the grant allows.
        """
        if grant.upload_id is None:
            target = self.path(grant.key)
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
        finally:
            partial.unlink(missing_ok=True)
        etag = digest.hexdigest()
        if grant.upload_id is not None:
            target.with_suffix(".etag").write_text(etag)
        return etag

    def _multipart_folder(self, upload_id: str) -> Path:
        if not _UPLOAD_ID_RE.match(upload_id):
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

    @staticmethod
    def content_type(key: str) -> str:
        """The type a file's name suggests, for serving it."""
        return mimetypes.guess_type(key)[0] or "application/octet-stream"


class S3Storage:
    """Objects in an S3 (or S3-compatible) bucket; browsers talk to the bucket directly."""

    def __init__(self, client: Any, bucket: str, cdn: CloudFrontLinks | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.cdn = cdn

    def save(self, key: str, stream: BinaryIO) -> int:
        """Upload a stream under `key` from this process (seeding, small files) and return its size."""
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type})
        info = self.head(key)
        return info.size if info else 0

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        return self.head(key) is not None

    def open(self, key: str) -> BinaryIO:
        """The stored bytes as a stream the caller closes."""
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def head(self, key: str) -> ObjectInfo | None:
        """Size and type the bucket reports, or None when nothing arrived."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(size=answer["ContentLength"], content_type=answer.get("ContentType", ""))

    def read_head(self, key: str, n: int = 64) -> bytes:
        """The first `n` bytes, fetched with a ranged GET rather than the whole object."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{n - 1}")
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object
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

    def playback_url(self, key: str, expires_in: int = 3600, download_name: str | None = None) -> str:
        """A presigned GET (or CloudFront signed URL) that stops working after `expires_in` seconds."""
        if self.cdn is not None and not download_name:
            return self.cdn.signed_url(key, expires_in)
        params = {"Bucket": self.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = _attachment(download_name)
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int = 3600) -> dict:
        """A presigned POST the browser sends straight to the bucket: {"url", "fields"}."""
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": content_type}],
            ExpiresIn=expires_in,
        )

    def start_multipart(self, key: str, content_type: str) -> str:
        """Begin an upload sent in parts; returns its upload id."""
        answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        return answer["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int = 3600) -> str:
        """A presigned PUT for one part; the response's ETag goes into `complete_multipart`."""
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": int(part_number)}
        return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)

    def complete_multipart(self, key: str, upload_id: str, parts: list[dict]) -> None:
        """Ask the bucket to join the uploaded parts into the object."""
        ordered = sorted(
            ({"PartNumber": int(p["PartNumber"]), "ETag": p["ETag"]} for p in parts), key=lambda p: p["PartNumber"]
        )
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


class CloudFrontLinks:
    """Signed CloudFront URLs for playback, so viewers stream from the edge (canned policy, RSA-SHA1)."""

    def __init__(self, domain: str, key_id: str, private_key_pem: str) -> None:
        from botocore.signers import CloudFrontSigner
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        private_key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self.domain = domain.removeprefix("https://").rstrip("/")
        self.signer = CloudFrontSigner(
            # CloudFront signed URLs are RSA-SHA1 by definition; the key, not the digest, carries the secret.
            key_id,
            lambda message: private_key.sign(message, padding.PKCS1v15(), hashes.SHA1()),  # noqa: S303
        )

    def signed_url(self, key: str, expires_in: int) -> str:
        expires = datetime.fromtimestamp(int(time.time()) + expires_in, UTC)
        return self.signer.generate_presigned_url(f"https://{self.domain}/{quote(key)}", date_less_than=expires)


def _attachment(download_name: str) -> str:
    # Old browsers read the plain name: "Übung" becomes "Ubung" there, as Werkzeug does it.
    plain = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode()
    ascii_name = plain.replace('"', "") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(download_name)}"


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

        s3_options = {"addressing_style": "path"} if endpoint_url else {}
        client = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(signature_version="s3v4", s3=s3_options),
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
    """The origins browsers load media from and upload to, for the Content-Security-Policy.

    S3 links are asked of boto3 itself (path- or host-style, regional or not), so the policy
    names exactly the host that presigned links use.
    """
    config = current_app.config
    origins = []
    if config.get("MEDIA_ORIGIN"):
        origins.append(_origin(config["MEDIA_ORIGIN"]))
    if config["STORAGE_BACKEND"] == "s3":
        client = _s3_client(config["AWS_REGION"], config["S3_ENDPOINT_URL"])
        bucket = config["S3_BUCKET"] or "bucket"
        try:
            origins.append(_origin(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})))
            origins.append(_origin(client.generate_presigned_post(bucket, "k")["url"]))
        except Exception:  # no credentials yet: media can't work, but pages must still render
            log.warning("S3 links can't be signed; the Content-Security-Policy names the bucket's usual hosts")
            origins.append(_origin(config["S3_ENDPOINT_URL"] or f"https://{bucket}.s3.amazonaws.com"))
            if not config["S3_ENDPOINT_URL"]:
                origins.append(f"https://{bucket}.s3.{config['AWS_REGION']}.amazonaws.com")
        if config.get("CLOUDFRONT_DOMAIN"):
            origins.append("https://" + config["CLOUDFRONT_DOMAIN"].removeprefix("https://").strip("/"))
    return tuple(dict.fromkeys(origins))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
