"""Marking lessons complete: the button (a plain form), the player's JSON at ~90 %, and the offering's completion."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Certificate, Enrollment, LessonKind, LessonProgress, LiveSession, utcnow

from ..factories import PASSWORD, LessonFactory, UserFactory
from ..factories.media import with_video
from ..factories.player import add_quiz, learner_in, lesson_url, offering_with_lessons, page_token
from ..helpers import csrf_token_from


def completed_ids(enrollment) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(LessonProgress.lesson_id).where(
                LessonProgress.enrollment_id == enrollment.id, LessonProgress.completed_at.is_not(None)
            )
        )
    )


def completed_at(enrollment):
    db.session.expire_all()
    return db.session.get(Enrollment, enrollment.id).completed_at


def text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


def test_mark_complete_button_completes_the_lesson_and_offers_the_next(web, client):
    offering, lessons = offering_with_lessons((2,))
    _, enrollment = learner_in(offering, web)
    url = lesson_url(offering, lessons[0])
    page = client.get(url).get_data(as_text=True)
    assert "Mark complete" in page

    response = client.post(
        lesson_url(offering, lessons[0], "/complete"), data={"csrf_token": csrf_token_from(page)}, follow_redirects=True
    )

    assert response.request.path == url
    shown = text(response)
    assert "“Lesson 1.1” is complete." in shown
    assert "Next: Lesson 1.2" in shown
    assert re.search(r"data-complete-pending hidden", response.get_data(as_text=True))
    assert completed_ids(enrollment) == {lessons[0].id}


def test_player_marks_complete_with_json_and_gets_json_back(web, client):
    offering, lessons = offering_with_lessons((2,))
    _, enrollment = learner_in(offering, web)
    token = page_token(client, lesson_url(offering, lessons[1]))

    response = client.post(lesson_url(offering, lessons[1], "/complete"), json={}, headers={"X-CSRFToken": token})

    assert response.status_code == 200
    assert response.get_json() == {"completed": True, "offering_completed": False}
    assert completed_ids(enrollment) == {lessons[1].id}


def test_completing_twice_keeps_the_first_date(web, client):
    offering, lessons = offering_with_lessons((2,))
    _, enrollment = learner_in(offering, web)
    token = page_token(client, lesson_url(offering, lessons[0]))
    client.post(lesson_url(offering, lessons[0], "/complete"), json={}, headers={"X-CSRFToken": token})
    first = db.session.scalar(sa.select(LessonProgress.completed_at).filter_by(enrollment_id=enrollment.id))

    again = client.post(lesson_url(offering, lessons[0], "/complete"), json={}, headers={"X-CSRFToken": token})

    assert again.get_json()["completed"] is True
    db.session.expire_all()
    assert db.session.scalar(sa.select(LessonProgress.completed_at).filter_by(enrollment_id=enrollment.id)) == first


def test_player_carries_the_completion_url_until_the_lesson_is_done(web, client):
    offering, lessons = offering_with_lessons((1, 1))
    video = with_video(lessons[0])
    learner_in(offering, web)
    url = lesson_url(offering, video)
    page = client.get(url).get_data(as_text=True)
    assert f'data-complete-url="{url}/complete"' in page
    assert "This happens on its own once you've watched most of it." in page

    client.post(f"{url}/complete", json={}, headers={"X-CSRFToken": page_token(client, url)})

    assert "data-complete-url" not in client.get(url).get_data(as_text=True)


def test_completing_the_last_lesson_completes_the_offering(web, client):
    offering, lessons = offering_with_lessons((1, 1))
    _, enrollment = learner_in(offering, web)
    token = page_token(client, lesson_url(offering, lessons[0]))
    client.post(lesson_url(offering, lessons[0], "/complete"), data={"csrf_token": token})
    assert completed_at(enrollment) is None

    response = client.post(lesson_url(offering, lessons[1], "/complete"), data={"csrf_token": token})

    assert response.headers["Location"] == f"/learn/{offering.slug}"
    assert completed_at(enrollment) is not None
    page = text(client.get(f"/learn/{offering.slug}"))
    assert f"You've completed every lesson of {offering.title}. Well done!" in page
    assert "Completed on" in page


def test_json_completion_says_when_it_completed_the_offering(web, client):
    offering, lessons = offering_with_lessons((1,))
    _, enrollment = learner_in(offering, web)
    token = page_token(client, lesson_url(offering, lessons[0]))

    answer = client.post(lesson_url(offering, lessons[0], "/complete"), json={}, headers={"X-CSRFToken": token})

    assert answer.get_json() == {"completed": True, "offering_completed": True}
    assert completed_at(enrollment) is not None


def test_a_quiz_is_not_completed_by_the_button(web, client):
    offering, lessons = offering_with_lessons((1,))
    quiz = add_quiz(lessons[0].section, [("2 + 2?", [("4", True), ("5", False)])])
    _, enrollment = learner_in(offering, web)
    page = client.get(lesson_url(offering, quiz)).get_data(as_text=True)
    assert "Mark complete" not in page

    response = client.post(
        lesson_url(offering, quiz, "/complete"),
        json={},
        headers={"X-CSRFToken": page_token(client, lesson_url(offering, quiz))},
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "A quiz is completed by passing it."
    assert completed_ids(enrollment) == set()


def test_completion_needs_the_csrf_token(web, client):
    offering, lessons = offering_with_lessons((1,))
    _, enrollment = learner_in(offering, web)
    assert client.post(lesson_url(offering, lessons[0], "/complete"), json={}).status_code == 400
    assert completed_ids(enrollment) == set()


def test_the_creator_previewing_records_nothing(web, client):
    offering, lessons = offering_with_lessons((1,))
    web.login(offering.creator.user.email, PASSWORD)
    page = client.get(lesson_url(offering, lessons[0])).get_data(as_text=True)
    assert "Mark complete" not in page
    assert "You're seeing this lesson as its creator." in page

    response = client.post(
        lesson_url(offering, lessons[0], "/complete"),
        data={"csrf_token": page_token(client, lesson_url(offering, lessons[0]))},
    )

    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_strangers_cannot_complete_lessons(web, client):
    offering, lessons = offering_with_lessons((1,))
    stranger = UserFactory()
    web.login(stranger.email, PASSWORD)
    token = page_token(client, "/account")
    response = client.post(lesson_url(offering, lessons[0], "/complete"), json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_an_offering_completed_earlier_keeps_its_date(web, client):
    offering, lessons = offering_with_lessons((1,))
    earlier = utcnow().replace(microsecond=0)
    _, enrollment = learner_in(offering, web, completed_at=earlier)
    token = page_token(client, lesson_url(offering, lessons[0]))
    client.post(lesson_url(offering, lessons[0], "/complete"), json={}, headers={"X-CSRFToken": token})
    assert completed_at(enrollment) == earlier


def test_deleting_the_last_unfinished_lesson_completes_the_offering(web, client):
    offering, lessons = offering_with_lessons((3,))
    _, enrollment = learner_in(offering, web)
    for lesson in lessons[:2]:
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=utcnow()))
    db.session.delete(lessons[2])
    db.session.flush()
    assert completed_at(enrollment) is None

    page = text(client.get(f"/learn/{offering.slug}"))

    assert "2 of 2 lessons · 100%" in page
    assert "Completed" in page
    assert "Get your certificate" in page
    assert completed_at(enrollment) is not None


def test_a_lesson_added_after_completion_is_needed_for_the_certificate(web, client):
    offering, lessons = offering_with_lessons((1,))
    _, enrollment = learner_in(offering, web)
    client.post(
        lesson_url(offering, lessons[0], "/complete"),
        data={"csrf_token": page_token(client, lesson_url(offering, lessons[0]))},
    )
    finished = completed_at(enrollment)
    assert finished is not None
    added = LessonFactory(section=lessons[0].section, position=5, title="A new lesson")
    db.session.flush()

    page = text(client.get(f"/learn/{offering.slug}"))
    assert "1 of 2 lessons · 50%" in page
    assert "Finish 1 more lesson" in page
    assert "Get your certificate" not in page
    assert (
        client.post(
            f"/learn/{offering.slug}/certificate", data={"csrf_token": page_token(client, f"/learn/{offering.slug}")}
        ).status_code
        == 302
    )
    assert not db.session.scalar(sa.select(sa.func.count(Certificate.id)))

    client.post(
        lesson_url(offering, added, "/complete"), data={"csrf_token": page_token(client, lesson_url(offering, added))}
    )
    assert "Get your certificate" in text(client.get(f"/learn/{offering.slug}"))
    assert completed_at(enrollment) == finished  # the first date stands


def test_a_live_session_can_be_marked_complete_only_once_it_has_taken_place(web, client):
    offering, lessons = offering_with_lessons((1,))
    session = LiveSession(
        offering=offering, title="Evening", starts_at=utcnow() + timedelta(days=2), time_zone="UTC", duration_minutes=60
    )
    lessons[0].kind = LessonKind.LIVE
    lessons[0].live_session = session
    db.session.flush()
    _, enrollment = learner_in(offering, web)
    url = lesson_url(offering, lessons[0])

    assert "Mark complete" not in text(client.get(url))
    refused = client.post(url + "/complete", data={"csrf_token": page_token(client, url)}, follow_redirects=True)
    assert "You can mark a live session complete once it has taken place." in text(refused)
    assert completed_ids(enrollment) == set()

    session.starts_at = utcnow() - timedelta(hours=2)
    db.session.flush()
    assert "Mark complete" in text(client.get(url))
    client.post(url + "/complete", data={"csrf_token": page_token(client, url)})
    assert completed_ids(enrollment) == {lessons[0].id}


def test_a_live_lesson_with_no_session_cannot_be_marked_complete(web, client):
    offering, lessons = offering_with_lessons((2,))
    lessons[0].kind = LessonKind.LIVE
    db.session.flush()
    _, enrollment = learner_in(offering, web)
    url = lesson_url(offering, lessons[0])

    page = text(client.get(url))
    assert "The date for this live session hasn't been set yet." in page
    assert "Mark complete" not in page
    refused = client.post(url + "/complete", data={"csrf_token": page_token(client, url)}, follow_redirects=True)
    assert "This live session hasn't been scheduled yet, so it can't be marked complete." in text(refused)
    answer = client.post(url + "/complete", json={}, headers={"X-CSRFToken": page_token(client, url)})
    assert answer.status_code == 400 and answer.get_json()["completed"] is False
    assert completed_ids(enrollment) == set()
