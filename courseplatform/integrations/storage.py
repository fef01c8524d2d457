"""Where media lives. The local backend keeps files under the instance folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from flask import current_app


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


def get_storage() -> LocalStorage:
    """The storage backend chosen by configuration."""
    return LocalStorage(current_app.config["MEDIA_ROOT"])
