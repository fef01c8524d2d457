"""Local backend links: signed, expiring, and refused when forged, expired or too large."""

from __future__ import annotations

import pytest
import requests

from courseplatform.integrations.storage import LocalStorage


@pytest.fixture
def local(app, monkeypatch, tmp_path, live_url):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    monkeypatch.setitem(app.config, "MEDIA_ROOT", str(tmp_path / "media"))
    return LocalStorage(str(tmp_path / "media")), live_url


def tampered(url: str) -> str:
    head, token = url.rsplit("/", 1)
    return f"{head}/{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"


def put(url: str, body: bytes) -> int:
    with requests.put(url, data=body, timeout=10) as answer:
        return answer.status_code


def get(url: str) -> int:
    with requests.get(url, timeout=10) as answer:
        return answer.status_code


def test_expired_upload_link_is_refused(local):
    storage, base = local
    grant = storage.presign_upload("uploads/1/x/a.mp4", "video/mp4", 1000, expires_in=-1)

    assert put(base + grant["url"], b"late") == 403
    assert not storage.exists("uploads/1/x/a.mp4")


def test_tampered_upload_link_is_refused(local):
    storage, base = local
    grant = storage.presign_upload("uploads/1/x/a.mp4", "video/mp4", 1000, expires_in=60)

    assert put(base + tampered(grant["url"]), b"forged") == 403
    assert not storage.exists("uploads/1/x/a.mp4")


def test_upload_larger_than_the_link_allows_is_refused(local):
    storage, base = local
    grant = storage.presign_upload("uploads/1/x/a.mp4", "video/mp4", 1000, expires_in=60)

    assert put(base + grant["url"], b"\x00" * 20_000) == 413  # found while streaming
    with requests.post(base + grant["url"], files={"file": ("a.mp4", b"\x00" * 100_000)}, timeout=10) as answer:
        assert answer.status_code == 413
    assert not storage.exists("uploads/1/x/a.mp4")


def test_upload_link_needs_no_csrf_token_and_stores_the_body(local):
    storage, base = local
    grant = storage.presign_upload("uploads/1/x/a.vtt", "text/vtt", 1000, expires_in=60)

    assert put(base + grant["url"], b"WEBVTT\n") == 204
    assert storage.read_head("uploads/1/x/a.vtt") == b"WEBVTT\n"


def test_expired_playback_link_is_refused(local):
    storage, base = local
    storage.root.mkdir(parents=True, exist_ok=True)
    (storage.root / "clip.mp4").write_bytes(b"\x00" * 10)

    assert get(base + storage.playback_url("clip.mp4", expires_in=60)) == 200
    assert get(base + storage.playback_url("clip.mp4", expires_in=-1)) == 403


def test_tampered_playback_link_is_refused(local):
    storage, base = local
    storage.root.mkdir(parents=True, exist_ok=True)
    (storage.root / "clip.mp4").write_bytes(b"\x00" * 10)

    assert get(base + tampered(storage.playback_url("clip.mp4", expires_in=60))) == 403


def test_keys_cannot_reach_outside_the_media_folder_or_into_unfinished_uploads(local):
    storage, _ = local
    for key in ("../secret.txt", ".multipart/0123/upload.json"):
        with pytest.raises(ValueError):
            storage.path(key)
