"""With CloudFront in front of the bucket, playback links are CloudFront signed URLs that a
distribution's public key verifies, expiring when MEDIA_URL_SECONDS says."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from courseplatform.config import ConfigError, load_config
from courseplatform.models import LessonKind, MediaAsset, MediaStatus

from ..factories import PASSWORD, LessonFactory, OfferingFactory, SectionFactory


@pytest.fixture
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cloudfront(app, monkeypatch, private_key):
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name, value in {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "aqueduct-media",
        "S3_ENDPOINT_URL": None,
        "AWS_REGION": "us-east-1",
        "CLOUDFRONT_DOMAIN": "media.aqueduct.test",
        "CLOUDFRONT_KEY_ID": "K2JCJMDEHXQW5F",
        "CLOUDFRONT_PRIVATE_KEY": pem,
        "MEDIA_URL_SECONDS": 600,
    }.items():
        monkeypatch.setitem(app.config, name, value)


def video_lesson():
    offering = OfferingFactory(slug="grounding")
    owner = offering.creator.user
    asset = MediaAsset(
        owner_id=owner.id,
        storage_key=f"uploads/{owner.id}/abc/welcome session.mp4",
        original_name="welcome session.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        status=MediaStatus.READY,
    )
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO, media_asset=asset)
    return offering, lesson


def cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_playback_links_are_cloudfront_signed_urls_the_public_key_verifies(cloudfront, web, client, private_key):
    offering, lesson = video_lesson()
    web.login(offering.creator.user.email, PASSWORD)

    location = client.get(f"/learn/grounding/lessons/{lesson.id}/media").location

    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("https", "media.aqueduct.test")
    assert parts.path == f"/uploads/{offering.creator.user_id}/abc/welcome%20session.mp4"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    expires = int(query["Expires"])
    assert 590 <= expires - time.time() <= 600
    resource = location.split("?")[0]
    policy = json.dumps(
        {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]},
        separators=(",", ":"),
    ).encode()
    # Raises InvalidSignature if the URL was not signed by the distribution's key for this policy.
    private_key.public_key().verify(cloudfront_b64decode(query["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 (CloudFront signs with RSA-SHA1)


def test_downloads_still_use_s3_links_that_name_the_file(cloudfront, web, client):
    offering, lesson = video_lesson()
    web.login(offering.creator.user.email, PASSWORD)

    location = client.get(f"/learn/grounding/lessons/{lesson.id}/media?download=1").location

    assert urlsplit(location).netloc.endswith("amazonaws.com")
    assert "response-content-disposition=attachment" in location


def test_cloudfront_needs_its_key_as_well(monkeypatch, tmp_path):
    monkeypatch.setenv("CLOUDFRONT_DOMAIN", "media.aqueduct.test")
    with pytest.raises(ConfigError, match="CLOUDFRONT_DOMAIN needs CLOUDFRONT_KEY_ID and CLOUDFRONT_PRIVATE_KEY"):
        load_config(tmp_path)


def test_only_inline_media_plays_from_cloudfront_and_a_handout_always_downloads_from_s3(cloudfront, web, client):
    offering, lesson = video_lesson()
    owner = offering.creator.user
    handout = MediaAsset(
        owner_id=owner.id,
        storage_key=f"uploads/{owner.id}/def/worksheet.html",
        original_name="worksheet.html",
        content_type="application/pdf",
        size_bytes=1000,
        status=MediaStatus.READY,
    )
    download = LessonFactory(section=lesson.section, kind=LessonKind.DOWNLOAD, media_asset=handout)
    web.login(owner.email, PASSWORD)

    video = urlsplit(client.get(f"/learn/grounding/lessons/{lesson.id}/media").location)
    opened = urlsplit(client.get(f"/learn/grounding/lessons/{download.id}/media").location)

    assert video.netloc == "media.aqueduct.test"
    # CloudFront can't be told a response type per link: a PDF goes through S3, which can.
    assert opened.netloc.endswith("amazonaws.com")
    query = parse_qs(opened.query)
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"] == ['attachment; filename="worksheet.html.pdf"']


def test_a_cloudfront_key_that_isnt_rsa_is_refused_when_the_signer_is_made_not_at_the_first_link():
    from cryptography.hazmat.primitives.asymmetric import ec

    from courseplatform.integrations.storage import CloudFrontLinks

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(TypeError, match="RSA key"):
        CloudFrontLinks("media.aqueduct.test", "K2JCJMDEHXQW5F", pem)
