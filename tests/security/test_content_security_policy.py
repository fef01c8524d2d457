"""The Content-Security-Policy names only this site and the configured storage, CDN and Stripe hosts."""

from __future__ import annotations

import pytest


def policy(client, path: str = "/") -> dict[str, list[str]]:
    header = client.get(path).headers["Content-Security-Policy"]
    directives = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        directives[name] = sources
    return directives


def test_no_directive_allows_any_https_host(client):
    for name, sources in policy(client).items():
        assert "https:" not in sources, f"{name} allows every https host"
        assert "*" not in sources and "http:" not in sources, name


def test_local_media_and_test_checkout_need_only_this_site(client):
    directives = policy(client)
    # data: for the stylesheets' own small icons; blob: for the HLS player's media source, for media only.
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["media-src"] == ["'self'", "blob:"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]


def test_s3_media_allows_exactly_the_host_presigned_links_use(app, client, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for key, value in {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "clinic-media",
        "S3_ENDPOINT_URL": None,
        "AWS_REGION": "eu-west-2",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    directives = policy(client)
    bucket_hosts = [source for source in directives["media-src"] if "clinic-media" in source]
    assert bucket_hosts and all(source.startswith("https://clinic-media.s3.") for source in bucket_hosts)
    for name in ("img-src", "media-src", "connect-src"):
        assert set(bucket_hosts) <= set(directives[name]), name
    assert directives["form-action"] == ["'self'"]


def test_an_s3_compatible_endpoint_and_cloudfront_are_named(app, client, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for key, value in {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": "clinic-media",
        "S3_ENDPOINT_URL": "https://objects.example.net",
        "CLOUDFRONT_DOMAIN": "d1234abcd.cloudfront.net",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    directives = policy(client)
    assert directives["media-src"] == [
        "'self'", "blob:", "https://objects.example.net", "https://d1234abcd.cloudfront.net"
    ]  # fmt: skip
    # Scripts send uploads to the bucket, and the HLS player fetches segments from where media is served.
    assert directives["connect-src"] == ["'self'", "https://objects.example.net", "https://d1234abcd.cloudfront.net"]


@pytest.mark.parametrize("with_fake", [False, True])
def test_stripe_mode_lets_forms_lead_to_stripe_checkout_and_onboarding(app, client, monkeypatch, with_fake):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_example")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:12111" if with_fake else None)
    expected = ["'self'", "https://checkout.stripe.com", "https://connect.stripe.com"]
    if with_fake:
        expected.append("http://127.0.0.1:12111")
    assert policy(client)["form-action"] == expected


def test_a_separate_media_origin_is_allowed_for_media_only(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_ORIGIN", "https://media.example.com")
    directives = policy(client)
    for name in ("img-src", "media-src"):
        assert "https://media.example.com" in directives[name], name
    assert directives["connect-src"] == ["'self'", "https://media.example.com"], "the HLS player fetches segments"
    assert directives["script-src"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
