"""With CloudFront and CLOUDFRONT_COOKIE_DOMAIN (the large-scale path), a video's segments stream straight
from the edge: the app answers the playlists (after the access check), sets CloudFront signed cookies that
let the browser fetch that one video's files for HLS_LINK_SECONDS, and the player renews them while it
plays. A stranger gets neither playlists nor cookies, and a refund stops the renewals, so the edge stops
answering within the cookies' lifetime. The edge here is a fake CloudFront over HTTP in front of moto's
S3 server that checks signatures, policies and expiry as CloudFront does."""

from __future__ import annotations

import base64
import json
import time
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import m3u8
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from courseplatform.config import ConfigError, load_config
from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.models import Enrollment

from ..factories import PASSWORD
from ..fakes.cloudfront import FakeCloudFront
from ..servers import Loopback
from .conftest import BUCKET
from .samples import make_samples
from .test_ladder import decodes
from .test_streaming import stream_url, streamed_course

DOMAIN = "media.aqueduct.test"
KEY_ID = "K2JCJMDEHXQW5F"


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return make_samples(tmp_path_factory.mktemp("edge-samples"))


@pytest.fixture
def course(web, client, backend, samples):
    return streamed_course(web, client, backend, samples)


@pytest.fixture(scope="module")
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def edge(app, backend, monkeypatch, private_key, moto_url):
    pem = pem_of(private_key)
    for name, value in {
        "CLOUDFRONT_DOMAIN": DOMAIN,
        "CLOUDFRONT_KEY_ID": KEY_ID,
        "CLOUDFRONT_PRIVATE_KEY": pem,
        "CLOUDFRONT_COOKIE_DOMAIN": "aqueduct.test",
        "HLS_LINK_SECONDS": 120,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    fake = FakeCloudFront(DOMAIN, KEY_ID, private_key.public_key(), moto_url, BUCKET, "http://aqueduct.test")
    with Loopback(fake) as server:
        yield server


def pem_of(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def a_distribution(monkeypatch, private_key) -> None:
    """CloudFront's key in the environment, and the site under aqueduct.example."""
    monkeypatch.setenv("CLOUDFRONT_KEY_ID", KEY_ID)
    monkeypatch.setenv("CLOUDFRONT_PRIVATE_KEY", pem_of(private_key))
    monkeypatch.setenv("BASE_URL", "https://courses.aqueduct.example")


def passes(response) -> dict[str, dict]:
    """The cookies a response sets: name -> {"value", and each attribute}."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            found[name] = {"value": morsel.value, **{k: v for k, v in morsel.items() if v}}
    return {name: value for name, value in found.items() if name.startswith("CloudFront-")}


def cookie_header(cookies: dict[str, dict]) -> str:
    return "; ".join(f"{name}={cookie['value']}" for name, cookie in cookies.items())


def on_edge(edge, url: str, cookies: dict[str, dict] | None) -> requests.Response:
    """Fetch a CloudFront URL from the fake edge, with the cookies a browser would send it."""
    headers = {"Cookie": cookie_header(cookies)} if cookies else {}
    parts = urlsplit(url)
    return requests.get(edge.url + parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers, timeout=30)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_segments_stream_from_the_edge_with_signed_cookies_for_that_video_only(
    web, client, backend, course, edge, tmp_path
):
    offering, lesson = course
    asset_id = lesson.media_asset_id
    web.login("learner@example.org", PASSWORD)
    master = client.get(stream_url(course, "master.m3u8"))
    assert master.status_code == 200
    cookies = passes(master)
    assert set(cookies) == {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"}
    for cookie in cookies.values():
        assert cookie["domain"] == "aqueduct.test" and cookie["path"] == f"/renditions/{asset_id}/"
        assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
        assert cookie["max-age"] == "120"
    assert cookies["CloudFront-Key-Pair-Id"]["value"] == KEY_ID
    policy = json.loads(
        base64.b64decode(cookies["CloudFront-Policy"]["value"].replace("-", "+").replace("_", "=").replace("~", "/"))
    )
    statement = policy["Statement"][0]
    assert statement["Resource"] == f"https://{DOMAIN}/renditions/{asset_id}/*"
    assert 115 <= statement["Condition"]["DateLessThan"]["AWS:EpochTime"] - time.time() <= 120

    rung = client.get(stream_url(course, "720p/index.m3u8"))
    segments = [segment.uri for segment in m3u8.loads(rung.get_data(as_text=True)).segments]
    assert segments == [f"https://{DOMAIN}/renditions/{asset_id}/720p/seg_{n:03d}.ts" for n in range(3)]
    assert set(passes(rung)) == set(cookies), "each playlist renews the cookies"
    fetched = on_edge(edge, segments[1], cookies)
    assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "video/mp2t"
    assert decodes(fetched.content, tmp_path) == "aac,h264"
    # The cookies open this video's files, nothing else in the bucket, and nothing without them.
    assert on_edge(edge, segments[1], None).status_code == 403
    other = f"https://{DOMAIN}/uploads/{offering.creator.user_id}/lecture.mp4"
    assert on_edge(edge, other, cookies).status_code == 403
    tampered = dict(
        cookies, **{"CloudFront-Policy": {"value": cookies["CloudFront-Policy"]["value"][:-8] + "AAAAAAAA"}}
    )
    assert on_edge(edge, segments[1], tampered).status_code == 403
    assert [why for _key, why in edge.wsgi.refused][-3:] == [
        "MissingKey: no signature in the URL or the cookies",
        f"the policy's resource https://{DOMAIN}/renditions/{asset_id}/* doesn't cover {other}",
        "the signature doesn't verify",
    ]


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_the_player_renews_its_pass_while_access_lasts_and_a_refund_ends_it(web, client, backend, course, edge):
    offering, lesson = course
    web.login("learner@example.org", PASSWORD)
    page = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}").get_data(as_text=True)
    assert f'data-hls-keep="{stream_url(course, "keep")}"' in page and 'data-hls-keep-seconds="120"' in page
    kept = client.get(stream_url(course, "keep"))
    assert kept.status_code == 204 and kept.headers["Cache-Control"] == "private, no-store"
    assert len(passes(kept)) == 3

    enrollment = db.session.query(Enrollment).filter_by(offering_id=offering.id).one()
    access_changes.revoke(enrollment)
    db.session.commit()
    refused = client.get(stream_url(course, "keep"))
    assert refused.status_code == 403 and passes(refused) == {}
    assert client.get(stream_url(course, "master.m3u8")).status_code == 403


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_strangers_get_no_pass(web, client, backend, course, edge):
    for name in ("master.m3u8", "360p/index.m3u8", "keep"):
        answer = client.get(stream_url(course, name))
        assert answer.status_code == 403 and passes(answer) == {}, f"anonymous: {name}"
    web.login("stranger@example.org", PASSWORD)
    for name in ("master.m3u8", "360p/index.m3u8", "keep"):
        answer = client.get(stream_url(course, name))
        assert answer.status_code == 403 and passes(answer) == {}, f"stranger: {name}"


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_without_a_cookie_domain_segments_stay_signed_links_through_the_app(
    web, client, backend, course, edge, app, monkeypatch
):
    monkeypatch.setitem(app.config, "CLOUDFRONT_COOKIE_DOMAIN", "")
    web.login("learner@example.org", PASSWORD)
    master = client.get(stream_url(course, "master.m3u8"))
    assert passes(master) == {}
    rung = m3u8.loads(client.get(stream_url(course, "360p/index.m3u8")).get_data(as_text=True))
    assert rung.segments[0].uri == "seg_000.ts"
    link = client.get(stream_url(course, "360p/seg_000.ts")).headers["Location"]
    assert urlsplit(link).netloc == DOMAIN and on_edge(edge, link, None).status_code == 200
    assert client.get(stream_url(course, "keep")).status_code == 404
    page = client.get(f"/learn/{course[0].slug}/lessons/{course[1].id}").get_data(as_text=True)
    assert "data-hls-keep" not in page


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CLOUDFRONT_COOKIE_DOMAIN": "aqueduct.example"}, "CLOUDFRONT_COOKIE_DOMAIN needs CLOUDFRONT_DOMAIN"),
        (
            {"CLOUDFRONT_COOKIE_DOMAIN": "aqueduct.example", "CLOUDFRONT_DOMAIN": "d111111abcdef8.cloudfront.net"},
            "CLOUDFRONT_DOMAIN d111111abcdef8.cloudfront.net is not under CLOUDFRONT_COOKIE_DOMAIN aqueduct.example",
        ),
        (
            {"CLOUDFRONT_COOKIE_DOMAIN": "aqueduct.example", "CLOUDFRONT_DOMAIN": "media.aqueduct.example",
             "BASE_URL": "https://courses.other.example"},
            "BASE_URL's host courses.other.example is not under CLOUDFRONT_COOKIE_DOMAIN aqueduct.example",
        ),
        (
            {"CLOUDFRONT_COOKIE_DOMAIN": "example", "CLOUDFRONT_DOMAIN": "media.example",
             "BASE_URL": "https://courses.example"},
            "CLOUDFRONT_COOKIE_DOMAIN must be a registrable domain",
        ),
    ],
)  # fmt: skip
def test_a_cookie_domain_that_browsers_would_not_send_to_cloudfront_is_refused(
    monkeypatch, tmp_path, settings, message, private_key
):
    a_distribution(monkeypatch, private_key)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_the_browsers_own_hls_plays_through_the_app_with_no_pass(web, client, backend, course, edge):
    """Safari without Media Source Extensions plays HLS itself and sends no cookies to another origin: under
    `app/` the same ladder names its segments relatively, and each is a signed CloudFront link."""
    web.login("learner@example.org", PASSWORD)
    master = client.get(stream_url(course, "app/master.m3u8"))
    assert master.status_code == 200 and passes(master) == {}
    assert [p.uri for p in m3u8.loads(master.get_data(as_text=True)).playlists] == [
        "360p/index.m3u8",
        "720p/index.m3u8",
    ]
    rung = m3u8.loads(client.get(stream_url(course, "app/360p/index.m3u8")).get_data(as_text=True))
    assert rung.segments[0].uri == "seg_000.ts"
    link = client.get(stream_url(course, "app/360p/seg_000.ts")).headers["Location"]
    assert urlsplit(link).netloc == DOMAIN and on_edge(edge, link, None).status_code == 200
    assert client.get(stream_url(course, "app/keep")).status_code == 404
    web.logout()
    assert client.get(stream_url(course, "app/master.m3u8")).status_code == 403


@pytest.mark.parametrize(
    ("cloudfront", "accepted"),
    [
        ("media.aqueduct.example", True),
        ("https://media.aqueduct.example/", True),
        ("HTTPS://Media.Aqueduct.Example", True),  # read as the host it names
        ("http://media.aqueduct.example", False),
        ("d111111abcdef8.cloudfront.net/.aqueduct.example", False),
        ("media.aqueduct.example:8443", False),
        ("203.0.113.7", False),
    ],
)
def test_cloudfront_domain_must_be_a_host_name(monkeypatch, tmp_path, private_key, cloudfront, accepted):
    a_distribution(monkeypatch, private_key)
    monkeypatch.setenv("CLOUDFRONT_COOKIE_DOMAIN", "aqueduct.example")
    monkeypatch.setenv("CLOUDFRONT_DOMAIN", cloudfront)
    if accepted:
        assert load_config(tmp_path)["CLOUDFRONT_DOMAIN"].removeprefix("https://") == "media.aqueduct.example"
    else:
        with pytest.raises(ConfigError, match="CLOUDFRONT_DOMAIN must be the distribution's host name"):
            load_config(tmp_path)
