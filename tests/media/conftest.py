"""Storage backends under test: the local disk and moto's S3 server, both over real HTTP.

Each backend test runs twice, once per backend, through the `backend` fixture. The
application is served on loopback so the local backend's upload and playback links are
fetched exactly as a browser would fetch them; S3 links go to moto's server.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
import requests
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from courseplatform.extensions import db
from courseplatform.integrations.storage import LocalStorage, S3Storage, get_storage
from courseplatform.models import MediaAsset, MediaStatus

from ..factories import PASSWORD, CreatorProfileFactory, UserFactory
from ..helpers import DEMO_VIDEO, Api, csrf_token_from

BUCKET = "aqueduct-test-media"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's S3 server on a free loopback port for the whole run, with the test bucket."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        with requests.put(f"{url}/{BUCKET}", timeout=10) as created:
            created.raise_for_status()
        yield url
    finally:
        server.stop()


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The session app served on a free port of 127.0.0.1, so local links are fetched over HTTP."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Backend:
    """One configured storage backend, and the browser-side moves a test makes against it."""

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.base_url = base_url

    @property
    def storage(self) -> LocalStorage | S3Storage:
        return get_storage()

    def absolute(self, url: str) -> str:
        """Local links are paths on the app; S3 links are already absolute."""
        return urljoin(self.base_url, url)

    def store(self, key: str, body: bytes, content_type: str) -> None:
        """Store an object as the server does once a file is checked (`publish`), or as the seeder does."""
        self.storage.save(key, io.BytesIO(body), content_type)

    def post_file(self, key: str, body: bytes, content_type: str, max_bytes: int = 50 * 1024**2) -> None:
        """Upload a file as a browser would: a multipart form POST to the presigned upload of `key`.

        The bytes land at the staging key; the local backend takes them only while `key`'s asset is pending.
        """
        grant = self.storage.presign_upload(key, content_type, max_bytes, expires_in=300)
        files = {"file": (key.rsplit("/", 1)[-1], body, content_type)}
        with requests.post(self.absolute(grant["url"]), data=grant["fields"], files=files, timeout=30) as answer:
            assert answer.status_code in (200, 201, 204), answer.text

    def put_part(self, key: str, upload_id: str, number: int, body: bytes) -> None:
        """Upload one part with its presigned PUT, signed for exactly this body's length."""
        url = self.absolute(self.storage.presign_part(key, upload_id, number, len(body), expires_in=300))
        with requests.put(url, data=body, timeout=60) as answer:
            assert answer.status_code == 200 or answer.status_code == 204, answer.text

    def open_multipart_uploads(self, key: str) -> int:
        """How many unfinished multipart uploads the backend still keeps for `key`."""
        return len(self.multipart_upload_ids(key))

    def multipart_upload_ids(self, key: str) -> list[str]:
        """The ids of the unfinished multipart uploads storage keeps for `key`."""
        storage = self.storage
        if isinstance(storage, S3Storage):
            listed = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=key)
            return [upload["UploadId"] for upload in listed.get("Uploads", []) if upload["Key"] == key]
        folder = storage.root / ".multipart"
        metas = sorted(folder.glob("*/upload.json")) if folder.is_dir() else []
        return [meta.parent.name for meta in metas if json.loads(meta.read_text())["key"] == key]


@pytest.fixture(params=["local", "s3"])
def backend(request, app, monkeypatch, tmp_path, live_url) -> Backend:
    """The storage backend this run of the test uses, configured as production would be."""
    if request.param == "s3":
        moto_url = request.getfixturevalue("moto_url")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
        monkeypatch.setitem(app.config, "S3_BUCKET", BUCKET)
        monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", moto_url)
        monkeypatch.setitem(app.config, "AWS_REGION", "us-east-1")
    else:
        monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
        monkeypatch.setitem(app.config, "MEDIA_ROOT", str(tmp_path / "media"))
    return Backend(request.param, live_url)


@pytest.fixture
def demo_video() -> bytes:
    return DEMO_VIDEO.read_bytes()


@pytest.fixture
def pending_asset():
    """Make the pending MediaAsset a studio records before the browser uploads."""

    def make(key: str, name: str, content_type: str, **fields) -> MediaAsset:
        owner = fields.pop("owner", None) or UserFactory()
        asset = MediaAsset(
            owner_id=owner.id,
            storage_key=key,
            original_name=name,
            content_type=content_type,
            status=fields.pop("status", MediaStatus.PENDING),
            **fields,
        )
        db.session.add(asset)
        db.session.flush()
        return asset

    return make


@pytest.fixture
def creator(web):
    """A creator, logged in."""
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def token(client, creator) -> str:
    with client.get("/account") as page:
        return csrf_token_from(page.get_data(as_text=True))


@pytest.fixture
def api(client, token) -> Api:
    """The upload API, as the logged-in creator's browser calls it."""
    return Api(client, token)
