"""The same behaviour from both storage backends: uploads, confirm, playback, delete."""

from __future__ import annotations

import uuid

import pytest
import requests

from courseplatform.extensions import db
from courseplatform.integrations.storage import StorageError, staging_key
from courseplatform.media.services import complete_multipart_upload, confirm_upload
from courseplatform.models import MediaStatus

MiB = 1024**2
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
WINDOWS_PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 2048


def new_key(name: str) -> str:
    return f"uploads/test/{uuid.uuid4().hex}/{name}"


def test_presigned_post_upload_is_confirmed_ready_with_the_size_that_arrived(backend, demo_video, pending_asset):
    key = new_key("welcome.mp4")
    # The browser over-claimed: the size recorded is what arrived.
    asset = pending_asset(key, "welcome.mp4", "video/mp4", size_bytes=10**9)
    backend.post_file(key, demo_video, "video/mp4")

    confirm_upload(asset)

    assert asset.status is MediaStatus.READY
    assert asset.size_bytes == len(demo_video)
    assert asset.content_type == "video/mp4"
    assert asset.confirmed_at is not None
    assert backend.storage.head(key).size == len(demo_video)


def test_multipart_upload_of_two_parts_is_joined_and_confirmed(backend, app, monkeypatch, demo_video, pending_asset):
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)
    key = new_key("long-session.mp4")
    first = demo_video[:1024].ljust(5 * MiB, b"\x00")
    last = b"\x01" * 1000
    asset = pending_asset(key, "long-session.mp4", "video/mp4", size_bytes=len(first + last))
    storage = backend.storage

    asset.upload_id = storage.start_multipart(key, "video/mp4")
    db.session.flush()
    backend.put_part(key, asset.upload_id, 2, last)
    backend.put_part(key, asset.upload_id, 1, first)
    complete_multipart_upload(asset)

    assert asset.status is MediaStatus.READY
    assert asset.upload_id is None
    assert asset.size_bytes == len(first) + len(last)
    assert storage.read_head(key, 16) == demo_video[:16]
    assert backend.open_multipart_uploads(key) == 0


def test_abort_multipart_leaves_nothing_behind(backend, demo_video, pending_asset):
    key = new_key("cancelled.mp4")
    storage = backend.storage
    upload_id = storage.start_multipart(key, "video/mp4")
    pending_asset(key, "cancelled.mp4", "video/mp4", upload_id=upload_id)
    backend.put_part(key, upload_id, 1, demo_video[:1024].ljust(5 * MiB, b"\x00"))
    part = storage.list_parts(key, upload_id)[0]

    storage.abort_multipart(key, upload_id)

    assert backend.open_multipart_uploads(key) == 0
    assert storage.head(key) is None
    with pytest.raises(StorageError):
        storage.complete_multipart(key, upload_id, [part])


def test_a_confirmed_single_upload_leaves_its_staging_key(backend, demo_video, pending_asset):
    key = new_key("welcome.mp4")
    asset = pending_asset(key, "welcome.mp4", "video/mp4")
    backend.post_file(key, demo_video, "video/mp4")
    assert backend.storage.head(staging_key(key)).size == len(demo_video)
    assert backend.storage.head(key) is None, "a browser never writes the object's own key"

    confirm_upload(asset)

    assert asset.status is MediaStatus.READY
    assert backend.storage.head(staging_key(key)) is None
    assert backend.storage.head(key).size == len(demo_video)


@pytest.mark.parametrize(
    ("body", "reason_mentions"),
    [(PNG, "image/png"), (WINDOWS_PROGRAM, "not a type Aqueduct accepts")],
    ids=["png", "windows-program"],
)
def test_confirm_rejects_a_file_whose_content_is_not_the_claimed_type(backend, pending_asset, body, reason_mentions):
    key = new_key("lesson.mp4")
    asset = pending_asset(key, "lesson.mp4", "video/mp4")
    backend.post_file(key, body, "video/mp4")

    confirm_upload(asset)

    assert asset.status is MediaStatus.FAILED
    assert "isn't an MP4, MOV or WebM video" in asset.failure_reason
    assert reason_mentions in asset.failure_reason
    assert backend.storage.head(key) is None


def test_confirm_rejects_a_video_over_the_size_limit_and_deletes_it(
    backend, app, monkeypatch, demo_video, pending_asset
):
    monkeypatch.setitem(app.config, "MAX_VIDEO_BYTES", 1000)
    key = new_key("welcome.mp4")
    asset = pending_asset(key, "welcome.mp4", "video/mp4")
    backend.post_file(key, demo_video, "video/mp4")

    confirm_upload(asset)

    assert asset.status is MediaStatus.FAILED
    assert "larger than the 1000 bytes limit" in asset.failure_reason
    assert backend.storage.head(key) is None


def test_confirm_marks_an_upload_that_never_arrived_failed(backend, pending_asset):
    asset = pending_asset(new_key("lost.mp4"), "lost.mp4", "video/mp4")

    confirm_upload(asset)

    assert asset.status is MediaStatus.FAILED
    assert asset.failure_reason.startswith("The upload didn't arrive")


def test_playback_link_serves_a_byte_range_so_video_seeks(backend, demo_video):
    key = new_key("welcome.mp4")
    backend.store(key, demo_video, "video/mp4")
    url = backend.absolute(
        backend.storage.playback_url(key, content_type="video/mp4", filename="welcome.mp4", expires_in=60)
    )

    with requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10) as answer:
        assert answer.status_code == 206
        assert answer.content == demo_video[:100]
        assert answer.headers["Content-Type"] == "video/mp4"


def test_download_link_names_the_file(backend):
    key = new_key("worksheet.pdf")
    backend.store(key, b"%PDF-1.4 worksheet", "application/pdf")
    url = backend.absolute(
        backend.storage.playback_url(
            key, content_type="application/pdf", filename="Grounding worksheet.pdf", download=True, expires_in=60
        )
    )

    with requests.get(url, timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.content == b"%PDF-1.4 worksheet"
        assert "attachment" in answer.headers["Content-Disposition"]
        assert "Grounding" in answer.headers["Content-Disposition"]


def test_delete_removes_the_object(backend, demo_video):
    key = new_key("welcome.mp4")
    backend.store(key, demo_video, "video/mp4")
    assert backend.storage.exists(key)

    backend.storage.delete(key)
    backend.storage.delete(key)  # deleting twice is harmless

    assert backend.storage.head(key) is None
    assert not backend.storage.exists(key)


def test_list_keys_finds_objects_under_a_prefix(backend):
    prefix = f"uploads/test/{uuid.uuid4().hex}/"
    for name in ("a.vtt", "b.vtt"):
        backend.store(prefix + name, b"WEBVTT\n", "text/vtt")
    backend.store(new_key("elsewhere.vtt"), b"WEBVTT\n", "text/vtt")

    listed = dict(backend.storage.list_keys(prefix))

    assert sorted(listed) == [prefix + "a.vtt", prefix + "b.vtt"]
    assert all(modified.tzinfo is not None for modified in listed.values())
