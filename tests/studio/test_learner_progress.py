"""The creator's view of one learner: lessons done, quiz attempts, attendance, evaluation and certificate;
nobody but the owner (or an admin) opens it."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import LessonKind, LessonProgress, utcnow

from ..factories import PASSWORD, CreatorProfileFactory, LessonFactory, SectionFactory, UserFactory
from ..factories.certificates import (
    attempt,
    attended,
    ce_offering,
    enrol,
    evaluated,
    finish,
    lessons_of,
    live_session,
    revoke,
)


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(display_name="Dana Reyes", credentials="LCSW", user__email="dana@example.org")
    web.login("dana@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return ce_offering(creator=creator, ce_minutes=180, slug="grounding", title="Grounding Skills", quiz=True)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", html)))


def url(offering, enrollment) -> str:
    return f"/studio/courses/{offering.id}/learners/{enrollment.id}"


def quiz_of(offering):
    return next(lesson for lesson in lessons_of(offering) if lesson.kind is LessonKind.QUIZ)


def test_the_page_shows_the_learner_their_progress_and_quiz_results(client, offering):
    enrollment = enrol(offering, user__name="Pat Learner", user__email="pat@example.org")
    first = lessons_of(offering)[0]
    db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=first.id, completed_at=utcnow()))
    quiz = quiz_of(offering)
    attempt(enrollment, quiz, 1, 40, False, days_ago=3)
    attempt(enrollment, quiz, 2, 90, True, days_ago=2)
    response = client.get(url(offering, enrollment))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for expected in ("Pat Learner", "pat@example.org", "Free", "Active", "1 of 3 lessons"):
        assert expected in html, expected
    assert "Check your understanding" in html
    assert "Best score 90%" in html
    assert "Attempt 1" in html and "40%" in html and "Not passed" in html
    assert "Attempt 2" in html and "Passed" in html
    assert "No certificate yet" in html


def test_the_page_shows_that_the_evaluation_was_sent_but_not_what_it_said_and_the_attestation(client, offering):
    enrollment = finish(enrol(offering, user__name="Pat Learner"))
    evaluated(enrollment, attested=True)
    certificate = issue_certificate(enrollment)
    html = client.get(url(offering, enrollment)).get_data(as_text=True)
    # Evaluations are anonymous: the learner's record says one was sent, never its ratings or comments.
    assert "Evaluations are anonymous" in html
    assert "Strongly agree" not in html and "Grounding scripts with my Monday group." not in html
    assert "I attest that I completed it." in html
    assert certificate.number in html
    assert f'href="/certificates/{certificate.number}"' in html


def test_live_attendance_is_listed_per_session(client, creator):
    offering = ce_offering(creator=creator, slug="live", min_attendance_percent=75)
    evening = live_session(offering, minutes=90, title="Evening one")
    live_session(offering, minutes=90, days=-1, title="Evening two")
    enrollment = enrol(offering)
    attended(enrollment, evening, 80)
    html = client.get(url(offering, enrollment)).get_data(as_text=True)
    assert "Evening one" in html and "80 of 90 min" in html
    assert "Evening two" in html and "Not recorded" in html
    assert "44% of 75% required" in html


def test_a_revoked_learner_s_certificate_is_marked_as_revoked(client, offering):
    enrollment = finish(enrol(offering))
    certificate = issue_certificate(enrollment)
    revoke(enrollment)
    html = client.get(url(offering, enrollment)).get_data(as_text=True)
    assert "Revoked" in html
    assert "its verification page says “revoked”" in html
    assert f"Certificate {certificate.number} revoked, issued" in text(html)


def test_another_creator_gets_404(web, client, offering):
    enrollment = enrol(offering)
    CreatorProfileFactory(user__email="rival@example.org")
    web.logout()
    web.login("rival@example.org", PASSWORD)
    assert client.get(url(offering, enrollment)).status_code == 404


def test_an_enrollment_of_another_offering_is_404(client, creator, offering):
    elsewhere = enrol(ce_offering(creator=creator, slug="elsewhere"))
    assert client.get(url(offering, elsewhere)).status_code == 404


def test_an_admin_may_open_it(web, client, offering):
    enrollment = enrol(offering, user__name="Pat Learner")
    UserFactory(email="ops@example.org", is_admin=True)
    web.logout()
    web.login("ops@example.org", PASSWORD)
    assert "Pat Learner" in client.get(url(offering, enrollment)).get_data(as_text=True)


def test_a_learner_cannot_open_it(web, client, offering):
    enrollment = enrol(offering)
    web.logout()
    web.login(enrollment.user.email, PASSWORD)
    response = client.get(url(offering, enrollment))
    assert response.status_code == 302
    assert "become-a-creator" in response.headers["Location"]


def test_the_learners_page_links_each_name_to_the_detail_and_shows_certificates(client, offering):
    enrollment = finish(enrol(offering, user__name="Pat Learner"))
    certificate = issue_certificate(enrollment)
    other = enrol(offering, user__name="Sam Learner")
    html = client.get(f"/studio/courses/{offering.id}/learners").get_data(as_text=True)
    assert f'href="{url(offering, enrollment)}">Pat Learner</a>' in html
    assert f'href="{url(offering, other)}">Sam Learner</a>' in html
    assert f"Certificate {certificate.number}" in html


def test_the_learners_page_says_which_certificates_are_revoked(client, offering):
    kept = issue_certificate(finish(enrol(offering, user__name="Pat Learner")))
    refunded = finish(enrol(offering, user__name="Sam Learner"))
    revoked = issue_certificate(refunded)
    revoke(refunded)

    shown = text(client.get(f"/studio/courses/{offering.id}/learners").get_data(as_text=True))

    assert f"Certificate {revoked.number} revoked" in shown
    assert f"Certificate {kept.number} revoked" not in shown
    assert f"Certificate {kept.number}" in shown


def grow(offering, enrollment, size: int) -> None:
    """`size` more lessons (half quizzes, each tried twice), live sessions attended, all done."""
    section = SectionFactory(offering=offering)
    for n in range(size):
        kind = LessonKind.QUIZ if n % 2 else LessonKind.TEXT
        lesson = LessonFactory(section=section, position=n, kind=kind)
        db.session.flush()
        db.session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=utcnow()))
        if kind is LessonKind.QUIZ:
            attempt(enrollment, lesson, 1, 50, False)
            attempt(enrollment, lesson, 2, 100, True)
        attended(enrollment, live_session(offering, days=-n - 1), 60)
    db.session.flush()


def test_the_page_runs_the_same_queries_whatever_the_learner_has_done(client, creator, count_queries):
    counts = []
    for size in (2, 12):
        offering = ce_offering(creator=creator, slug=f"sized-{size}", min_attendance_percent=50)
        enrollment = finish(enrol(offering))
        grow(offering, enrollment, size)
        evaluated(enrollment, attested=True)
        issue_certificate(enrollment)
        with count_queries() as counter:
            response = client.get(url(offering, enrollment))
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries for a small record, {counts[1]} for a large one"
