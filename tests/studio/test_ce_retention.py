"""CE records are kept: while an offering carries CE, and for CE_RECORDS_RETENTION_YEARS (7 unless set)
after its last CE certificate, the live sessions holding attendance, the quizzes holding post-test
attempts and the approvals certificates were issued under can't be deleted, through the studio or under
it; afterwards they can."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from courseplatform.config import ConfigError, load_config
from courseplatform.extensions import db
from courseplatform.models import (
    Attendance,
    CEClaim,
    Certificate,
    LessonKind,
    LiveSession,
    Offering,
    OfferingKind,
    ProviderApproval,
    QuizAttempt,
    User,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.catalog import LessonFactory, OfferingFactory, SectionFactory
from ..factories.certificates import (
    CE_POLICIES,
    ProviderApprovalFactory,
    attempt,
    attended,
    enrol,
    lessons_of,
    live_session,
)


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="dana@example.org", display_name="Dana Reyes", **CE_POLICIES)
    web.login("dana@example.org", PASSWORD)
    return profile


def live_ce(creator, **kw) -> Offering:
    offering = OfferingFactory(
        creator=creator, kind=OfferingKind.LIVE_WORKSHOP, ce_minutes=120, min_attendance_percent=100, **kw
    )
    offering.ce_claims = [CEClaim(body=ProviderApprovalFactory(creator=creator).body)]
    section = SectionFactory(offering=offering, title="Sessions")
    LessonFactory(section=section, kind=LessonKind.QUIZ, title="Post-test", position=0)
    db.session.flush()
    return offering


def certificate(enrollment, *, years_ago: float, ce_minutes: int | None = 120) -> Certificate:
    issued = utcnow() - timedelta(days=365.25 * years_ago)
    cert = Certificate(
        number=f"AQ-RET-{enrollment.id}",
        enrollment_id=enrollment.id,
        learner_name=enrollment.user.name,
        offering_title=enrollment.offering.title,
        creator_name="Dana Reyes",
        ce_minutes=ce_minutes,
        ce_body="aswb",
        provider_number="ACE-1473",
        issued_at=issued,
    )
    db.session.add(cert)
    db.session.flush()
    return cert


def delete_session(web, offering, session):
    return web.submit(
        f"/studio/courses/{offering.id}/sessions/{session.id}/delete",
        {},
        form_url=f"/studio/courses/{offering.id}/sessions",
    )


def delete_lesson(web, offering, lesson):
    return web.submit(
        f"/studio/courses/{offering.id}/lessons/{lesson.id}/delete",
        {},
        form_url=f"/studio/courses/{offering.id}/curriculum",
    )


def exists(model, **where) -> bool:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**where)) > 0


def test_a_ce_sessions_attendance_and_a_post_tests_attempts_keep_them_from_deletion(web, creator):
    offering = live_ce(creator)
    held, empty = live_session(offering, days=-7), live_session(offering, days=7, title="Evening 2")
    learner = enrol(offering)
    attended(learner, held, 95)
    quiz = lessons_of(offering)[0]
    attempt(learner, quiz, 1, 90, True)
    db.session.commit()

    page = delete_session(web, offering, held).get_data(as_text=True)
    assert "This session can&#39;t be deleted. It holds learners&#39; attendance: CE records" in page
    assert "while the offering carries CE and for 7 years after its last CE certificate" in page
    assert exists(LiveSession, id=held.id) and exists(Attendance, live_session_id=held.id)
    delete_session(web, offering, empty)
    assert not exists(LiveSession, id=empty.id), "a session nobody attended goes"

    page = delete_lesson(web, offering, quiz).get_data(as_text=True)
    assert "“Post-test” can&#39;t be deleted. It holds learners&#39; post-test attempts" in page
    assert exists(QuizAttempt, lesson_id=quiz.id)
    section = quiz.section
    page = web.submit(
        f"/studio/courses/{offering.id}/sections/{section.id}/delete",
        {},
        form_url=f"/studio/courses/{offering.id}/curriculum",
    ).get_data(as_text=True)
    assert "“Sessions” can&#39;t be deleted." in page and exists(QuizAttempt, lesson_id=quiz.id)


def test_after_ce_is_dropped_the_records_are_kept_until_years_after_the_last_certificate(app, web, creator):
    offering = live_ce(creator)
    held = live_session(offering, days=-800)
    learner = enrol(offering)
    attended(learner, held, 95)
    certificate(learner, years_ago=3)
    offering.ce_minutes, offering.ce_claims = None, []
    db.session.commit()
    until = (utcnow() - timedelta(days=365.25 * 3)).date()
    page = delete_session(web, offering, held).get_data(as_text=True)
    assert f"keep until {until.replace(year=until.year + 7):%B %-d, %Y}" in page
    assert exists(Attendance, live_session_id=held.id)

    # With a 4-year period (California's), three years is still inside it; five years isn't.
    app.config["CE_RECORDS_RETENTION_YEARS"] = 4
    assert "can&#39;t be deleted" in delete_session(web, offering, held).get_data(as_text=True)
    db.session.execute(sa.update(Certificate).values(issued_at=utcnow() - timedelta(days=365.25 * 5)))
    db.session.commit()
    delete_session(web, offering, held)
    assert not exists(LiveSession, id=held.id), "past the retention period the session and its attendance go"


def test_a_course_without_ce_deletes_its_quizzes_as_before(web, creator):
    offering = OfferingFactory(creator=creator)
    section = SectionFactory(offering=offering)
    quiz = LessonFactory(section=section, kind=LessonKind.QUIZ, title="Check-in quiz")
    attempt(enrol(offering), quiz, 1, 50, False)
    db.session.commit()
    delete_lesson(web, offering, quiz)
    assert not exists(QuizAttempt, lesson_id=quiz.id)


def test_an_approval_certificates_were_issued_under_is_kept(web, creator):
    offering = live_ce(creator)
    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=creator.id))
    approval.provider_number = "ACE-1473"
    mistyped = ProviderApprovalFactory(creator=creator, body=approval.body, provider_number="ACE-1437",
                                       approved_from=approval.approved_until + timedelta(days=1),
                                       approved_until=approval.approved_until + timedelta(days=700))  # fmt: skip
    certificate(enrol(offering), years_ago=0.5)
    db.session.commit()
    url = f"/studio/ce/approvals/{approval.id}/delete"
    page = web.submit(url, {}, form_url="/studio/ce").get_data(as_text=True)
    assert "Certificates were issued under this ASWB ACE approval, so it is part of your CE records" in page
    assert exists(ProviderApproval, id=approval.id)
    web.submit(f"/studio/ce/approvals/{mistyped.id}/delete", {}, form_url="/studio/ce")
    assert not exists(ProviderApproval, id=mistyped.id), "one that issued nothing goes"


def test_under_the_studio_the_database_refuses_to_lose_a_certificate(app, creator):
    offering = live_ce(creator)
    learner = enrol(offering)
    certificate(learner, years_ago=1)
    db.session.commit()
    user_id, offering_id = learner.user_id, offering.id
    for statement in (sa.delete(User).where(User.id == user_id), sa.delete(Offering).where(Offering.id == offering_id)):
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(statement)
    assert exists(Certificate, enrollment_id=learner.id)


@pytest.mark.parametrize("value", ["3", "seven", "-1"])
def test_a_retention_shorter_than_californias_four_years_is_refused(monkeypatch, tmp_path, value):
    monkeypatch.setenv("CE_RECORDS_RETENTION_YEARS", value)
    with pytest.raises(ConfigError, match="CE_RECORDS_RETENTION_YEARS"):
        load_config(tmp_path)
