"""/learn/<slug>: the outline with my progress per section and overall, and where to continue."""

from __future__ import annotations

import html as html_lib
import re

from courseplatform.extensions import db
from courseplatform.models import EnrollmentStatus, LessonProgress, OfferingStatus, utcnow

from ..factories import PASSWORD, CreatorProfileFactory, EnrollmentFactory, LessonFactory, SectionFactory, UserFactory
from ..factories.player import learner_in, offering_with_lessons


def done(enrollment, *lessons):
    for lesson in lessons:
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=utcnow()))
    db.session.flush()


def text_of(response) -> str:
    """What a reader sees: the page's text without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True))))


def test_outline_shows_progress_overall_and_per_section(web, client):
    offering, lessons = offering_with_lessons((3, 2), title="Grounding skills")
    _, enrollment = learner_in(offering, web)
    done(enrollment, lessons[0], lessons[1], lessons[3])

    page = text_of(client.get(f"/learn/{offering.slug}"))

    assert "Grounding skills" in page
    assert "3 of 5 lessons · 60%" in page
    assert "2 of 3 done" in page and "1 of 2 done" in page
    assert "Lesson 1.1 (completed)" in page and "Lesson 1.3 (completed)" not in page
    assert "60%" in page


def test_outline_continue_button_goes_to_the_lesson_i_was_last_in(web, client):
    offering, lessons = offering_with_lessons((2, 2))
    _, enrollment = learner_in(offering, web)
    done(enrollment, lessons[0])
    enrollment.last_lesson_id = lessons[2].id
    db.session.flush()

    page = client.get(f"/learn/{offering.slug}").get_data(as_text=True)

    assert re.search(rf'href="/learn/{offering.slug}/lessons/{lessons[2].id}">\s*Continue: Lesson 2.1\s*</a>', page)


def test_outline_continues_after_the_last_lesson_i_completed(web, client):
    offering, lessons = offering_with_lessons((2, 2))
    _, enrollment = learner_in(offering, web)
    done(enrollment, lessons[0], lessons[1])
    enrollment.last_lesson_id = lessons[1].id
    db.session.flush()

    assert "Continue: Lesson 2.1" in text_of(client.get(f"/learn/{offering.slug}"))


def test_opening_a_lesson_makes_it_where_i_continue(web, client):
    offering, lessons = offering_with_lessons((2, 2))
    learner_in(offering, web)
    assert "Start the course" in text_of(client.get(f"/learn/{offering.slug}"))

    client.get(f"/learn/{offering.slug}/lessons/{lessons[3].id}")

    assert "Continue: Lesson 2.2" in text_of(client.get(f"/learn/{offering.slug}"))


def test_outline_shows_the_creator_and_completion_badge(web, client):
    creator = CreatorProfileFactory(display_name="Dr. Maya Okafor", credentials="LCSW, PhD")
    offering, lessons = offering_with_lessons((1,), creator=creator)
    _, enrollment = learner_in(offering, web)
    done(enrollment, *lessons)
    enrollment.completed_at = utcnow()
    db.session.flush()

    page = text_of(client.get(f"/learn/{offering.slug}"))

    assert "With Dr. Maya Okafor, LCSW, PhD" in page
    assert "Completed on" in page and "1 of 1 lesson · 100%" in page


def test_owner_previews_the_outline_with_every_lesson_open(web, client):
    offering, lessons = offering_with_lessons((2,), status=OfferingStatus.DRAFT)
    lessons[1].available_after_days = 5
    offering.sequential = True
    db.session.flush()
    web.login(offering.creator.user.email, PASSWORD)

    response = client.get(f"/learn/{offering.slug}")
    page = text_of(response)

    assert "You're previewing as the creator" in page
    assert "Opens" not in page and " of 2 lessons" not in page
    html = response.get_data(as_text=True)
    assert re.search(rf'href="/learn/{offering.slug}/lessons/{lessons[0].id}">\s*Start the course\s*</a>', html)


def test_admin_previews_any_outline(web, client):
    offering, _ = offering_with_lessons((1,))
    admin = UserFactory(is_admin=True)
    web.login(admin.email, PASSWORD)
    assert "You're previewing as an admin" in text_of(client.get(f"/learn/{offering.slug}"))


def test_outline_is_404_for_strangers_and_says_why_to_a_paused_learner(web, client):
    offering, _ = offering_with_lessons((1,))
    stranger = UserFactory()
    web.login(stranger.email, PASSWORD)
    assert client.get(f"/learn/{offering.slug}").status_code == 404
    enrollment = EnrollmentFactory(user=stranger, offering=offering, status=EnrollmentStatus.SUSPENDED)
    db.session.flush()
    paused = client.get(f"/learn/{offering.slug}")
    assert paused.status_code == 403 and "A payment dispute is open" in text_of(paused)
    enrollment.status = EnrollmentStatus.ACTIVE
    db.session.flush()
    assert client.get(f"/learn/{offering.slug}").status_code == 200
    assert client.get("/learn/no-such-offering").status_code == 404


def test_outline_asks_visitors_to_log_in(client):
    offering, _ = offering_with_lessons((1,))
    response = client.get(f"/learn/{offering.slug}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_outline_of_an_offering_without_lessons_says_they_are_coming(web, client):
    offering, _ = offering_with_lessons(())
    learner_in(offering, web)
    assert "The first lessons are on their way" in text_of(client.get(f"/learn/{offering.slug}"))


def build_outline_world(size: int, web):
    offering, lessons = offering_with_lessons((size // 3, size // 3, size - 2 * (size // 3)), slug=f"outline-{size}")
    lessons[-1].available_after_days = 400
    offering.sequential = True
    user, enrollment = learner_in(offering, web)
    done(enrollment, *lessons[: size // 2])
    section = SectionFactory(offering=offering, position=9)
    LessonFactory(section=section, title="Extra")
    db.session.flush()
    return offering, user


def test_outline_runs_the_same_number_of_queries_for_3_and_30_lessons(web, client, count_queries):
    counts = []
    for size in (3, 30):
        offering, _ = build_outline_world(size, web)
        with count_queries() as counter:
            response = client.get(f"/learn/{offering.slug}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count(f'href="/learn/{offering.slug}/lessons/') >= size
        counts.append(counter.count)
        web.logout()
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 lessons, {counts[1]} with 30"
