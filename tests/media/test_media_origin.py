"""MEDIA_ORIGIN: an operator may serve local media from a host of its own (pointing at the same
app), so an uploaded file never shares an origin with the site's pages and cookies. Links become
absolute on that host, files are answered only there, the host answers nothing else, and the
player still loads captions across origins."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from courseplatform.config import ConfigError, load_config
from courseplatform.extensions import db
from courseplatform.models import LessonKind, MediaAsset

from ..factories import LessonFactory, OfferingFactory, SectionFactory

MEDIA = "http://media.aqueduct.test"
SITE = "http://aqueduct.test"  # the test application's BASE_URL
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nWelcome.\n"


@pytest.fixture
def media_origin(app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_ORIGIN", MEDIA)


@pytest.fixture
def lesson(api, backend, creator, media_origin, demo_video):
    """The creator's video lesson with captions, both uploaded through the studio's uploader."""
    assets = []
    for name, body, content_type, purpose in (
        ("welcome.mp4", demo_video, "video/mp4", "video"),
        ("welcome.vtt", VTT, "text/vtt", "captions"),
    ):
        answer = api.start(filename=name, content_type=content_type, size=len(body), purpose=purpose)
        files = {"file": (name, body, content_type)}
        with requests.post(backend.absolute(answer["url"]), data=answer["fields"], files=files, timeout=30):
            pass
        assert api.post(f"/studio/uploads/{answer['asset_id']}/confirm")[1]["status"] == "ready"
        assets.append(db.session.get(MediaAsset, answer["asset_id"]))
    offering = OfferingFactory(creator=creator, slug="grounding")
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO)
    lesson.media_asset, lesson.captions_asset = assets
    db.session.flush()
    return f"/learn/grounding/lessons/{lesson.id}"


def link(client, url: str) -> str:
    with client.get(url) as answer:
        assert answer.status_code == 302
        return answer.headers["Location"]


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_links_point_at_the_media_origin_and_only_it_serves_files(client, lesson, demo_video):
    location = urlsplit(link(client, f"{lesson}/media"))

    assert f"{location.scheme}://{location.netloc}" == MEDIA
    with client.get(location.path, base_url=MEDIA, headers={"Range": "bytes=0-99"}) as served:
        assert (served.status_code, served.get_data()) == (206, demo_video[:100])
        assert served.headers["Content-Type"] == "video/mp4"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(location.path, base_url=SITE) as on_the_site:
        assert on_the_site.status_code == 404


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_captions_load_across_origins_for_the_site_only(client, lesson):
    with client.get(lesson) as page:
        html = page.get_data(as_text=True)
    assert 'playsinline src="' in html and 'crossorigin="anonymous"' in html

    location = urlsplit(link(client, f"{lesson}/captions"))
    with client.get(location.path, base_url=MEDIA, headers={"Origin": SITE}) as captions:
        assert captions.status_code == 200
        assert captions.get_data() == VTT
        assert captions.headers["Content-Type"].startswith("text/vtt")
        assert captions.headers["Access-Control-Allow-Origin"] == SITE
        assert "Access-Control-Allow-Credentials" not in captions.headers


@pytest.mark.parametrize("backend", ["local"], indirect=True)
@pytest.mark.parametrize("path", ["/", "/login", "/courses", "/studio", "/static/css/app.css"])
def test_the_media_host_answers_nothing_but_files(client, media_origin, backend, path):
    with client.get(path, base_url=MEDIA) as answer:
        assert answer.status_code == 404
        assert "Set-Cookie" not in answer.headers
    with client.get(path, base_url=SITE) as on_the_site:
        assert on_the_site.status_code != 404


@pytest.mark.parametrize("backend", ["local"], indirect=True)
@pytest.mark.parametrize(
    "spelling", ["media.aqueduct.test.", "MEDIA.Aqueduct.Test", "media.aqueduct.test:80", "media.aqueduct.test.:80"]
)
def test_the_media_host_answers_nothing_but_files_however_its_name_is_spelt(
    client, media_origin, backend, lesson, spelling
):
    """A browser reaches the media host as `media.aqueduct.test.` too (the DNS root's dot): no page of
    the site may answer there, nor set a cookie; files still do."""
    with client.get("/login", base_url=f"http://{spelling}") as page:
        assert page.status_code == 404
        assert "Set-Cookie" not in page.headers
    location = urlsplit(link(client, f"{lesson}/media"))
    with client.get(location.path, base_url=f"http://{spelling}", headers={"Range": "bytes=0-9"}) as served:
        assert served.status_code == 206


@pytest.mark.parametrize("backend", ["local"], indirect=True)
@pytest.mark.parametrize("spelling", ["aqueduct.test.", "AQUEDUCT.test", "aqueduct.test:80"])
def test_files_are_refused_on_the_site_however_its_name_is_spelt(client, lesson, spelling):
    location = urlsplit(link(client, f"{lesson}/media"))
    with client.get(location.path, base_url=f"http://{spelling}") as on_the_site:
        assert on_the_site.status_code == 404


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ("media.example.com", "must be an origin such as https://media.example.com"),
        ("https://media.example.com/files", "must be an origin such as https://media.example.com"),
        ("javascript://media.example.com", "must be an origin such as https://media.example.com"),
        ("https://example.com", "must be another host than BASE_URL's"),
        # Browsers send a site's cookies to every port of its host, and read a trailing dot as the same host.
        ("https://example.com:8443", "must be another host than BASE_URL's"),
        ("http://example.com", "must be another host than BASE_URL's"),
        ("https://EXAMPLE.com.", "must be another host than BASE_URL's"),
    ],
)
def test_a_media_origin_must_be_a_bare_origin_on_another_host(monkeypatch, tmp_path, origin, message):
    monkeypatch.setenv("BASE_URL", "https://example.com")
    monkeypatch.setenv("MEDIA_ORIGIN", origin)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_media_origin_is_read_from_the_environment_without_a_trailing_slash(monkeypatch, tmp_path):
    monkeypatch.setenv("BASE_URL", "https://example.com")
    monkeypatch.setenv("MEDIA_ORIGIN", "https://media.example.com/")
    assert load_config(tmp_path)["MEDIA_ORIGIN"] == "https://media.example.com"
    monkeypatch.delenv("MEDIA_ORIGIN")
    assert load_config(tmp_path)["MEDIA_ORIGIN"] == ""
