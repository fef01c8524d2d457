"""A stored file goes back to the browser as the type its upload check recorded, never one its
name suggests: audio, video, the allowed images and captions inline, everything else as an
attachment with a safe name, with `nosniff` and, on the app's own media route, a CSP sandbox."""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from werkzeug.datastructures import FileStorage
from werkzeug.http import parse_options_header

from courseplatform.extensions import db
from courseplatform.media.services import UploadError, store_upload
from courseplatform.models import LessonKind, MediaAsset, MediaStatus

from ..factories import LessonFactory, OfferingFactory, SectionFactory
from ..studio.test_offerings import tiny_png

VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\n<script>alert(document.domain)</script>\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
COVER_RE = re.compile(r'<img class="course-cover-image" src="([^"]+)"')


def uploaded(api, backend, name: str, body: bytes, content_type: str, purpose: str) -> MediaAsset:
    """Upload a file as the studio's uploader does (start, send to storage, confirm); the asset."""
    answer = api.start(filename=name, content_type=content_type, size=len(body), purpose=purpose)
    files = {"file": (name, body, content_type)}
    with requests.post(backend.absolute(answer["url"]), data=answer["fields"], files=files, timeout=30) as sent:
        assert sent.status_code in (200, 201, 204), sent.text
    status, confirmed, _ = api.post(f"/studio/uploads/{answer['asset_id']}/confirm")
    assert (status, confirmed["status"]) == (200, "ready"), confirmed
    db.session.expire_all()
    return db.session.get(MediaAsset, answer["asset_id"])


def lesson_with(creator, asset: MediaAsset, which: str):
    """A lesson of the creator's offering that uses the asset as its file or its captions."""
    offering = OfferingFactory(creator=creator)
    kind = LessonKind.DOWNLOAD if asset.content_type == "application/pdf" else LessonKind.VIDEO
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=kind)
    if which == "captions":
        lesson.captions_asset = asset
    else:
        lesson.media_asset = asset
    db.session.flush()
    return f"/learn/{offering.slug}/lessons/{lesson.id}/{which}"


def follow(client, backend, url: str) -> tuple[str, requests.Response]:
    """Ask the app for the file's link, as the player or a download button does, and fetch it."""
    with client.get(url) as answer:
        assert answer.status_code == 302, (url, answer.status_code)
        location = answer.headers["Location"]
    with requests.get(backend.absolute(location), timeout=30) as fetched:
        return location, fetched


def disposition_of(response: requests.Response) -> tuple[str, dict]:
    return parse_options_header(response.headers.get("Content-Disposition", ""))


@pytest.mark.parametrize(
    ("name", "body", "content_type", "purpose", "which", "inline"),
    [
        ("notes.js", VTT, "text/vtt", "captions", "captions", True),
        ("worksheet.html", PDF, "application/pdf", "document", "media", False),
        ("clip.svg", None, "video/mp4", "video", "media", True),
    ],
    ids=["captions-named-js", "pdf-named-html", "video-named-svg"],
)
def test_a_file_is_served_as_the_type_its_check_recorded_whatever_its_name(
    api, backend, client, creator, demo_video, name, body, content_type, purpose, which, inline
):
    asset = uploaded(api, backend, name, body or demo_video, content_type, purpose)
    location, served = follow(client, backend, lesson_with(creator, asset, which))

    assert served.status_code == 200
    assert served.content == (body or demo_video)
    assert parse_options_header(served.headers["Content-Type"])[0] == content_type
    disposition, _ = disposition_of(served)
    assert disposition == ("inline" if inline else "attachment")
    if backend.name == "local":
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        policy = served.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
    else:
        # A presigned GET can't add nosniff; it names the type and disposition the bucket must answer with.
        query = parse_qs(urlsplit(location).query)
        assert query["response-content-type"] == [content_type]
        assert query["response-content-disposition"][0].startswith("inline" if inline else "attachment")


# A PDF's first bytes followed by a page: a valid-enough PDF, and a web page once saved as .html.
PHISHING_PDF = PDF + b"<html><form action='https://evil.example/'>Sign in again</form><script>alert(1)</script>\n"


@pytest.mark.parametrize(
    ("name", "body", "content_type", "purpose", "which", "saved_as"),
    [
        ("Week 1 handout.html", PHISHING_PDF, "application/pdf", "document", "media", "Week 1 handout.html.pdf"),
        ("notes.js", VTT, "text/vtt", "captions", "captions", "notes.js.vtt"),
        ("Worksheet.PDF", PDF, "application/pdf", "document", "media", "Worksheet.PDF"),
        ("Session one", None, "video/mp4", "video", "media", "Session one.mp4"),
    ],
    ids=["pdf-named-html", "captions-named-js", "pdf-keeps-its-name", "video-without-extension"],
)
def test_a_saved_file_ends_in_an_extension_of_the_type_its_check_recorded(
    api, backend, client, creator, demo_video, name, body, content_type, purpose, which, saved_as
):
    """Browsers save a file under the name the link gives: a checked PDF called "handout.html" would
    land in Downloads as a web page that a double-click opens, script and all."""
    asset = uploaded(api, backend, name, body or demo_video, content_type, purpose)
    lesson = lesson_with(creator, asset, which)

    for link in (lesson, f"{lesson}?download=1"):
        _, served = follow(client, backend, link)
        assert served.status_code == 200
        assert disposition_of(served)[1]["filename"] == saved_as, link


@pytest.mark.parametrize(
    "name",
    ['Week 1 "final"\r\nSet-Cookie: session=stolen/../..\\notes.pdf', "Übung – Woche\u202e1.pdf"],
    ids=["crlf-quotes-slashes", "unicode-and-bidi-override"],
)
def test_a_download_is_named_safely_whatever_the_file_is_called(api, backend, client, creator, name):
    asset = uploaded(api, backend, name, PDF, "application/pdf", "document")

    _, served = follow(client, backend, lesson_with(creator, asset, "media") + "?download=1")

    assert served.status_code == 200
    header = served.headers["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    assert "Set-Cookie" not in served.headers
    assert disposition_of(served)[0] == "attachment"
    plain = re.search(r'filename="([^"]*)"', header).group(1)
    assert plain.isascii() and plain.endswith(".pdf")
    assert not set(plain) & set('"/\\\r\n')
    extended = re.search(r"filename\*=UTF-8''([^;]+)", header)  # only when the plain name isn't the whole name
    decoded = unquote(extended.group(1)) if extended else plain
    assert decoded.endswith(".pdf")
    assert not set(decoded) & set('"/\\\r\n\u202e')


def test_a_cover_is_served_as_the_image_its_bytes_show_not_the_type_the_browser_claimed(api, backend, client, creator):
    cover = uploaded(api, backend, "cover.jpg", tiny_png(), "image/jpeg", "image")
    assert cover.content_type == "image/png"
    offering = OfferingFactory(creator=creator, cover_asset=cover)

    with client.get(f"/courses/{offering.slug}") as page:
        src = COVER_RE.search(page.get_data(as_text=True)).group(1)
    with requests.get(backend.absolute(src.replace("&amp;", "&")), timeout=30) as served:
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/png"
        assert disposition_of(served)[0] == "inline"
    if backend.name == "s3":
        assert backend.storage.head(cover.storage_key).content_type == "image/png"


def test_svg_is_refused_by_every_upload_path(api, backend, creator):
    status, answer, _ = api.post(
        "/studio/uploads",
        {"filename": "logo.svg", "content_type": "image/svg+xml", "size": len(SVG), "purpose": "image"},
    )
    assert status == 400 and "isn't a PNG, JPEG or WebP image" in answer["error"]

    started = api.start(filename="logo.png", content_type="image/png", size=len(SVG), purpose="image")
    files = {"file": ("logo.png", SVG, "image/png")}
    with requests.post(backend.absolute(started["url"]), data=started["fields"], files=files, timeout=30):
        pass
    status, confirmed, _ = api.post(f"/studio/uploads/{started['asset_id']}/confirm")
    assert (status, confirmed["status"]) == (200, "failed")
    assert "its content is not a type Aqueduct accepts" in confirmed["reason"]

    if backend.name == "local":
        with pytest.raises(UploadError, match="isn't a PNG, JPEG or WebP image"):
            store_upload(creator.user, FileStorage(io.BytesIO(SVG), filename="logo.svg"), {"image"})
    ready = db.session.query(MediaAsset).filter_by(owner_id=creator.user_id, status=MediaStatus.READY).count()
    assert ready == 0


def test_captions_are_only_ever_served_as_webvtt(client, creator):
    """A lesson whose captions field somehow names another kind of file gives nothing as captions."""
    offering = OfferingFactory(creator=creator)
    handout = MediaAsset(
        owner_id=creator.user_id,
        storage_key=f"uploads/{creator.user_id}/x/notes.pdf",
        original_name="notes.pdf",
        content_type="application/pdf",
        size_bytes=len(PDF),
        status=MediaStatus.READY,
    )
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.VIDEO, captions_asset=handout)

    with client.get(f"/learn/{offering.slug}/lessons/{lesson.id}/captions") as answer:
        assert answer.status_code == 404
