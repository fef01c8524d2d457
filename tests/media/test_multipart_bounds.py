"""Multipart uploads are bounded by the size announced when they started: only the parts that size
needs are signed, no part may be larger than its share, the upload id stays on the server, and
only the uploader (or an admin) can cancel the upload."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from courseplatform.extensions import db
from courseplatform.models import MediaAsset, MediaStatus

from ..factories import PASSWORD, CreatorProfileFactory
from ..helpers import Api, csrf_token_from

MiB = 1024**2


def asset_row(asset_id: int) -> MediaAsset:
    db.session.expire_all()
    return db.session.get(MediaAsset, asset_id)


@pytest.fixture
def small_parts(app, monkeypatch):
    """Parts of 5 MiB (S3's smallest) above 1 MiB, so a 6 MiB video goes in two parts: 5 MiB and 1 MiB."""
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)


def test_only_the_parts_the_announced_size_needs_are_signed(api, backend):
    # 65 MiB in parts of 16 MiB: five parts, the last of 1 MiB.
    answer = api.start(filename="session.mp4", content_type="video/mp4", size=65 * MiB, purpose="video")
    assert (answer["method"], answer["part_size"], answer["part_count"]) == ("multipart", 16 * MiB, 5)
    asset_id = answer["asset_id"]

    for numbers in ([6], [1, 6], [10_000], [0]):
        status, refused, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": numbers})
        assert status == 400, numbers
        assert refused["error"] == "Part numbers run from 1 to 5 for this file."

    status, signed, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": [1, 2, 3, 4, 5]})
    assert status == 200
    assert sorted(signed["urls"], key=int) == ["1", "2", "3", "4", "5"]
    api.post(f"/studio/uploads/{asset_id}/abort")


def test_a_part_larger_than_its_share_is_refused(api, backend, small_parts, demo_video):
    first = demo_video.ljust(5 * MiB, b"\x00")
    answer = api.start(filename="session.mp4", content_type="video/mp4", size=6 * MiB, purpose="video")
    asset_id = answer["asset_id"]
    key = asset_row(asset_id).storage_key
    _, signed, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": [1, 2]})
    last_url = backend.absolute(signed["urls"]["2"])
    if backend.name == "s3":
        # S3 refuses a body of any other length than the one signed (moto does not check signatures).
        signed_headers = parse_qs(urlsplit(last_url).query)["X-Amz-SignedHeaders"][0].split(";")
        assert "content-length" in signed_headers

    for number, url, body in ((1, signed["urls"]["1"], first), (2, last_url, b"\x01" * (5 * MiB))):
        with requests.put(backend.absolute(url), data=body, timeout=60) as sent:
            if number == 2 and backend.name == "local":
                assert sent.status_code == 413, "the last part may be 1 MiB at most"
    status, completed, _ = api.post(f"/studio/uploads/{asset_id}/complete")

    if backend.name == "local":
        assert (status, completed["error"]) == (400, "Some parts of the upload didn't arrive. Please send them again.")
        assert asset_row(asset_id).status is MediaStatus.PENDING
        api.post(f"/studio/uploads/{asset_id}/abort")
    else:
        assert (status, completed["status"]) == (200, "failed")
        assert completed["reason"] == "“session.mp4” is larger than announced: part 2 is 5 MB, at most 1 MB."
    assert asset_row(asset_id).status is not MediaStatus.READY
    assert backend.storage.head(key) is None
    assert backend.open_multipart_uploads(key) == 0


def test_a_creator_cannot_cancel_someone_elses_upload_with_its_id(api, backend, client, web, small_parts, demo_video):
    mine = api.start(filename="mine.mp4", content_type="video/mp4", size=6 * MiB, purpose="video")
    my_key = asset_row(mine["asset_id"]).storage_key
    my_upload_id = backend.multipart_upload_ids(my_key)[0]
    _, signed, _ = api.post(f"/studio/uploads/{mine['asset_id']}/parts", {"part_numbers": [1]})
    with requests.put(backend.absolute(signed["urls"]["1"]), data=demo_video.ljust(5 * MiB, b"\x00"), timeout=60):
        pass
    web.logout()
    CreatorProfileFactory(user__email="other@example.org")
    web.login("other@example.org", PASSWORD)
    with client.get("/account") as page:
        other = Api(client, csrf_token_from(page.get_data(as_text=True)))
    theirs = other.start(filename="theirs.mp4", content_type="video/mp4", size=6 * MiB, purpose="video")

    status, _, _ = other.post(f"/studio/uploads/{theirs['asset_id']}/abort", {"upload_id": my_upload_id})

    assert status == 200
    assert asset_row(theirs["asset_id"]).status is MediaStatus.FAILED
    assert backend.multipart_upload_ids(my_key) == [my_upload_id], "my upload is still open"
    assert backend.open_multipart_uploads(asset_row(theirs["asset_id"]).storage_key) == 0
    assert asset_row(mine["asset_id"]).status is MediaStatus.PENDING
    backend.storage.abort_multipart(my_key, my_upload_id)
