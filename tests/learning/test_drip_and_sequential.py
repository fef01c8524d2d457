"""Drip (a lesson opens at the start of the learner's own day, N days after they enrolled) and
sequential gating (a lesson opens once the one before it is complete), enforced on the server."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.progress import LessonState, drip_opens_at, offering_progress
from courseplatform.models import LessonProgress, utcnow

from ..factories import PASSWORD, EnrollmentFactory, UserFactory
from ..factories.media import with_video
from ..factories.player import learner_in, lesson_url, offering_with_lessons, page_token


def text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------
# Drip dates across time zones


def test_learners_enrolled_at_the_same_instant_get_their_own_days():
    enrolled = utc(2025, 3, 1, 5, 0)  # Feb 28, 9 pm in Los Angeles; Mar 1, 2 pm in Tokyo

    los_angeles = drip_opens_at(enrolled, 1, "America/Los_Angeles")
    tokyo = drip_opens_at(enrolled, 1, "Asia/Tokyo")

    assert los_angeles == utc(2025, 3, 1, 8, 0)  # Mar 1, midnight PST
    assert tokyo == utc(2025, 3, 1, 15, 0)  # Mar 2, midnight JST
    assert los_angeles.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%b %-d %H:%M") == "Mar 1 00:00"
    assert tokyo.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%b %-d %H:%M") == "Mar 2 00:00"


def test_enrolling_late_on_the_last_day_of_a_month_counts_that_day():
    enrolled = datetime(2025, 1, 31, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))

    opens = drip_opens_at(enrolled, 1, "America/Los_Angeles")

    assert opens.astimezone(ZoneInfo("America/Los_Angeles")) == datetime(
        2025, 2, 1, 0, 0, tzinfo=ZoneInfo("America/Los_Angeles")
    )
    assert opens - enrolled == timedelta(minutes=30)
    # Seven days later crosses into February the same way.
    assert drip_opens_at(enrolled, 7, "America/Los_Angeles") == utc(2025, 2, 7, 8, 0)


def test_drip_across_a_daylight_saving_change_opens_at_local_midnight():
    enrolled = utc(2025, 3, 8, 20, 0)  # Saturday noon PST; clocks spring forward on Sunday Mar 9

    opens = drip_opens_at(enrolled, 2, "America/Los_Angeles")

    assert opens == utc(2025, 3, 10, 7, 0)  # midnight PDT is 07:00 UTC, not 08:00
    assert drip_opens_at(utc(2025, 10, 25, 12, 0), 2, "Europe/Berlin") == utc(2025, 10, 26, 23, 0)  # CET again


def test_an_unknown_zone_counts_in_utc():
    assert drip_opens_at(utc(2025, 5, 1, 22, 0), 1, "Mars/Olympus") == utc(2025, 5, 2, 0, 0)


def test_drip_lesson_opens_at_the_computed_instant(app):
    offering, lessons = offering_with_lessons((2,))
    lessons[1].available_after_days = 3
    enrollment = EnrollmentFactory(offering=offering, enrolled_at=utc(2025, 6, 10, 12, 0))
    db.session.flush()
    opens = utc(2025, 6, 13, 4, 0)  # Jun 13, midnight EDT

    before = offering_progress(offering, enrollment, zone="America/New_York", now=opens - timedelta(seconds=1))
    after = offering_progress(offering, enrollment, zone="America/New_York", now=opens)

    assert before.status_of(lessons[1]).state is LessonState.DRIP
    assert before.status_of(lessons[1]).opens_at == opens
    assert after.status_of(lessons[1]).state is LessonState.OPEN


def test_outline_shows_when_a_drip_lesson_opens_in_my_zone(web, client):
    offering, lessons = offering_with_lessons((2,))
    lessons[1].available_after_days = 3
    db.session.flush()
    _, enrollment = learner_in(offering, web, time_zone="Asia/Tokyo")
    day = enrollment.enrolled_at.astimezone(ZoneInfo("Asia/Tokyo")).date() + timedelta(days=3)

    page = text(client.get(f"/learn/{offering.slug}"))

    assert f"Lesson 1.2 Opens {day.strftime('%a, %b %-d')}" in page


# ---------------------------------------------------------------------------
# A locked drip lesson: its date, and nothing of its content


@pytest.fixture
def dripped(web):
    offering, lessons = offering_with_lessons((2,))
    locked = with_video(lessons[1])
    locked.available_after_days = 10
    locked.body = "The secret sauce of the lesson."
    db.session.flush()
    _, enrollment = learner_in(offering, web, time_zone="America/Los_Angeles")
    return offering, lessons[0], locked, enrollment


def test_locked_drip_lesson_shows_its_opening_date_and_no_content(dripped, client):
    offering, _, locked, enrollment = dripped
    day = enrollment.enrolled_at.astimezone(ZoneInfo("America/Los_Angeles")).date() + timedelta(days=10)

    response = client.get(lesson_url(offering, locked))

    assert response.status_code == 200
    page = text(response)
    assert "This lesson isn't open yet" in page
    assert f"It opens on {day.strftime('%A, %B %-d, %Y')} at 12:00 AM P" in page
    html = response.get_data(as_text=True)
    assert "secret sauce" not in html and "data-player" not in html and "/media" not in html
    assert "Mark complete" not in html


def test_locked_drip_lesson_refuses_media_captions_position_and_completion(dripped, client):
    offering, opened, locked, _ = dripped
    token = page_token(client, lesson_url(offering, opened))

    assert client.get(lesson_url(offering, locked, "/media")).status_code == 403
    assert client.get(lesson_url(offering, locked, "/captions")).status_code == 403
    position = client.post(
        lesson_url(offering, locked, "/position"), json={"seconds": 40}, headers={"X-CSRFToken": token}
    )
    assert position.status_code == 403
    complete = client.post(lesson_url(offering, locked, "/complete"), json={}, headers={"X-CSRFToken": token})
    assert complete.status_code == 403
    assert complete.get_json()["error"] == "This lesson hasn't opened for you yet."
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_locked_lesson_completion_by_form_explains_and_changes_nothing(dripped, client):
    offering, opened, locked, _ = dripped
    token = page_token(client, lesson_url(offering, opened))

    response = client.post(lesson_url(offering, locked, "/complete"), data={"csrf_token": token}, follow_redirects=True)

    assert "This lesson hasn't opened for you yet." in text(response)
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_the_open_drip_lesson_plays(web, client):
    offering, lessons = offering_with_lessons((1,))
    video = with_video(lessons[0])
    video.available_after_days = 2
    db.session.flush()
    learner_in(offering, web, enrolled_at=utcnow() - timedelta(days=4))

    assert "data-player" in client.get(lesson_url(offering, video)).get_data(as_text=True)
    assert client.get(lesson_url(offering, video, "/media")).status_code == 302


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_owners_and_admins_are_never_held_back(who, dripped, web, client):
    offering, _, locked, _ = dripped
    web.logout()
    person = offering.creator.user if who == "owner" else UserFactory(is_admin=True)
    web.login(person.email, PASSWORD)

    assert "data-player" in client.get(lesson_url(offering, locked)).get_data(as_text=True)
    assert client.get(lesson_url(offering, locked, "/media")).status_code == 302


def test_a_locked_free_preview_still_plays_as_it_does_for_anyone(dripped, client):
    offering, _, locked, _ = dripped
    locked.is_preview = True
    db.session.flush()
    assert client.get(lesson_url(offering, locked, "/media")).status_code == 302


# ---------------------------------------------------------------------------
# Sequential offerings


def test_sequential_lesson_opens_once_the_one_before_is_complete(web, client):
    offering, lessons = offering_with_lessons((2, 1), sequential=True)
    first, second, third = lessons
    learner_in(offering, web)

    locked = client.get(lesson_url(offering, second))
    page = text(locked)
    assert "This lesson isn't open yet" in page
    assert "It opens when you complete “Lesson 1.1”." in page
    assert f'href="{lesson_url(offering, first)}"' in locked.get_data(as_text=True)
    outline = text(client.get(f"/learn/{offering.slug}"))
    assert "Lesson 1.2 Opens when you complete “Lesson 1.1”" in outline
    assert "Lesson 2.1 Opens when you complete “Lesson 1.1”" in outline

    token = page_token(client, lesson_url(offering, first))
    client.post(lesson_url(offering, first, "/complete"), data={"csrf_token": token})

    assert "This lesson isn't open yet" not in text(client.get(lesson_url(offering, second)))
    assert "It opens when you complete “Lesson 1.2”." in text(client.get(lesson_url(offering, third)))


def test_sequential_order_refuses_completing_ahead(web, client):
    offering, lessons = offering_with_lessons((3,), sequential=True)
    learner_in(offering, web)
    token = page_token(client, lesson_url(offering, lessons[0]))

    response = client.post(lesson_url(offering, lessons[2], "/complete"), json={}, headers={"X-CSRFToken": token})

    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 0


def test_offerings_that_are_not_sequential_open_every_lesson(web, client):
    offering, lessons = offering_with_lessons((3,))
    learner_in(offering, web)
    assert "This lesson isn't open yet" not in text(client.get(lesson_url(offering, lessons[2])))
