"""The lesson page and /learn: outline and navigation, who may open them, and their cost in queries."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest

from courseplatform.extensions import db
from courseplatform.models import (
    EnrollmentStatus,
    LessonKind,
    LessonProgress,
    LiveSession,
    OfferingStatus,
    QuizAttempt,
    utcnow,
)

from ..factories import PASSWORD, EnrollmentFactory, LessonFactory, OfferingFactory, SectionFactory, UserFactory
from ..factories.media import with_video
from ..factories.player import add_quiz, learner_in, lesson_url, offering_with_lessons


def text(response) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


# ---------------------------------------------------------------------------
# The lesson page


def test_lesson_page_has_the_outline_with_states_and_previous_next(web, client):
    offering, lessons = offering_with_lessons((2, 2))
    lessons[3].available_after_days = 30
    db.session.flush()
    _, enrollment = learner_in(offering, web)
    db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lessons[0].id, completed_at=utcnow()))
    db.session.flush()

    response = client.get(lesson_url(offering, lessons[1]))

    html = response.get_data(as_text=True)
    assert f'rel="prev" href="{lesson_url(offering, lessons[0])}"' in html
    assert f'rel="next" href="{lesson_url(offering, lessons[2])}"' in html
    assert f'href="{lesson_url(offering, lessons[1])}" aria-current="page"' in html
    page = text(response)
    assert "1 of 4 lessons · 25%" in page
    assert "Lesson 1.1 (completed)" in page
    assert "Lesson 2.2 Opens" in page


def test_video_lesson_resumes_at_my_saved_position(web, client):
    offering, lessons = offering_with_lessons((1,))
    video = with_video(lessons[0])
    _, enrollment = learner_in(offering, web)
    db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=video.id, position_seconds=95))
    db.session.flush()

    html = client.get(lesson_url(offering, video)).get_data(as_text=True)

    assert 'data-start-at="95"' in html


def test_live_lesson_shows_its_session(web, client):
    offering, lessons = offering_with_lessons((1,))
    session = LiveSession(offering=offering, title="Evening 1", starts_at=utcnow() + timedelta(days=3), time_zone="UTC")
    lessons[0].kind = LessonKind.LIVE
    lessons[0].live_session = session
    db.session.flush()
    learner_in(offering, web)

    page = text(client.get(lesson_url(offering, lessons[0])))

    assert "Evening 1" in page


# ---------------------------------------------------------------------------
# Access


def test_a_revoked_learner_is_refused_at_once(web, client):
    offering, lessons = offering_with_lessons((1,))
    video = with_video(lessons[0])
    _, enrollment = learner_in(offering, web)
    assert client.get(lesson_url(offering, video)).status_code == 200

    enrollment.status = EnrollmentStatus.REVOKED
    enrollment.revoked_at = utcnow()
    db.session.flush()

    response = client.get(lesson_url(offering, video))
    assert response.status_code == 403 and "Your access has ended" in response.get_data(as_text=True)
    assert client.get(lesson_url(offering, video, "/media")).status_code == 403
    assert client.get(f"/learn/{offering.slug}").status_code == 403
    assert offering.title not in client.get("/learn").get_data(as_text=True)


def test_an_archived_offering_still_opens_for_its_learners(web, client):
    offering, lessons = offering_with_lessons((1,))
    video = with_video(lessons[0])
    learner_in(offering, web)
    offering.status = OfferingStatus.ARCHIVED
    db.session.flush()

    assert client.get(f"/learn/{offering.slug}").status_code == 200
    assert "data-player" in client.get(lesson_url(offering, video)).get_data(as_text=True)
    assert client.get(lesson_url(offering, video, "/media")).status_code == 302


def test_nobody_else_opens_an_enrolled_only_lesson(web, client):
    offering, lessons = offering_with_lessons((2,))
    lessons[0].is_preview = True
    db.session.flush()
    stranger = UserFactory()
    EnrollmentFactory(user=stranger)  # enrolled elsewhere
    web.login(stranger.email, PASSWORD)

    refused = client.get(lesson_url(offering, lessons[1]))
    assert refused.status_code == 302 and refused.headers["Location"] == f"/courses/{offering.slug}"
    assert "Some words." not in refused.get_data(as_text=True)
    preview = client.get(lesson_url(offering, lessons[0]))
    assert preview.headers["Location"] == f"/courses/{offering.slug}/preview/{lessons[0].id}"


# ---------------------------------------------------------------------------
# /learn


def test_my_learning_links_to_each_outline_and_marks_completed_ones(web, client):
    finished, _ = offering_with_lessons((1,), title="Finished one")
    ongoing, ongoing_lessons = offering_with_lessons((2,), title="Ongoing one")
    user, _ = learner_in(finished, web, completed_at=utcnow())
    enrollment = EnrollmentFactory(user=user, offering=ongoing)
    db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=ongoing_lessons[0].id, completed_at=utcnow()))
    db.session.flush()

    response = client.get("/learn")

    html = response.get_data(as_text=True)
    assert re.search(rf'href="/learn/{ongoing.slug}">\s*Continue<span class="visually-hidden"> Ongoing one', html)
    assert re.search(rf'href="/learn/{finished.slug}">\s*Review<span class="visually-hidden"> Finished one', html)
    page = text(response)
    assert page.count("Completed") == 1
    assert "1 of 2 lessons · 50%" in page


def build_player_world(size: int, web):
    """An offering with `size` lessons (some done, one dripped), a quiz with `size // 3` attempts, and a learner."""
    offering = OfferingFactory(slug=f"player-{size}")
    sections = [SectionFactory(offering=offering, position=n) for n in range(3)]
    lessons = [LessonFactory(section=sections[n % 3], position=n) for n in range(size)]
    lessons[-1].available_after_days = 400
    video = with_video(lessons[1])
    quiz = add_quiz(sections[0], [("Q?", [("a", True), ("b", False)]), ("R?", [("c", True), ("d", True)])])
    user, enrollment = learner_in(offering, web)
    for lesson in lessons[: size // 2]:
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=utcnow()))
    for number in range(1, size // 3 + 1):
        db.session.add(
            QuizAttempt(
                enrollment_id=enrollment.id,
                lesson_id=quiz.id,
                attempt_number=number,
                answers={},
                score_percent=0,
                passed=False,
            )
        )
    for n in range(size):  # other offerings, enrolled and not
        other = OfferingFactory(slug=f"other-{size}-{n}")
        LessonFactory(section=SectionFactory(offering=other))
        if n % 2:
            EnrollmentFactory(user=user, offering=other)
    db.session.flush()
    return {
        "outline": f"/learn/{offering.slug}",
        "video lesson": lesson_url(offering, video),
        "quiz lesson": lesson_url(offering, quiz),
        "locked lesson": lesson_url(offering, lessons[-1]),
        "my learning": "/learn",
    }


EXPECTED = {
    "outline": "Continue:",
    "video lesson": "Mark complete",
    "quiz lesson": "Not passed yet",
    "locked lesson": "This lesson isn't open yet",
    "my learning": "Continue",
}


@pytest.mark.parametrize("page", ["outline", "video lesson", "quiz lesson", "locked lesson", "my learning"])
def test_player_pages_run_a_constant_number_of_queries(page, web, client, count_queries):
    counts = []
    for size in (3, 30):
        urls = build_player_world(size, web)
        visits = []
        for _ in range(2):  # the first visit to a lesson records it as where I am; the second writes nothing
            with count_queries() as counter:
                response = client.get(urls[page])
            assert response.status_code == 200
            assert EXPECTED[page] in text(response)
            visits.append(counter.count)
        counts.append(visits)
        web.logout()
    assert counts[0] == counts[1], f"{page}: {counts[0]} queries at the small size, {counts[1]} at the large one"
