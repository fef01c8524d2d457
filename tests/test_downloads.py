"""File names come in with uploads and go out in Content-Disposition: never with a line break in between."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from courseplatform.downloads import attachment, clean_filename
from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.models import LessonKind, MediaAsset, MediaStatus

from .factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory
from .helpers import csrf_token_from

PDF = b"%PDF-1.4\n% a handout\n%%EOF\n"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Grief worksheet.pdf", "Grief worksheet.pdf"),
        ("handout\r\nX-Injected: 1.pdf", "handout X-Injected: 1.pdf"),
        ("tab\there.pdf", "tab here.pdf"),
        ("C:\\Users\\ana\\notes.pdf", "notes.pdf"),
        ("../../etc/passwd", "passwd"),
        ("invoice\u202efdp.exe", "invoice fdp.exe"),
        ("\x00", "file"),
        ("n" * 300 + ".pdf", "n" * 251 + ".pdf"),
    ],
)
def test_names_keep_what_a_person_reads_and_lose_what_a_header_or_a_path_would_act_on(given, kept):
    assert clean_filename(given) == kept


@pytest.mark.parametrize("name", ["handout\r\nSet-Cookie: x=1.pdf", "Übung – Woche 1.pdf", 'say "hi".pdf', ""])
def test_the_attachment_header_never_carries_a_line_break_or_a_bare_quote(name):
    header = attachment(name)

    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="')
    assert header.split('filename="', 1)[1].split('"', 1)[0].isascii()


def test_a_name_stored_with_a_line_break_downloads_under_a_safe_name(client, web):
    owner = CreatorProfileFactory(user__email="maya@example.org")
    key = f"uploads/{owner.user_id}/downloads/handout.pdf"
    get_storage().save(key, io.BytesIO(PDF), "application/pdf")
    asset = MediaAsset(
        owner_id=owner.user_id,
        storage_key=key,
        original_name="handout\r\nX-Injected: 1.pdf",  # stored before names were cleaned at upload
        content_type="application/pdf",
        size_bytes=len(PDF),
        status=MediaStatus.READY,
    )
    offering = OfferingFactory(creator=owner)
    lesson = LessonFactory(section=SectionFactory(offering=offering), kind=LessonKind.DOWNLOAD, media_asset=asset)
    db.session.commit()
    web.login("maya@example.org", PASSWORD)

    link = client.get(f"/learn/{offering.slug}/lessons/{lesson.id}/media?download=1")
    assert link.status_code == 302
    with client.get(link.headers["Location"]) as download:
        assert (download.status_code, download.get_data()) == (200, PDF)
        assert "X-Injected" not in download.headers
        assert "handout X-Injected: 1.pdf" in download.headers["Content-Disposition"]


def test_an_uploaded_name_loses_its_control_characters(client, web):
    owner = CreatorProfileFactory(user__email="maya@example.org")
    db.session.commit()
    web.login("maya@example.org", PASSWORD)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    body = {"filename": "notes\r\n\t.pdf", "content_type": "application/pdf", "size": 100, "purpose": "document"}

    response = client.post(
        "/studio/uploads", data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": token}
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    name = db.session.scalar(sa.select(MediaAsset.original_name).where(MediaAsset.owner_id == owner.user_id))
    assert name == "notes .pdf"
