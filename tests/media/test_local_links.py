"""Local backend links: signed, expiring, and refused when forged, expired, too large, or when
their upload is no longer pending."""

from __future__ import annotations

import time

import pytest
import requests
from itsdangerous import URLSafeSerializer

from courseplatform.integrations.storage import MEDIA_SALT, LocalStorage, staging_key
from courseplatform.models import MediaStatus


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


def test_upload_larger_than_the_link_allows_is_refused(local, pending_asset):
    storage, base = local
    pending_asset("uploads/1/x/a.mp4", "a.mp4", "video/mp4")
    grant = storage.presign_upload("uploads/1/x/a.mp4", "video/mp4", 1000, expires_in=60)

    assert put(base + grant["url"], b"\x00" * 20_000) == 413  # found while streaming
    with requests.post(base + grant["url"], files={"file": ("a.mp4", b"\x00" * 100_000)}, timeout=10) as answer:
        assert answer.status_code == 413
    assert not storage.exists("uploads/1/x/a.mp4")
    assert not storage.exists(staging_key("uploads/1/x/a.mp4"))


def test_upload_link_needs_no_csrf_token_and_stages_the_body(local, pending_asset):
    storage, base = local
    pending_asset("uploads/1/x/a.vtt", "a.vtt", "text/vtt")
    grant = storage.presign_upload("uploads/1/x/a.vtt", "text/vtt", 1000, expires_in=60)

    assert put(base + grant["url"], b"WEBVTT\n") == 204
    assert storage.read_head(staging_key("uploads/1/x/a.vtt")) == b"WEBVTT\n"
    assert not storage.exists("uploads/1/x/a.vtt"), "only the server moves it to its key, once checked"


def test_upload_link_without_a_pending_upload_behind_it_is_refused(local, pending_asset):
    storage, base = local
    pending_asset("uploads/1/x/ready.vtt", "ready.vtt", "text/vtt", status=MediaStatus.READY)
    for key in ("uploads/1/x/ready.vtt", "uploads/1/x/nobody.vtt"):
        grant = storage.presign_upload(key, "text/vtt", 1000, expires_in=60)

        assert put(base + grant["url"], b"WEBVTT\n") == 403
        assert not storage.exists(staging_key(key))


def link(storage: LocalStorage, key: str, expires_in: int) -> str:
    return storage.playback_url(key, content_type="video/mp4", filename="clip.mp4", expires_in=expires_in)


def test_expired_playback_link_is_refused(local):
    storage, base = local
    storage.root.mkdir(parents=True, exist_ok=True)
    (storage.root / "clip.mp4").write_bytes(b"\x00" * 10)

    assert get(base + link(storage, "clip.mp4", 60)) == 200
    assert get(base + link(storage, "clip.mp4", -1)) == 403


def test_tampered_playback_link_is_refused(local):
    storage, base = local
    storage.root.mkdir(parents=True, exist_ok=True)
    (storage.root / "clip.mp4").write_bytes(b"\x00" * 10)

    assert get(base + tampered(link(storage, "clip.mp4", 60))) == 403


def test_a_playback_link_signed_without_a_type_is_refused(local):
    """Links handed out before types were signed into them stop working rather than fall back to a guess."""
    storage, base = local
    storage.root.mkdir(parents=True, exist_ok=True)
    (storage.root / "page.html").write_bytes(b"<script>alert(1)</script>")
    untyped = URLSafeSerializer("test-secret-key", salt=MEDIA_SALT).dumps({"k": "page.html", "e": time.time() + 60})

    assert get(f"{base}/media/{untyped}") == 403


def test_keys_cannot_reach_outside_the_media_folder_or_into_unfinished_uploads(local):
    storage, _ = local
    for key in ("../secret.txt", ".multipart/0123/upload.json"):
        with pytest.raises(ValueError):
            storage.path(key)
