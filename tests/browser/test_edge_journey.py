"""The CloudFront signed-cookie path in a real browser: the site at https://courses.aqueduct.test, a fake
CloudFront at https://media.aqueduct.test in front of moto's S3 server (both on loopback, with a
certificate made for the test), and CLOUDFRONT_COOKIE_DOMAIN=aqueduct.test. Chromium plays the lesson
through hls.js: the app answers the playlists and sets the signed cookies, and every segment comes from
the edge, which lets it through only on those cookies (sent with credentials, across origins)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer
from playwright.sync_api import Browser, Page, expect

from ..fakes.cloudfront import FakeCloudFront
from ..media.conftest import BUCKET, _free_port
from ..servers import Loopback
from .conftest import CHROMIUM_ARGS, VIEWPORT, chromium_path, read_whole_answers
from .test_hls_journey import streamed_lesson
from .test_media_journey import log_in

KEY_ID = "K2JCJMDEHXQW5F"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """moto's S3 server on loopback with the test bucket."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        requests.put(f"http://127.0.0.1:{port}/{BUCKET}", timeout=10).raise_for_status()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A certificate for *.aqueduct.test, the key and the certificate as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aqueduct.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("*.aqueduct.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path)


@pytest.fixture
def edge_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium again, resolving *.aqueduct.test to loopback and trusting the test's certificate."""
    executable = chromium_path()
    mapped = browser.browser_type.launch(
        executable_path=executable,
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.aqueduct.test 127.0.0.1", "--ignore-certificate-errors"],
    )
    try:
        yield mapped
    finally:
        mapped.close()


def test_segments_stream_from_the_edge_on_the_signed_cookies(
    app, edge_browser, certificate, s3_url, monkeypatch, tmp_path
):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with Loopback(read_whole_answers(app), threaded=False, certificate=certificate) as site:
        site_origin = f"https://courses.aqueduct.test:{site.port}"
        fake = FakeCloudFront("media.aqueduct.test", KEY_ID, private_key.public_key(), s3_url, BUCKET, site_origin)
        with Loopback(fake, certificate=certificate) as edge:
            fake.domain = f"media.aqueduct.test:{edge.port}"
            for name, value in {
                "STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": s3_url, "AWS_REGION": "us-east-1",
                "BASE_URL": site_origin, "CLOUDFRONT_DOMAIN": fake.domain, "CLOUDFRONT_KEY_ID": KEY_ID,
                "CLOUDFRONT_PRIVATE_KEY": pem, "CLOUDFRONT_COOKIE_DOMAIN": "aqueduct.test",
            }.items():  # fmt: skip
                monkeypatch.setitem(app.config, name, value)
            lesson, _enrollment = streamed_lesson(tmp_path)
            context = edge_browser.new_context(base_url=site_origin, viewport=VIEWPORT, ignore_https_errors=True)
            errors: list[str] = []
            try:
                page = context.new_page()
                page.on("console", lambda message: message.type == "error" and errors.append(message.text))
                play_from_the_edge(page, lesson.id)
            finally:
                context.close()
    asset_id = lesson.media_asset_id
    segments = [key for key in fake.served if key.endswith(".ts")]
    assert segments and all(key.startswith(f"renditions/{asset_id}/") for key in segments), fake.served
    assert fake.refused == [] and errors == []


def play_from_the_edge(page: Page, lesson_id: int) -> None:
    log_in(page, "learner@example.org")
    page.goto(f"/learn/grounding/lessons/{lesson_id}")
    page.wait_for_function("() => document.querySelector('video').currentSrc.startsWith('blob:')", timeout=15_000)
    expect(page.get_by_label("Quality")).to_be_visible(timeout=15_000)
    page.evaluate("document.querySelector('video').muted = true")
    page.evaluate("document.querySelector('video').play()")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1.5", timeout=20_000)
    # Past the first segment: the next ones came from the edge too.
    page.evaluate("document.querySelector('video').currentTime = 7")
    page.wait_for_function("() => document.querySelector('video').currentTime > 8", timeout=20_000)
