"""A published offering's CE claims keep standing: an edit in Details, the curriculum, a quiz or the
live sessions that would break a claimed body's rule is refused with the rule and changes nothing, while
a draft, or an edit that breaks nothing new, saves as before."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import (
    AccreditingBody,
    LessonKind,
    Offering,
    OfferingKind,
    OfferingStatus,
    ProviderApproval,
    QuizQuestion,
    utcnow,
)
from courseplatform.studio.curriculum import services
from courseplatform.studio.curriculum.services import CurriculumError, SessionChanges

from ..factories import PASSWORD
from ..factories.certificates import approved_program, lessons_of
from ..factories.live import LiveSessionFactory
from ..helpers import csrf_token_from

NASW, ASWB = AccreditingBody.NASW, AccreditingBody.ASWB


def published(offering: Offering) -> Offering:
    offering.status, offering.published_at = OfferingStatus.PUBLISHED, utcnow()
    db.session.commit()
    return offering


def quiz_of(offering):
    return next(lesson for lesson in lessons_of(offering) if lesson.kind is LessonKind.QUIZ)


def questions(offering) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(QuizQuestion).filter_by(lesson_id=quiz_of(offering).id)
    )


def test_details_that_break_a_rule_are_refused_and_nothing_changes(web, client):
    offering = published(approved_program(ASWB, hours=3))
    web.login(offering.creator.user.email, PASSWORD)
    page = client.get(f"/studio/courses/{offering.id}/edit").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_from(page),
        "title": "Grounding skills (new edition)",
        "slug": offering.slug,
        "kind": "course",
        "price_kind": "free",
        "ce_minutes": "2.25",
    }
    response = client.post(f"/studio/courses/{offering.id}/edit", data=form)
    text = response.get_data(as_text=True)
    assert "is published with CE credit, so nothing was changed" in text
    assert "CE hours are awarded in half-hour steps" in text
    db.session.expire_all()
    assert (offering.ce_minutes, offering.title) == (180, offering.title)
    assert offering.title != "Grounding skills (new edition)"

    form["ce_minutes"] = "3"  # the same hours, a new title: saved
    client.post(f"/studio/courses/{offering.id}/edit", data=form)
    db.session.expire_all()
    assert offering.title == "Grounding skills (new edition)"


def test_a_post_test_cant_shrink_below_nasws_size_or_pass_mark(app):
    offering = published(approved_program(NASW, hours=1))  # NASW: 10 questions for the first hour, 80 %
    quiz = quiz_of(offering)
    with pytest.raises(CurriculumError, match="NASW"):
        services.delete_question(quiz, quiz.questions[0])
    assert questions(offering) == 10
    with pytest.raises(CurriculumError, match="pass mark"):
        services.save_quiz_settings(quiz_of(offering), 70, None, True)
    db.session.expire_all()
    assert quiz_of(offering).quiz_pass_percent == 80
    # A new question breaks nothing: added.
    services.save_question(quiz_of(offering), None, "One more?", "", [("Yes", True), ("Perhaps", False), ("No", False)])
    assert questions(offering) == 11


def test_the_post_test_cant_become_a_text_lesson_or_be_deleted(app):
    offering = published(approved_program(ASWB))
    quiz = quiz_of(offering)
    changes = services.LessonChanges(
        title="Post-test", kind=LessonKind.TEXT, body="Read this.", is_preview=False,
        available_after_days=0, duration_seconds=None, live_session=None,
    )  # fmt: skip
    with pytest.raises(CurriculumError, match="post-test"):
        services.update_lesson(quiz, changes, offering.creator.user)
    db.session.expire_all()
    assert quiz_of(offering).kind is LessonKind.QUIZ
    with pytest.raises(CurriculumError, match="post-test"):
        services.delete_lesson(quiz_of(offering))
    assert quiz_of(offering) is not None


def test_a_live_session_cant_move_outside_the_approval(app):
    offering = approved_program(ASWB, kind=OfferingKind.LIVE_WORKSHOP, questions=0, min_attendance_percent=100)
    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=offering.creator_id))
    approval.approved_until = utcnow().date() + timedelta(days=60)
    session = LiveSessionFactory(offering=offering, starts_at=utcnow() + timedelta(days=10), time_zone="UTC")
    published(offering)
    moved = datetime.combine(utcnow().date() + timedelta(days=90), datetime.min.time()).replace(hour=18)
    changes = SessionChanges("Evening 1", moved, "UTC", 90, None, "https://meet.example.com/room")
    with pytest.raises(CurriculumError, match="falls outside it"):
        services.save_live_session(offering, session, changes)
    db.session.expire_all()
    assert session.starts_at.date() == (utcnow() + timedelta(days=10)).date()
    nearer = datetime.combine(utcnow().date() + timedelta(days=20), datetime.min.time()).replace(hour=18)
    services.save_live_session(offering, session, SessionChanges("Evening 1", nearer, "UTC", 90, None, ""))
    assert session.starts_at.date() == nearer.date()


def test_a_problem_it_already_had_doesnt_block_an_unrelated_edit(app):
    offering = published(approved_program(NASW, hours=1))
    quiz = quiz_of(offering)
    quiz.quiz_pass_percent = 70  # as if saved before the rule was checked
    db.session.commit()
    services.save_question(quiz, None, "One more?", "", [("Yes", True), ("No", False), ("Maybe", False)])
    assert questions(offering) == 11


def test_a_draft_is_edited_freely(app):
    offering = approved_program(NASW, hours=1)
    quiz = quiz_of(offering)
    services.delete_question(quiz, quiz.questions[0])
    assert questions(offering) == 9


def test_a_policy_or_approval_change_that_would_break_a_published_claim_is_refused(web, client):
    offering = published(approved_program(ASWB))
    web.login(offering.creator.user.email, PASSWORD)
    page = client.get("/studio/ce").get_data(as_text=True)
    cleared = {
        "csrf_token": csrf_token_from(page),
        "ce_provider_name": "Reyes Clinical Training",
        "ce_refund_policy": "",
        "ce_grievance_policy": offering.creator.ce_grievance_policy,
        "ce_accommodation_policy": offering.creator.ce_accommodation_policy,
    }
    answer = client.post("/studio/ce/policies", data=cleared)
    assert answer.status_code == 400
    assert f"“{offering.title}” is published with CE credit, so nothing was changed" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert offering.creator.ce_refund_policy

    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=offering.creator_id))
    client.post(f"/studio/ce/approvals/{approval.id}/delete", data={"csrf_token": csrf_token_from(page)})
    db.session.expire_all()
    assert db.session.get(ProviderApproval, approval.id) is not None, "the claim it stands on stays"
