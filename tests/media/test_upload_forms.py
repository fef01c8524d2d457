"""Forms that take files the browser already sent straight to storage: the lesson form
(video, handout, captions) and the offering form (cover image), on both backends."""

from __future__ import annotations

from html import unescape

import pytest
import requests

from courseplatform.extensions import db
from courseplatform.models import Lesson, LessonKind, MediaAsset, MediaStatus, Offering

from ..factories import PASSWORD, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..helpers import csrf_token_from
from ..studio.test_offerings import DETAILS, tiny_png

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nWelcome.\n"


class Browser:
    """What the uploader script does for one file: start, send it to storage, confirm."""

    def __init__(self, client, backend, offering: Offering) -> None:
        self.client = client
        self.backend = backend
        self.offering = offering

    def token(self) -> str:
        with self.client.get("/account") as page:
            return csrf_token_from(page.get_data(as_text=True))

    def upload(self, name: str, body: bytes, content_type: str, purpose: str) -> dict:
        headers = {"X-CSRFToken": self.token()}
        start = {"filename": name, "content_type": content_type, "size": len(body), "purpose": purpose}
        with self.client.post("/studio/uploads", json={**start, "course_id": self.offering.id}, headers=headers) as r:
            assert r.status_code == 201, r.get_json()
            grant = r.get_json()
        files = {"file": (name, body, content_type)}
        with requests.post(self.backend.absolute(grant["url"]), data=grant["fields"], files=files, timeout=30) as r:
            assert r.status_code in (200, 201, 204), r.text
        with self.client.post(f"/studio/uploads/{grant['asset_id']}/confirm", headers=headers) as r:
            return r.get_json()


@pytest.fixture
def offering(web):
    offering = OfferingFactory(title="Grounding Skills")
    web.login(offering.creator.user.email, PASSWORD)
    return offering


@pytest.fixture
def browser(client, backend, offering) -> Browser:
    return Browser(client, backend, offering)


def lesson_form(**changes) -> dict:
    data = {"title": "Welcome", "kind": "video", "body": "", "available_after_days": "0", "live_session": ""}
    return {**data, **changes}


def reload(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def test_a_video_and_its_captions_uploaded_straight_to_storage_are_saved_with_the_lesson(
    web, browser, offering, demo_video
):
    section = SectionFactory(offering=offering)
    video = browser.upload("welcome.mp4", demo_video, "video/mp4", "video")
    captions = browser.upload("welcome.vtt", VTT, "", "captions")
    assert (video["status"], captions["status"]) == ("ready", "ready")

    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    page = web.submit(
        url, lesson_form(media_asset_id=str(video["asset_id"]), captions_asset_id=str(captions["asset_id"]))
    )

    assert "Lesson “Welcome” added." in page.get_data(as_text=True)
    lesson = db.session.query(Lesson).filter_by(section_id=section.id).one()
    assert (lesson.media_asset_id, lesson.captions_asset_id) == (video["asset_id"], captions["asset_id"])
    edit = web.client.get(f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit").get_data(as_text=True)
    assert "Current file: <strong>welcome.mp4</strong>" in edit
    assert "Current captions: <strong>welcome.vtt</strong>" in edit


def test_replacing_a_lesson_video_deletes_the_old_object_after_saving(web, browser, backend, offering, demo_video):
    section = SectionFactory(offering=offering)
    first = browser.upload("first.mp4", demo_video, "video/mp4", "video")
    lesson = LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=reload(MediaAsset, first["asset_id"]))
    old_key = lesson.media_asset.storage_key
    second = browser.upload("second.mp4", demo_video, "video/mp4", "video")

    url = f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit"
    web.submit(url, lesson_form(media_asset_id=str(second["asset_id"])))

    assert reload(Lesson, lesson.id).media_asset_id == second["asset_id"]
    assert reload(MediaAsset, first["asset_id"]) is None
    assert backend.storage.head(old_key) is None


def test_a_handout_in_a_video_lesson_is_refused_and_kept_for_a_download_lesson(web, browser, offering):
    section = SectionFactory(offering=offering)
    handout = browser.upload("worksheet.pdf", PDF, "application/pdf", "document")
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"

    html = unescape(web.submit(url, lesson_form(media_asset_id=str(handout["asset_id"]))).get_data(as_text=True))
    assert "“worksheet.pdf” isn't an MP3 or M4A audio file or an MP4, MOV or WebM video." in html
    assert db.session.query(Lesson).filter_by(section_id=section.id).count() == 0
    # The upload is kept, so switching the lesson to a download saves it without a second upload.
    assert reload(MediaAsset, handout["asset_id"]).status is MediaStatus.READY

    web.submit(url, lesson_form(kind="download", title="Worksheet", media_asset_id=str(handout["asset_id"])))
    assert db.session.query(Lesson).filter_by(section_id=section.id).one().media_asset_id == handout["asset_id"]


def test_a_form_coming_back_with_a_message_still_shows_the_uploaded_file(web, browser, offering, demo_video):
    section = SectionFactory(offering=offering)
    video = browser.upload("welcome.mp4", demo_video, "video/mp4", "video")
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"

    html = unescape(
        web.submit(url, lesson_form(title="", media_asset_id=str(video["asset_id"]))).get_data(as_text=True)
    )

    assert "Give the lesson a title." in html
    assert f'name="media_asset_id" type="hidden" value="{video["asset_id"]}"' in html
    assert "welcome.mp4 · 215 KB" in html and "Uploaded and checked. Save to use it." in html


def test_nobody_can_attach_someone_elses_upload(web, client, browser, backend, offering, demo_video):
    theirs = browser.upload("theirs.mp4", demo_video, "video/mp4", "video")
    web.logout()
    other = OfferingFactory()
    section = SectionFactory(offering=other)
    web.login(other.creator.user.email, PASSWORD)
    url = f"/studio/courses/{other.id}/sections/{section.id}/lessons/new"

    for value in (str(theirs["asset_id"]), "999999", "not-a-number"):
        html = unescape(web.submit(url, lesson_form(media_asset_id=value)).get_data(as_text=True))
        assert "That upload can't be found any more. Please choose the file again." in html
    assert db.session.query(Lesson).filter_by(section_id=section.id).count() == 0


def test_an_admin_uploading_for_a_creator_uses_the_creators_storage(web, client, backend, offering, demo_video):
    web.logout()
    admin = UserFactory(is_admin=True)
    web.login(admin.email, PASSWORD)
    video = Browser(client, backend, offering).upload("welcome.mp4", demo_video, "video/mp4", "video")

    assert reload(MediaAsset, video["asset_id"]).owner_id == offering.creator.user_id
    section = SectionFactory(offering=offering)
    web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new",
        lesson_form(media_asset_id=str(video["asset_id"])),
    )
    assert db.session.query(Lesson).filter_by(section_id=section.id).one().media_asset_id == video["asset_id"]


def test_a_cover_image_uploaded_straight_to_storage_replaces_the_old_one(web, browser, backend, offering):
    first = browser.upload("first.png", tiny_png(), "image/png", "image")
    url = f"/studio/courses/{offering.id}/edit"
    web.submit(url, {**DETAILS, "slug": offering.slug, "cover_asset_id": str(first["asset_id"])})
    assert reload(Offering, offering.id).cover_asset_id == first["asset_id"]
    old_key = reload(MediaAsset, first["asset_id"]).storage_key

    second = browser.upload("second.png", tiny_png(), "image/png", "image")
    page = web.submit(url, {**DETAILS, "slug": offering.slug, "cover_asset_id": str(second["asset_id"])})

    assert "Your changes are saved." in page.get_data(as_text=True)
    assert reload(Offering, offering.id).cover_asset_id == second["asset_id"]
    assert reload(MediaAsset, first["asset_id"]) is None
    assert backend.storage.head(old_key) is None


@pytest.mark.parametrize("tampered", ["\u00b2", "\u0661", "9" * 19, "2147483648"])
def test_a_tampered_upload_id_is_refused_with_the_usual_message(web, offering, tampered):
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    html = unescape(web.submit(url, lesson_form(media_asset_id=tampered)).get_data(as_text=True))
    assert "That upload can't be found any more. Please choose the file again." in html
    assert db.session.query(Lesson).filter_by(section_id=section.id).count() == 0

    edit = f"/studio/courses/{offering.id}/edit"
    page = web.submit(edit, {**DETAILS, "slug": offering.slug, "title": "Renamed", "cover_asset_id": tampered})
    assert page.status_code == 200
    assert "That upload can't be found any more. Please choose the file again." in unescape(page.get_data(as_text=True))
    assert reload(Offering, offering.id).title == "Grounding Skills"
