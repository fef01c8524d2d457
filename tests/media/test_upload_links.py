"""Upload links work only while their file is pending: once the server has checked what arrived,
the file can't be changed through the link it came by (new bytes mean a new upload)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import requests

from courseplatform.extensions import db
from courseplatform.media.services import collect_stale_uploads
from courseplatform.models import MediaAsset, MediaStatus, utcnow

MiB = 1024**2
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<html><script>fetch('/admin').then(r => r.text()).then(alert)</script></html>"


def asset_row(asset_id: int) -> MediaAsset:
    db.session.expire_all()
    return db.session.get(MediaAsset, asset_id)


def post_to(backend, grant: dict, name: str, body: bytes, content_type: str) -> int:
    files = {"file": (name, body, content_type)}
    with requests.post(backend.absolute(grant["url"]), data=grant["fields"], files=files, timeout=30) as answer:
        return answer.status_code


def stored_bytes(backend, key: str) -> bytes:
    stream = backend.storage.open(key)
    try:
        return stream.read()
    finally:
        stream.close()


def test_an_upload_link_stops_working_once_the_file_is_checked(api, backend):
    grant = api.start(filename="worksheet.pdf", content_type="application/pdf", size=len(PDF), purpose="document")
    assert post_to(backend, grant, "worksheet.pdf", PDF, "application/pdf") in (200, 201, 204)
    status, confirmed, _ = api.post(f"/studio/uploads/{grant['asset_id']}/confirm")
    assert (status, confirmed["status"]) == (200, "ready")
    key = asset_row(grant["asset_id"]).storage_key

    # The same link again, with other bytes that fit the policy.
    late = post_to(backend, grant, "worksheet.pdf", HTML.ljust(len(PDF))[: len(PDF)], "application/pdf")

    if backend.name == "local":
        assert late == 403
    # S3 can't revoke a presigned POST: it may take the bytes, but they don't reach the checked file.
    assert stored_bytes(backend, key) == PDF
    assert asset_row(grant["asset_id"]).status is MediaStatus.READY
    assert api.post(f"/studio/uploads/{grant['asset_id']}/confirm")[0] == 404, "a checked file isn't checked again"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_the_upload_link_of_a_cancelled_upload_is_refused(api, backend):
    grant = api.start(filename="worksheet.pdf", content_type="application/pdf", size=len(PDF), purpose="document")
    assert api.post(f"/studio/uploads/{grant['asset_id']}/abort")[0] == 200

    assert post_to(backend, grant, "worksheet.pdf", PDF, "application/pdf") == 403
    assert backend.storage.head(asset_row(grant["asset_id"]).storage_key) is None


def test_a_part_link_stops_working_once_the_upload_is_complete(api, app, monkeypatch, backend, demo_video):
    monkeypatch.setitem(app.config, "MULTIPART_THRESHOLD_BYTES", 1 * MiB)
    monkeypatch.setitem(app.config, "MULTIPART_PART_BYTES", 5 * MiB)
    first, last = demo_video.ljust(5 * MiB, b"\x00"), b"\x01" * 1000
    answer = api.start(filename="session.mp4", content_type="video/mp4", size=len(first + last), purpose="video")
    asset_id = answer["asset_id"]
    key = asset_row(asset_id).storage_key
    _, signed, _ = api.post(f"/studio/uploads/{asset_id}/parts", {"part_numbers": [1, 2]})
    for number, body in ((1, first), (2, last)):
        with requests.put(backend.absolute(signed["urls"][str(number)]), data=body, timeout=60) as sent:
            assert sent.status_code in (200, 204)
    status, confirmed, _ = api.post(f"/studio/uploads/{asset_id}/complete")
    assert (status, confirmed["status"]) == (200, "ready")

    with requests.put(backend.absolute(signed["urls"]["2"]), data=HTML, timeout=60) as late:
        # S3 answers 404 NoSuchUpload (moto, 500); the local backend 403.
        assert late.status_code >= 400

    assert stored_bytes(backend, key) == first + last
    assert backend.open_multipart_uploads(key) == 0


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_uploads_land_at_a_staging_key_under_a_policy_that_pins_type_and_size(api, backend, runner):
    grant = api.start(filename="worksheet.pdf", content_type="application/pdf", size=len(PDF), purpose="document")
    key = asset_row(grant["asset_id"]).storage_key

    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": f"staging/{key}"} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, len(PDF)] in conditions
    assert grant["fields"]["key"] == f"staging/{key}"

    post_to(backend, grant, "worksheet.pdf", PDF, "application/pdf")
    api.post(f"/studio/uploads/{grant['asset_id']}/confirm")
    assert backend.storage.head(f"staging/{key}") is None, "confirming moves the file out of the link's reach"
    stored = backend.storage.head(key)
    assert (stored.size, stored.content_type) == (len(PDF), "application/pdf")


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_bytes_posted_with_an_old_s3_policy_are_an_orphan_that_storage_gc_removes(api, backend):
    grant = api.start(filename="worksheet.pdf", content_type="application/pdf", size=len(PDF), purpose="document")
    post_to(backend, grant, "worksheet.pdf", PDF, "application/pdf")
    api.post(f"/studio/uploads/{grant['asset_id']}/confirm")
    key = asset_row(grant["asset_id"]).storage_key
    post_to(backend, grant, "worksheet.pdf", HTML.ljust(len(PDF))[: len(PDF)], "application/pdf")
    assert backend.storage.head(f"staging/{key}") is not None

    assert collect_stale_uploads(now=utcnow()).staged_files == 0, "a day must pass first"
    collected = collect_stale_uploads(now=utcnow() + timedelta(days=2))

    assert collected.staged_files >= 1
    assert backend.storage.head(f"staging/{key}") is None
    assert stored_bytes(backend, key) == PDF
    assert asset_row(grant["asset_id"]).status is MediaStatus.READY
