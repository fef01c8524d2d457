"""Static files: fingerprinted addresses cached for a year, compressed, and never stale."""

from __future__ import annotations

import gzip
import posixpath
import re
import shutil
from pathlib import Path

import pytest

from courseplatform import create_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STYLESHEET = re.compile(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"')
IMMUTABLE = "public, max-age=31536000, immutable"


def get(client, url: str, **kwargs):
    """A whole response, closed as a server closes it once sent (so no file stays open)."""
    return client.get(url, buffered=True, **kwargs)


def stylesheet_of(page) -> str:
    match = STYLESHEET.search(page.get_data(as_text=True))
    assert match, "the page links no fingerprinted app.css"
    return match[1]


@pytest.fixture
def own_static(tmp_path):
    """An application serving a copy of static/ that the test may change, as a developer edits files."""
    source = tmp_path / "static"
    shutil.copytree(PROJECT_ROOT / "static", source)
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/unused.db",
            "STATIC_BUILD_DIR": str(tmp_path / "build"),
        }
    )
    application.static_folder = str(source)
    return application.test_client(), source


def test_pages_link_fingerprinted_files_served_for_a_year(client):
    page = get(client, "/courses")
    html = page.get_data(as_text=True)
    static_urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert static_urls, "the page links no static files"
    for url in static_urls:
        assert re.search(r"\.[0-9a-f]{12}\.[a-z]+$", url), f"{url} has no fingerprint"
    response = get(client, stylesheet_of(page))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.mimetype == "text/css"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert ".site-header" in response.get_data(as_text=True)


def test_gzip_is_served_to_browsers_that_ask_for_it(client):
    url = stylesheet_of(get(client, "/courses"))
    plain = get(client, url).get_data()
    zipped = get(client, url, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) < len(plain) / 2
    assert gzip.decompress(zipped.get_data()) == plain


def test_images_a_stylesheet_refers_to_are_fingerprinted_and_served(client):
    css = get(client, stylesheet_of(get(client, "/courses"))).get_data(as_text=True)
    references = set(re.findall(r'url\("(\.\./img/[^"]+)"\)', css))
    assert references == {re.search(r"\.\./img/arch-tile\.[0-9a-f]{12}\.svg", css)[0]}
    image = get(client, posixpath.normpath("/static/css/" + references.pop()))  # as a browser resolves it
    assert image.status_code == 200
    assert image.mimetype == "image/svg+xml"
    assert image.headers["Cache-Control"] == IMMUTABLE
    assert "<svg" in image.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/static/css/app.css", "/static/css/app.0123456789ab.css"])
def test_an_address_without_a_current_fingerprint_still_works_briefly_cached(client, url):
    response = get(client, url)
    assert response.status_code == 200
    assert ".site-header" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_a_missing_file_is_404(client):
    response = get(client, "/static/css/nothing-here.0123456789ab.css")
    assert response.status_code == 404


def test_a_changed_file_gets_a_new_address_and_the_old_one_keeps_working(own_static):
    client, source = own_static
    before = stylesheet_of(get(client, "/no-such-page"))
    stylesheet = source / "css" / "app.css"
    stylesheet.write_text(stylesheet.read_text() + "\n.release-two { color: teal; }\n")
    after = stylesheet_of(get(client, "/no-such-page"))
    assert after != before
    assert ".release-two" in get(client, after).get_data(as_text=True)
    old = get(client, before)
    assert old.headers["Cache-Control"] == IMMUTABLE
    assert ".release-two" not in old.get_data(as_text=True)


def test_a_changed_image_changes_the_stylesheet_that_uses_it(own_static):
    client, source = own_static
    before = stylesheet_of(get(client, "/no-such-page"))
    image = source / "img" / "arch-tile.svg"
    image.write_text(image.read_text().replace("</svg>", "<!-- redrawn --></svg>"))
    after = stylesheet_of(get(client, "/no-such-page"))
    assert after != before
    new_image = re.search(
        r'url\("\.\./(img/arch-tile\.[0-9a-f]{12}\.svg)"\)', get(client, after).get_data(as_text=True)
    )
    assert "redrawn" in get(client, "/static/" + new_image[1]).get_data(as_text=True)


def test_a_production_process_serves_what_it_built_at_start(tmp_path):
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/unused.db",
            "STATIC_BUILD_DIR": str(tmp_path / "build"),
            "STATIC_AUTOREFRESH": False,
        }
    )
    client = application.test_client()
    url = stylesheet_of(get(client, "/no-such-page"))
    response = get(client, url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers["Content-Encoding"] == "gzip"
    assert b".site-header" in gzip.decompress(response.get_data())
