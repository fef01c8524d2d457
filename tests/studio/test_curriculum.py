"""A creator builds an offering's outline: sections, lessons of every kind, order, drip, preview, files."""

from __future__ import annotations

import io
import itertools
import re
from datetime import timedelta
from pathlib import Path

import pytest

from courseplatform.extensions import db
from courseplatform.integrations.storage import get_storage
from courseplatform.media.services import store_upload
from courseplatform.models import (
    Lesson,
    LessonKind,
    LiveSession,
    MediaAsset,
    OfferingKind,
    QuizChoice,
    QuizQuestion,
    Section,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory

DEMO_VIDEO = Path(__file__).resolve().parents[2] / "courseplatform" / "demo" / "welcome.mp4"
DEMO_PDF = Path(__file__).resolve().parents[2] / "courseplatform" / "demo" / "grounding-worksheet.pdf"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return OfferingFactory(creator=creator, title="Grounding Skills")


def outline(offering) -> list[tuple[str, list[str]]]:
    """(section title, [lesson titles]) in order, read fresh from the database."""
    db.session.expire_all()
    sections = db.session.scalars(db.select(Section).filter_by(offering_id=offering.id).order_by(Section.position))
    result = []
    for section in sections:
        lessons = db.session.scalars(db.select(Lesson).filter_by(section_id=section.id).order_by(Lesson.position))
        result.append((section.title, [lesson.title for lesson in lessons]))
    return result


def positions_are_contiguous(offering) -> bool:
    db.session.expire_all()
    sections = db.session.scalars(
        db.select(Section).filter_by(offering_id=offering.id).order_by(Section.position)
    ).all()
    if [s.position for s in sections] != list(range(len(sections))):
        return False
    for section in sections:
        lessons = db.session.scalars(db.select(Lesson).filter_by(section_id=section.id).order_by(Lesson.position))
        if [lesson.position for lesson in lessons] != list(range(len(section.lessons))):
            return False
    return True


def csrf_meta(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "the curriculum page has no CSRF meta tag"
    return match.group(1)


def lesson_data(**changes) -> dict:
    data = {
        "title": "A lesson",
        "kind": "text",
        "body": "",
        "available_after_days": "0",
        "duration_minutes": "",
        "live_session": "",
    }
    data.update(changes)
    return data


# ---------------------------------------------------------------------------
# The page


def test_empty_curriculum_says_what_to_do_first(client, offering):
    html = client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True)
    assert "Start with your first section" in html
    assert "Add section" in html
    assert 'name="csrf-token"' in html


def test_curriculum_lists_sections_and_lessons_in_order_with_their_details(client, offering):
    first = SectionFactory(offering=offering, title="Getting started", position=1)
    second = SectionFactory(offering=offering, title="Practice", position=0)
    LessonFactory(section=first, title="Welcome", kind=LessonKind.TEXT, position=1, is_preview=True)
    LessonFactory(section=first, title="Why grounding works", kind=LessonKind.VIDEO, position=0, duration_seconds=360)
    LessonFactory(section=second, title="Daily practice", kind=LessonKind.DOWNLOAD, available_after_days=7)
    html = client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True)

    assert html.index("Practice") < html.index("Getting started")
    assert html.index("Why grounding works") < html.index("Welcome")
    assert "Free preview" in html
    assert "Opens 7 days after enrolling" in html
    assert "6 min" in html
    assert html.count("No file yet") == 2, "the video and the download have no file"
    assert "2 lessons need something" in html


def test_add_section_then_lessons_of_each_kind(web, client, offering):
    response = web.submit(
        f"/studio/courses/{offering.id}/sections",
        {"title": "Getting started"},
        form_url=f"/studio/courses/{offering.id}/curriculum",
    )
    assert "Section “Getting started” added" in response.get_data(as_text=True)
    section = db.session.scalar(db.select(Section).filter_by(offering_id=offering.id))
    new_url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"

    web.submit(new_url, lesson_data(title="Read me", kind="text", body="# Hello"))
    web.submit(new_url, lesson_data(title="Watch me", kind="video"))
    web.submit(new_url, lesson_data(title="Print me", kind="download"))
    response = web.submit(new_url, lesson_data(title="Check yourself", kind="quiz"))
    assert response.request.path.endswith("/quiz"), "a new quiz goes straight to its questions"

    assert outline(offering) == [("Getting started", ["Read me", "Watch me", "Print me", "Check yourself"])]
    kinds = db.session.scalars(db.select(Lesson.kind).filter_by(section_id=section.id).order_by(Lesson.position))
    assert list(kinds) == [LessonKind.TEXT, LessonKind.VIDEO, LessonKind.DOWNLOAD, LessonKind.QUIZ]
    assert positions_are_contiguous(offering)


def test_live_lessons_are_offered_only_to_live_workshops_and_pick_their_session(web, client, creator):
    offering = OfferingFactory(creator=creator, kind=OfferingKind.COURSE)
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    assert 'value="live"' not in client.get(url).get_data(as_text=True)
    html = web.submit(url, lesson_data(title="Live", kind="live")).get_data(as_text=True)
    assert "Not a valid choice" in html

    workshop = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP)
    live_section = SectionFactory(offering=workshop)
    session = LiveSession(offering=workshop, starts_at=utcnow() + timedelta(days=3), time_zone="America/New_York")
    other = LiveSession(offering=offering, starts_at=utcnow() + timedelta(days=3), time_zone="UTC")
    db.session.add_all([session, other])
    db.session.flush()
    url = f"/studio/courses/{workshop.id}/sections/{live_section.id}/lessons/new"
    html = web.submit(url, lesson_data(title="Evening 1", kind="live", live_session=str(other.id))).get_data(
        as_text=True
    )
    assert "Not a valid choice" in html, "another offering's session can't be chosen"
    web.submit(url, lesson_data(title="Evening 1", kind="live", live_session=str(session.id)))
    lesson = db.session.scalar(db.select(Lesson).filter_by(section_id=live_section.id))
    assert lesson.kind is LessonKind.LIVE and lesson.live_session_id == session.id


def test_drip_preview_and_duration_are_saved(web, client, offering):
    section = SectionFactory(offering=offering)
    lesson = LessonFactory(section=section, title="Old title")
    url = f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit"
    web.submit(
        url,
        lesson_data(title="New title", is_preview="y", available_after_days="14", duration_minutes="12", body="Notes"),
    )
    db.session.refresh(lesson)
    assert (lesson.title, lesson.is_preview, lesson.available_after_days) == ("New title", True, 14)
    assert lesson.duration_seconds == 720
    assert lesson.body == "Notes"
    html = client.get(url).get_data(as_text=True)
    assert 'value="12"' in html and 'value="14"' in html, "the form shows what was saved"

    web.submit(url, lesson_data(title="New title", available_after_days="0"))
    db.session.refresh(lesson)
    assert lesson.is_preview is False and lesson.available_after_days == 0 and lesson.duration_seconds is None


def test_bad_lesson_input_has_clear_messages_and_changes_nothing(web, offering):
    section = SectionFactory(offering=offering)
    lesson = LessonFactory(section=section, title="Keep me", available_after_days=3)
    url = f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit"
    cases = [
        ({"title": ""}, "Give the lesson a title."),
        ({"available_after_days": "-1"}, "Enter a number of days from 0 to 3650."),
        ({"available_after_days": ""}, "Enter 0 to open it straight away."),
        ({"duration_minutes": "0"}, "Between 1 and 1440 minutes."),
        ({"kind": "podcast"}, "Not a valid choice"),
    ]
    for change, message in cases:
        html = web.submit(url, lesson_data(**{"title": "Changed", **change})).get_data(as_text=True)
        assert message in html, change
    db.session.refresh(lesson)
    assert lesson.title == "Keep me" and lesson.available_after_days == 3


def test_ids_from_another_offering_are_not_found(client, offering):
    stranger_lesson = LessonFactory()
    stranger_section = stranger_lesson.section
    assert client.get(f"/studio/courses/{offering.id}/lessons/{stranger_lesson.id}/edit").status_code == 404
    assert client.get(f"/studio/courses/{offering.id}/sections/{stranger_section.id}/lessons/new").status_code == 404


# ---------------------------------------------------------------------------
# Files


def test_video_upload_of_the_demo_mp4_is_accepted_and_named_on_the_form(web, client, offering, app):
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    data = lesson_data(title="Welcome", kind="video", media_file=upload(DEMO_VIDEO.read_bytes(), "welcome.mp4"))
    web.submit(url, data)
    lesson = db.session.scalar(db.select(Lesson).filter_by(section_id=section.id))
    assert lesson.media_asset is not None
    assert lesson.media_asset.content_type == "video/mp4"
    assert lesson.media_asset.original_name == "welcome.mp4"
    assert lesson.media_asset.owner_id == offering.creator.user_id
    assert get_storage().exists(lesson.media_asset.storage_key)

    form = client.get(f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit").get_data(as_text=True)
    assert "Current file: <strong>welcome.mp4</strong>" in form
    page = client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True)
    assert "No file yet" not in page and "welcome.mp4" in page


@pytest.mark.parametrize(
    ("payload", "name"),
    [(b"MZ\x90\x00" + b"\x00" * 64, "setup.exe"), (PNG_BYTES, "holiday.mp4")],
)
def test_files_that_are_not_video_are_refused_with_a_message(web, offering, payload, name):
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    before = db.session.scalar(db.select(db.func.count(MediaAsset.id)))
    html = web.submit(url, lesson_data(title="Bad", kind="video", media_file=upload(payload, name))).get_data(
        as_text=True
    )
    assert f"“{name}” isn&#39;t an MP3 or M4A audio file or an MP4, MOV or WebM video" in html
    assert db.session.scalar(db.select(db.func.count(Lesson.id)).filter_by(section_id=section.id)) == 0
    assert db.session.scalar(db.select(db.func.count(MediaAsset.id))) == before


def test_download_takes_a_pdf_and_video_captions_take_vtt(web, offering):
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    web.submit(url, lesson_data(title="Worksheet", kind="download", media_file=upload(DEMO_PDF.read_bytes(), "w.pdf")))
    html = web.submit(
        url,
        lesson_data(
            title="Film",
            kind="video",
            media_file=upload(DEMO_VIDEO.read_bytes(), "film.mp4"),
            captions_file=upload(b"not captions", "film.vtt"),
        ),
    ).get_data(as_text=True)
    assert "“film.vtt” isn&#39;t a WebVTT (.vtt) captions file" in html
    assert outline(offering) == [(section.title, ["Worksheet"])], "a bad captions file keeps the video out too"

    web.submit(
        url,
        lesson_data(
            title="Film",
            kind="video",
            media_file=upload(DEMO_VIDEO.read_bytes(), "film.mp4"),
            captions_file=upload(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n", "film.vtt"),
        ),
    )
    film = db.session.scalar(db.select(Lesson).filter_by(section_id=section.id, title="Film"))
    assert film.captions_asset.content_type == "text/vtt"
    worksheet = db.session.scalar(db.select(Lesson).filter_by(section_id=section.id, title="Worksheet"))
    assert worksheet.media_asset.content_type == "application/pdf"


def test_replacing_a_file_removes_the_old_one(web, offering):
    section = SectionFactory(offering=offering)
    url = f"/studio/courses/{offering.id}/sections/{section.id}/lessons/new"
    web.submit(url, lesson_data(title="Film", kind="video", media_file=upload(DEMO_VIDEO.read_bytes(), "a.mp4")))
    lesson = db.session.scalar(db.select(Lesson).filter_by(section_id=section.id))
    old_key = lesson.media_asset.storage_key
    web.submit(
        f"/studio/courses/{offering.id}/lessons/{lesson.id}/edit",
        lesson_data(title="Film", kind="video", media_file=upload(DEMO_VIDEO.read_bytes(), "b.mp4")),
    )
    db.session.expire_all()
    assert lesson.media_asset.original_name == "b.mp4"
    assert not get_storage().exists(old_key)
    assert db.session.scalar(db.select(MediaAsset).filter_by(storage_key=old_key)) is None


def test_deleting_a_lesson_removes_its_file_unless_another_lesson_uses_it(web, client, offering):
    section = SectionFactory(offering=offering, position=0)
    with DEMO_VIDEO.open("rb") as handle:
        from werkzeug.datastructures import FileStorage

        shared = store_upload(offering.creator.user, FileStorage(handle, "shared.mp4"), {"video"})
    with DEMO_VIDEO.open("rb") as handle:
        own = store_upload(offering.creator.user, FileStorage(handle, "own.mp4"), {"video"})
    first = LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=shared, position=0)
    LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=shared, position=1)
    third = LessonFactory(section=section, kind=LessonKind.VIDEO, media_asset=own, position=2)
    storage = get_storage()
    page = f"/studio/courses/{offering.id}/curriculum"

    html = client.get(page).get_data(as_text=True)
    assert f"Delete “{first.title}”?" in html, "deleting asks first"
    web.submit(f"/studio/courses/{offering.id}/lessons/{first.id}/delete", {}, form_url=page)
    web.submit(f"/studio/courses/{offering.id}/lessons/{third.id}/delete", {}, form_url=page)

    assert storage.exists(shared.storage_key), "the other lesson still plays it"
    assert not storage.exists(own.storage_key)
    assert len(outline(offering)[0][1]) == 1
    assert positions_are_contiguous(offering)


def test_deleting_a_section_deletes_its_lessons_and_closes_the_gap(web, offering):
    sections = [SectionFactory(offering=offering, title=t, position=i) for i, t in enumerate(["A", "B", "C"])]
    LessonFactory(section=sections[1], title="b1")
    page = f"/studio/courses/{offering.id}/curriculum"
    response = web.submit(f"/studio/courses/{offering.id}/sections/{sections[1].id}/delete", {}, form_url=page)
    assert "Section “B” and its lessons were deleted." in response.get_data(as_text=True)
    assert outline(offering) == [("A", []), ("C", [])]
    assert positions_are_contiguous(offering)


@pytest.mark.parametrize("deleted", ["section", "lesson"])
def test_deleting_a_quiz_with_its_section_or_alone_deletes_its_questions_and_choices(web, offering, deleted):
    section = SectionFactory(offering=offering, title="Checks")
    quiz = LessonFactory(section=section, kind=LessonKind.QUIZ, title="Check")
    question = QuizQuestion(lesson=quiz, prompt="Which one?", position=0)
    question.choices = [QuizChoice(text="This", is_correct=True, position=0), QuizChoice(text="That", position=1)]
    db.session.add(question)
    db.session.commit()
    page = f"/studio/courses/{offering.id}/curriculum"
    url, said = {
        "section": (f"/studio/courses/{offering.id}/sections/{section.id}/delete", "Section “Checks” and its lessons"),
        "lesson": (f"/studio/courses/{offering.id}/lessons/{quiz.id}/delete", "Lesson “Check” was deleted."),
    }[deleted]

    response = web.submit(url, {}, form_url=page)

    assert response.status_code == 200
    assert said in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(QuizChoice.id))) == 0
    assert db.session.scalar(db.select(db.func.count(QuizQuestion.id))) == 0


def test_renaming_a_section(web, offering):
    section = SectionFactory(offering=offering, title="Old")
    page = f"/studio/courses/{offering.id}/curriculum"
    web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/rename", {f"s{section.id}-title": "New"}, form_url=page
    )
    assert outline(offering) == [("New", [])]
    html = web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/rename", {f"s{section.id}-title": " "}, form_url=page
    ).get_data(as_text=True)
    assert "A section needs a title" in html
    assert outline(offering) == [("New", [])]


def test_a_section_without_a_title_is_refused(web, offering):
    page = f"/studio/courses/{offering.id}/curriculum"
    html = web.submit(f"/studio/courses/{offering.id}/sections", {"title": ""}, form_url=page).get_data(as_text=True)
    assert "Give the section a title." in html
    assert outline(offering) == []


# ---------------------------------------------------------------------------
# Order


def build_outline(offering):
    a = SectionFactory(offering=offering, title="A", position=0)
    b = SectionFactory(offering=offering, title="B", position=1)
    lessons = {
        "a1": LessonFactory(section=a, title="a1", position=0),
        "a2": LessonFactory(section=a, title="a2", position=1),
        "b1": LessonFactory(section=b, title="b1", position=0),
    }
    return a, b, lessons


def test_up_and_down_buttons_move_lessons_and_sections_without_javascript(web, offering):
    _, b, lessons = build_outline(offering)
    page = f"/studio/courses/{offering.id}/curriculum"

    def move(kind, item, direction):
        web.submit(f"/studio/courses/{offering.id}/{kind}/{item.id}/move", {"direction": direction}, form_url=page)

    move("lessons", lessons["a2"], "up")
    assert outline(offering) == [("A", ["a2", "a1"]), ("B", ["b1"])]
    move("lessons", lessons["a1"], "down")
    assert outline(offering) == [("A", ["a2"]), ("B", ["a1", "b1"])], "past the end it joins the next section"
    move("lessons", lessons["a1"], "up")
    assert outline(offering) == [("A", ["a2", "a1"]), ("B", ["b1"])], "and back"
    move("lessons", lessons["a2"], "up")
    assert outline(offering) == [("A", ["a2", "a1"]), ("B", ["b1"])], "the very first lesson stays first"
    move("sections", b, "up")
    assert outline(offering) == [("B", ["b1"]), ("A", ["a2", "a1"])]
    move("sections", b, "up")
    assert outline(offering) == [("B", ["b1"]), ("A", ["a2", "a1"])]
    assert positions_are_contiguous(offering)


def test_drag_and_drop_order_is_saved_as_json(client, offering):
    a, b, lessons = build_outline(offering)
    token = csrf_meta(client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True))
    order = {
        "sections": [
            {"id": b.id, "lessons": [lessons["a2"].id, lessons["b1"].id]},
            {"id": a.id, "lessons": [lessons["a1"].id]},
        ]
    }
    response = client.post(
        f"/studio/courses/{offering.id}/curriculum/order", json=order, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"status": "saved"}
    assert outline(offering) == [("B", ["a2", "b1"]), ("A", ["a1"])]
    assert positions_are_contiguous(offering)


def test_an_order_naming_another_offerings_lesson_is_refused_and_changes_nothing(client, offering):
    a, b, lessons = build_outline(offering)
    stranger = LessonFactory(title="not yours")
    token = csrf_meta(client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True))
    url = f"/studio/courses/{offering.id}/curriculum/order"
    bad_orders = [
        {
            "sections": [
                {"id": a.id, "lessons": [lessons["a1"].id, stranger.id]},
                {"id": b.id, "lessons": [lessons["a2"].id, lessons["b1"].id]},
            ]
        },
        {
            "sections": [
                {"id": a.id, "lessons": [lessons["a1"].id, lessons["a2"].id, lessons["b1"].id]},
                {"id": stranger.section_id, "lessons": []},
            ]
        },
        {
            "sections": [
                {"id": a.id, "lessons": [lessons["a1"].id, lessons["a1"].id]},
                {"id": b.id, "lessons": [lessons["b1"].id]},
            ]
        },
        {"sections": [{"id": a.id, "lessons": [lessons["a1"].id]}]},
        {"sections": [{"id": "x", "lessons": []}]},
        ["not", "an", "object"],
    ]
    for order in bad_orders:
        response = client.post(url, json=order, headers={"X-CSRFToken": token})
        assert response.status_code == 400, order
        assert "error" in response.json
    assert outline(offering) == [("A", ["a1", "a2"]), ("B", ["b1"])]
    assert stranger.section_id != a.id


def test_the_order_endpoint_needs_the_csrf_token(client, offering):
    a, b, lessons = build_outline(offering)
    order = {
        "sections": [
            {"id": b.id, "lessons": [lessons["b1"].id]},
            {"id": a.id, "lessons": [lessons["a1"].id, lessons["a2"].id]},
        ]
    }
    response = client.post(f"/studio/courses/{offering.id}/curriculum/order", json=order)
    assert response.status_code == 400
    assert outline(offering) == [("A", ["a1", "a2"]), ("B", ["b1"])]


# ---------------------------------------------------------------------------
# Who may open what


def curriculum_routes(offering, section, lesson, quiz_lesson, question, session):
    """Every curriculum route as (method, url)."""
    c = f"/studio/courses/{offering.id}"
    return [
        ("GET", f"{c}/curriculum"),
        ("POST", f"{c}/curriculum/order"),
        ("POST", f"{c}/sections"),
        ("POST", f"{c}/sections/{section.id}/rename"),
        ("POST", f"{c}/sections/{section.id}/move"),
        ("POST", f"{c}/sections/{section.id}/delete"),
        ("GET", f"{c}/sections/{section.id}/lessons/new"),
        ("POST", f"{c}/sections/{section.id}/lessons/new"),
        ("GET", f"{c}/lessons/{lesson.id}/edit"),
        ("POST", f"{c}/lessons/{lesson.id}/edit"),
        ("POST", f"{c}/lessons/{lesson.id}/move"),
        ("POST", f"{c}/lessons/{lesson.id}/delete"),
        ("GET", f"{c}/lessons/{quiz_lesson.id}/quiz"),
        ("POST", f"{c}/lessons/{quiz_lesson.id}/quiz"),
        ("POST", f"{c}/lessons/{quiz_lesson.id}/quiz/questions"),
        ("GET", f"{c}/lessons/{quiz_lesson.id}/quiz/questions/{question.id}/edit"),
        ("POST", f"{c}/lessons/{quiz_lesson.id}/quiz/questions/{question.id}/edit"),
        ("POST", f"{c}/lessons/{quiz_lesson.id}/quiz/questions/{question.id}/move"),
        ("POST", f"{c}/lessons/{quiz_lesson.id}/quiz/questions/{question.id}/delete"),
        ("GET", f"{c}/sessions"),
        ("POST", f"{c}/sessions"),
        ("GET", f"{c}/sessions/{session.id}/edit"),
        ("POST", f"{c}/sessions/{session.id}/edit"),
        ("POST", f"{c}/sessions/{session.id}/delete"),
    ]


@pytest.fixture
def private_workshop():
    """Someone else's live workshop with one of everything."""
    offering = OfferingFactory(kind=OfferingKind.LIVE_WORKSHOP, title="Private workshop")
    section = SectionFactory(offering=offering, title="Private section")
    lesson = LessonFactory(section=section, title="Private lesson")
    quiz_lesson = LessonFactory(section=section, title="Private quiz", kind=LessonKind.QUIZ)
    question = QuizQuestion(lesson=quiz_lesson, prompt="Private question?")
    session = LiveSession(offering=offering, starts_at=utcnow() + timedelta(days=5), time_zone="UTC")
    db.session.add_all([question, session])
    db.session.flush()
    return offering, section, lesson, quiz_lesson, question, session


def snapshot(offering):
    db.session.expire_all()
    return (
        outline(offering),
        db.session.scalars(
            db.select(QuizQuestion.prompt).join(Lesson).join(Section).filter(Section.offering_id == offering.id)
        ).all(),
        db.session.scalars(db.select(LiveSession.starts_at).filter_by(offering_id=offering.id)).all(),
    )


@pytest.mark.parametrize("who", ["another creator", "learner", "anonymous"])
def test_every_route_is_closed_to_everyone_but_the_owner(who, web, client, private_workshop):
    offering = private_workshop[0]
    routes = curriculum_routes(*private_workshop)
    if who == "another creator":
        CreatorProfileFactory(user__email="other@example.org")
        web.login("other@example.org", PASSWORD)
        token_page = "/studio"
    elif who == "learner":
        UserFactory(email="learner@example.org")
        web.login("learner@example.org", PASSWORD)
        token_page = "/account"
    else:
        token_page = "/login"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(token_page).get_data(as_text=True))[1]
    before = snapshot(offering)

    for method, url in routes:
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(
                url,
                data={"csrf_token": token, "title": "Hacked", "direction": "up", "prompt": "Hacked?"},
                headers={"X-CSRFToken": token},
            )
        if who == "another creator":
            assert response.status_code == 404, (method, url, response.status_code)
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            expected = "/login" if who == "anonymous" else "/become-a-creator"
            assert response.headers["Location"].startswith(expected), (method, url)
        assert "Private lesson" not in response.get_data(as_text=True)
    assert snapshot(offering) == before


def test_an_admin_may_open_any_curriculum(web, client, private_workshop):
    UserFactory(email="ops@example.org", is_admin=True)
    web.login("ops@example.org", PASSWORD)
    offering = private_workshop[0]
    html = client.get(f"/studio/courses/{offering.id}/curriculum").get_data(as_text=True)
    assert "Private lesson" in html


def test_a_course_that_is_not_a_live_workshop_has_no_sessions_page(client, offering):
    assert client.get(f"/studio/courses/{offering.id}/sessions").status_code == 404


# ---------------------------------------------------------------------------
# Performance


def test_curriculum_page_runs_the_same_number_of_queries_with_3_or_30_lessons(web, client, count_queries):
    counts = []
    for size in (3, 30):
        profile = CreatorProfileFactory(user__email=f"size{size}@example.org")
        offering = OfferingFactory(creator=profile, kind=OfferingKind.LIVE_WORKSHOP)
        media_owner = profile.user
        kinds = itertools.cycle([LessonKind.VIDEO, LessonKind.QUIZ, LessonKind.LIVE, LessonKind.TEXT])
        for s in range(3):
            section = SectionFactory(offering=offering, position=s)
            for n in range(size // 3):
                kind = next(kinds)
                lesson = LessonFactory(section=section, position=n, kind=kind)
                if kind is LessonKind.VIDEO:
                    lesson.media_asset = MediaAsset(
                        owner_id=media_owner.id,
                        storage_key=f"k/{size}/{s}/{n}",
                        original_name="v.mp4",
                        content_type="video/mp4",
                    )
                elif kind is LessonKind.LIVE:
                    lesson.live_session = LiveSession(
                        offering=offering, starts_at=utcnow() + timedelta(days=n + 1), time_zone="UTC"
                    )
                elif kind is LessonKind.QUIZ:
                    lesson.questions.append(QuizQuestion(prompt="?"))
        db.session.flush()
        web.login(profile.user.email, PASSWORD)
        with count_queries() as counter:
            response = client.get(f"/studio/courses/{offering.id}/curriculum")
        assert response.status_code == 200
        counts.append(counter.count)
        web.logout()
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 lessons, {counts[1]} with 30"
