"""The studio's JSON upload API, on both storage backends: the browser sends bytes straight to
storage, the server only signs, checks what arrived, and keeps each creator within their space."""

from __future__ import annotations

import io

import pytest
import requests
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from courseplatform.extensions import db
from courseplatform.media.services import UploadError, store_upload
from courseplatform.models import MediaAsset, MediaStatus

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory
from ..helpers import Api, csrf_token_from

MiB = 1024**2
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


def asset_row(asset_id: int) -> MediaAsset:
    db.session.expire_all()
    return db.session.get(MediaAsset, asset_id)


def browser_post(backend, answer: dict, name: str, body: bytes, content_type: str) -> None:
    files = {"file": (name, body, content_type)}
    url = backend.absolute(answer["url"])
    with requests.post(url, data=answer["fields"], files=files, timeout=30) as response:
        assert response.status_code in (200, 201, 204), response.text


def test_small_file_is_posted_straight_to_storage_and_confirmed_ready(api, backend, demo_video):
    answer = api.start(filename="welcome.mp4", content_type="video/mp4", size=len(demo_video), purpose="video")
    assert answer["method"] == "post"
    assert asset_row(answer["asset_id"]).status is MediaStatus.PENDING

    browser_post(backend, answer, "welcome.mp4", demo_video, "video/mp4")
    status, confirmed, _ = api.post(f"/studio/uploads/{answer['asset_id']}/confirm")

    assert status == 200
    assert confirmed == {
        "asset_id": answer["asset_id"],
        "status": "ready",
        "reason": None,
        "size": len(demo_video),
        "content_type": "video/mp4",
        "name": "welcome.mp4",
    }
    assert asset_row(answer["asset_id"]).status is MediaStatus.READY


def test_large_video_is_uploaded_in_parts_and_confirmed_ready(api, app, monkeypatch, backend, demo_video):
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)
    first = demo_video.ljust(5 * MiB, b"\x00")
    last = b"\x01" * 1000
    answer = api.start(filename="long-session.mp4", content_type="video/mp4", size=len(first + last), purpose="video")
    assert (answer["method"], answer["part_size"], answer["part_count"]) == ("multipart", 5 * MiB, 2)
    assert "upload_id" not in answer, "the upload id stays on the server"
    asset_id = answer["asset_id"]

    status, signed, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": [1, 2]})
    assert status == 200
    for number, body in ((1, first), (2, last)):
        with requests.put(backend.absolute(signed["urls"][str(number)]), data=body, timeout=60) as response:
            assert response.status_code in (200, 204), response.text
    status, confirmed, _ = api.post(f"/studio/uploads/{asset_id}/complete")

    assert status == 200
    assert (confirmed["status"], confirmed["size"]) == ("ready", len(first) + len(last))
    key = asset_row(asset_id).storage_key
    assert backend.storage.read_head(key, 16) == demo_video[:16]
    assert backend.open_multipart_uploads(key) == 0


def test_a_png_sent_as_a_video_fails_with_its_reason_and_is_deleted(api, backend):
    answer = api.start(filename="lesson.mp4", content_type="video/mp4", size=len(PNG), purpose="video")
    browser_post(backend, answer, "lesson.mp4", PNG, "video/mp4")

    status, confirmed, _ = api.post(f"/studio/uploads/{answer['asset_id']}/confirm")

    assert status == 200
    assert confirmed["status"] == "failed"
    assert "isn't an MP4, MOV or WebM video" in confirmed["reason"]
    assert "image/png" in confirmed["reason"]
    assert backend.storage.head(asset_row(answer["asset_id"]).storage_key) is None


def test_cancelling_an_upload_in_parts_leaves_nothing_behind(api, app, monkeypatch, backend, demo_video):
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)
    answer = api.start(filename="cancelled.mp4", content_type="video/mp4", size=6 * MiB, purpose="video")
    asset_id = answer["asset_id"]
    _, signed, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": [1]})
    with requests.put(backend.absolute(signed["urls"]["1"]), data=demo_video.ljust(5 * MiB, b"\x00"), timeout=60):
        pass

    status, cancelled, _ = api.post(f"/studio/uploads/{asset_id}/abort")

    assert status == 200
    assert cancelled["status"] == "failed"
    asset = asset_row(asset_id)
    assert (asset.status, asset.failure_reason) == (MediaStatus.FAILED, "Upload cancelled.")
    assert backend.open_multipart_uploads(asset.storage_key) == 0
    assert backend.storage.head(asset.storage_key) is None
    assert api.post(f"/studio/uploads/{asset_id}/confirm")[0] == 404, "a cancelled upload stays cancelled"


def test_an_upload_past_the_storage_quota_is_refused_before_anything_is_recorded(api, creator):
    creator.storage_quota_bytes = 10 * 1024**3
    db.session.add(
        MediaAsset(
            owner_id=creator.user_id,
            storage_key="uploads/old/session.mp4",
            original_name="session.mp4",
            content_type="video/mp4",
            size_bytes=9 * 1024**3,
            status=MediaStatus.READY,
        )
    )
    db.session.flush()
    before = db.session.scalar(sa.select(sa.func.count(MediaAsset.id)))

    status, answer, _ = api.post(
        "/studio/uploads", {"filename": "big.mp4", "content_type": "video/mp4", "size": 2 * 1024**3, "purpose": "video"}
    )

    assert status == 400
    assert answer["error"] == (
        "This upload would take you past your storage space (9 GB of 10 GB used). Delete unused files or contact us."
    )
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == before


def test_pending_uploads_count_against_the_quota(api, creator):
    creator.storage_quota_bytes = 3 * MiB
    db.session.flush()
    api.start(filename="a.pdf", content_type="application/pdf", size=2 * MiB, purpose="document")

    status, answer, _ = api.post(
        "/studio/uploads",
        {"filename": "b.pdf", "content_type": "application/pdf", "size": 2 * MiB, "purpose": "document"},
    )

    assert status == 400
    assert "past your storage space (2 MB of 3 MB used)" in answer["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"filename": "a.mp4", "content_type": "video/mp4", "size": 10, "purpose": "movie"},
            "Say what the file is for",
        ),
        ({"content_type": "video/mp4", "size": 10, "purpose": "video"}, "Choose a file to upload."),
        ({"filename": "a.mp4", "content_type": "video/mp4", "purpose": "video"}, "size is missing"),
        ({"filename": "a.mp4", "content_type": "video/mp4", "size": "10", "purpose": "video"}, "size is missing"),
        ({"filename": "a.mp4", "content_type": "video/mp4", "size": 0, "purpose": "video"}, "is empty"),
        (
            {"filename": "a.png", "content_type": "image/png", "size": 10, "purpose": "video"},
            "isn't an MP4, MOV or WebM",
        ),
        ({"filename": "a.png", "content_type": "image/png", "size": 11 * MiB, "purpose": "image"}, "larger than"),
    ],
    ids=["bad-purpose", "no-filename", "no-size", "size-as-text", "empty", "type-not-purpose", "too-large"],
)
def test_a_bad_request_gets_a_message_a_creator_can_read(api, body, message):
    before = db.session.scalar(sa.select(sa.func.count(MediaAsset.id)))

    status, answer, _ = api.post("/studio/uploads", body)

    assert status == 400
    assert message in answer["error"]
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == before


def test_captions_without_a_browser_type_are_recognised_by_name(api):
    answer = api.start(filename="lesson.vtt", content_type="", size=100, purpose="captions")

    assert asset_row(answer["asset_id"]).content_type == "text/vtt"


def test_a_call_without_the_csrf_header_is_refused(client, creator):
    body = {"filename": "a.mp4", "content_type": "video/mp4", "size": 10, "purpose": "video"}
    with client.post("/studio/uploads", json=body) as response:
        assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 0


def test_nobody_else_can_touch_someone_elses_upload(client, web, api, app, monkeypatch, backend):
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)
    answer = api.start(filename="mine.mp4", content_type="video/mp4", size=6 * MiB, purpose="video")
    asset_id = answer["asset_id"]
    calls = [("parts", {"part_numbers": [1]}), ("complete", {}), ("confirm", {}), ("abort", {})]
    CreatorProfileFactory(user__email="other@example.org")
    UserFactory(email="learner@example.org")
    web.logout()

    def attempt_all(page_with_token: str) -> list[tuple[int, str]]:
        with client.get(page_with_token) as page:
            visitor = Api(client, csrf_token_from(page.get_data(as_text=True)))
        return [visitor.post(f"/studio/uploads/{asset_id}/{action}", body)[::2] for action, body in calls]

    assert all(status == 302 and where.startswith("/login") for status, where in attempt_all("/login"))
    web.login("other@example.org", PASSWORD)
    assert [status for status, _ in attempt_all("/account")] == [404, 404, 404, 404]
    web.logout()
    web.login("learner@example.org", PASSWORD)
    assert all(status == 302 and where == "/become-a-creator" for status, where in attempt_all("/account"))

    asset = asset_row(asset_id)
    assert asset.status is MediaStatus.PENDING
    assert backend.open_multipart_uploads(asset.storage_key) == 1
    backend.storage.abort_multipart(asset.storage_key, asset.upload_id)


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_the_in_app_upload_form_enforces_the_same_quota(backend, demo_video):
    """Without JavaScript the local backend takes a file through the lesson form, within the quota."""
    profile = CreatorProfileFactory(storage_quota_bytes=len(demo_video) - 1)
    upload = FileStorage(io.BytesIO(demo_video), filename="welcome.mp4")

    with pytest.raises(UploadError, match=r"past your storage space \(0 KB of .* used\)\. Delete unused files"):
        store_upload(profile.user, upload, {"video"})

    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 0
    assert list(backend.storage.list_keys(f"uploads/{profile.user_id}/")) == []


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_with_s3_a_file_posted_to_the_app_is_refused_without_storing_it(backend, demo_video):
    profile = CreatorProfileFactory()
    upload = FileStorage(io.BytesIO(demo_video), filename="welcome.mp4")

    with pytest.raises(UploadError, match="Turn on JavaScript in your browser, then choose the file again"):
        store_upload(profile.user, upload, {"video"})

    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 0
    assert list(backend.storage.list_keys(f"uploads/{profile.user_id}/")) == []


def test_a_file_larger_than_announced_is_refused(api, backend, demo_video):
    """The quota was checked against the announced size, so a bigger file can't slip in."""
    answer = api.start(filename="talk.mp4", content_type="video/mp4", size=1000, purpose="video")
    files = {"file": ("talk.mp4", demo_video, "video/mp4")}
    with requests.post(backend.absolute(answer["url"]), data=answer["fields"], files=files, timeout=30) as response:
        # The local backend refuses the body at once; S3 enforces the policy too (moto does not).
        assert response.status_code in (200, 201, 204, 413)
    status, confirmed, _ = api.post(f"/studio/uploads/{answer['asset_id']}/confirm")
    assert status == 200
    assert confirmed["status"] == "failed"
    assert "larger than announced" in confirmed["reason"] or "didn't arrive" in confirmed["reason"]
    assert asset_row(answer["asset_id"]).status is MediaStatus.FAILED


def test_one_creator_can_start_only_so_many_uploads_a_minute(api):
    """Pending uploads cost a row each whatever their size; a script can't fill the table with them."""
    body = {"filename": "notes.pdf", "content_type": "application/pdf", "size": 1, "purpose": "document"}
    answers = [api.post("/studio/uploads", body)[0] for _ in range(61)]
    assert answers[:60] == [201] * 60
    assert answers[60] == 429
