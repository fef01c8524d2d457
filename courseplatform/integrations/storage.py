"""Where media lives. The local backend keeps files under the instance folder."""

from __future__ import annotations

import mimetypes
import shutil
import time
from pathlib import Path
from typing import BinaryIO

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

MEDIA_SALT = "aqueduct.media"


class InvalidMediaToken(Exception):
    """A media link that was forged, tampered with or has expired."""


class LocalStorage:
    """Files on this machine's disk, under MEDIA_ROOT, addressed by storage key."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
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
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def playback_url(self, key: str, expires_in: int = 3600) -> str:
        """A signed link to the file that stops working after `expires_in` seconds."""
        token = _media_serializer().dumps({"k": key, "e": int(time.time()) + expires_in})
        return url_for("media.serve", token=token)

    def key_for_token(self, token: str) -> str:
        """The storage key a playback token grants, or InvalidMediaToken."""
        try:
            payload = _media_serializer().loads(token)
        except BadSignature as exc:
            raise InvalidMediaToken("forged or tampered link") from exc
        if not isinstance(payload, dict) or payload.get("e", 0) < time.time():
            raise InvalidMediaToken("expired link")
        return payload["k"]

    @staticmethod
    def content_type(key: str) -> str:
        return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _media_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MEDIA_SALT)


def get_storage() -> LocalStorage:
    """The storage backend chosen by configuration."""
    return LocalStorage(current_app.config["MEDIA_ROOT"])
