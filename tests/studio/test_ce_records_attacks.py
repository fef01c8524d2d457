"""Attacks on CE records retention and on `ce_rules_kept`, each a defect found in review and fixed."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from courseplatform.continuing_education import creator_today
from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import (
    AccreditingBody,
    Attendance,
    LessonKind,
    MediaAsset,
    OfferingStatus,
    ProviderApproval,
    utcnow,
)
from courseplatform.studio.ce.services import ApprovalKept, delete_approval, save_approval
from courseplatform.studio.curriculum import services
from courseplatform.studio.live.services import AttendanceKept, save_attendance
from courseplatform.studio.offerings.ce_rules import ce_review

from ..factories import PASSWORD
from ..factories.certificates import approved_program, attended, enrol, finish, lessons_of, live_session
from ..helpers import csrf_token_from

NASW, ASWB = AccreditingBody.NASW, AccreditingBody.ASWB
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def published(offering):
    offering.status, offering.published_at = OfferingStatus.PUBLISHED, utcnow()
    db.session.commit()
    return offering


def quiz_of(offering):
    return next(lesson for lesson in lessons_of(offering) if lesson.kind is LessonKind.QUIZ)


# 1. `ce_rules_kept` compares problems as text, and the texts carry counts: a published offering with a
#    problem it already had (pass mark 70, or 10 of NASW's 15 questions) can't be brought closer to the rule:
#    each step "adds" a problem whose text differs by its number.
def test_improving_a_problem_it_already_had_is_refused(app):
    offering = published(approved_program(NASW, hours=2, questions=10))  # NASW: 15 for 2 hours
    quiz = quiz_of(offering)
    quiz.quiz_pass_percent = 70  # published before the rules were checked
    db.session.commit()
    assert len(ce_review(offering, creator_today(offering.creator)).problems) == 2
    services.save_question(quiz, None, "Eleventh?", "", [("Yes", True), ("Perhaps", False), ("No", False)])
    services.save_quiz_settings(quiz, 75, None, True)  # closer to NASW's 80 %
    db.session.expire_all()
    assert quiz_of(offering).quiz_pass_percent == 75
    assert len(quiz_of(offering).questions) == 11


# 2. The README: "A problem the offering already had (an approval that ended since) doesn't block unrelated
#    edits." On the offering's CE tab it does: with an approval that ended, fixing a typo in the disclosure
#    is refused.
def test_the_ce_tab_refuses_an_unrelated_edit_over_a_problem_it_already_had(web, client):
    offering = published(approved_program(ASWB, hours=3))
    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=offering.creator_id))
    approval.approved_until = utcnow().date() - timedelta(days=2)  # ended since publishing
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    url = f"/studio/courses/{offering.id}/ce"
    page = client.get(url).get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_from(page),
        "claims": ["aswb"],
        "ce_format": offering.ce_format.value if offering.ce_format else "",
        "ce_level": offering.ce_level.value,
        "ce_category": offering.ce_category.value,
        "ce_audience": offering.ce_audience,
        "ce_objectives": offering.ce_objectives,
        "ce_presenters": offering.ce_presenters,
        "ce_disclosure": "None (typo fixed).",
    }
    response = client.post(url, data=form)
    db.session.expire_all()
    assert offering.ce_disclosure == "None (typo fixed).", f"refused ({response.status_code})"


# 3. Records retention: blanking a learner's box on the attendance page deletes their Attendance row
#    (the sign-in sheet with it), on a CE offering, after their CE certificate was issued.
def test_blanking_a_box_deletes_a_ce_attendance_record(app):
    offering = approved_program(ASWB, hours=2, questions=0)
    session = live_session(offering, minutes=120)
    enrollment = finish(enrol(offering))
    attended(enrollment, session, 120)
    issue_certificate(enrollment)
    with pytest.raises(AttendanceKept, match="Enter 0 for someone who didn't come"):
        save_attendance(offering, session, {enrollment.id: None})
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attendance)) == 1


# 4. Records retention: a learner whose licences answer to none of the claimed bodies (or who has none)
#    gets a certificate carrying every claimed body's approval statement, but ce_body and provider_number
#    stay empty, so the approval it was issued under can be deleted the next day.
def test_an_approval_named_only_in_a_certificates_statement_can_be_deleted(app):
    offering = approved_program(ASWB, hours=2)
    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=offering.creator_id))
    certificate = issue_certificate(finish(enrol(offering)))
    assert approval.provider_number in certificate.ce_approval_statement and certificate.ce_body == ""
    with pytest.raises(ApprovalKept):
        delete_approval(approval)


# 5. A Details save refused by `ce_rules_kept` after a cover image was stored: the database rolls back but
#    the file stays in storage, referenced by nothing.
def test_a_refused_details_save_leaves_its_cover_file_in_storage(app, web, client):
    offering = published(approved_program(ASWB, hours=3))
    web.login(offering.creator.user.email, PASSWORD)
    media = Path(app.config["MEDIA_ROOT"])
    before = {path for path in media.rglob("*") if path.is_file()} if media.exists() else set()
    page = client.get(f"/studio/courses/{offering.id}/edit").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_from(page),
        "title": offering.title,
        "slug": offering.slug,
        "kind": "course",
        "price_kind": "free",
        "ce_minutes": "2.25",  # off the half-hour: refused
        "cover": (io.BytesIO(PNG), "cover.png"),
    }
    response = client.post(f"/studio/courses/{offering.id}/edit", data=form, content_type="multipart/form-data")
    assert "nothing was changed" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MediaAsset)) == 0
    after = {path for path in media.rglob("*") if path.is_file()} if media.exists() else set()
    assert after - before == set(), f"left in storage: {sorted(str(p) for p in after - before)}"


# 6. Records retention: an approval certificates were issued under can't be deleted, but saving the same
#    body's approval again (an overlapping period) rewrites its provider number in place, after which the
#    delete check (which matches certificates by provider number) lets it go.
def test_an_approval_renumbered_in_place_can_then_be_deleted(app):
    offering = approved_program(ASWB, hours=2)
    approval = db.session.scalar(sa.select(ProviderApproval).filter_by(creator_id=offering.creator_id))
    enrollment = finish(enrol(offering))
    certificate = issue_certificate(enrollment)
    certificate.ce_body, certificate.provider_number = "aswb", approval.provider_number  # an ASWB-licensed learner
    db.session.flush()
    with pytest.raises(ApprovalKept):
        delete_approval(approval)
    values = {
        "body": "aswb", "provider_number": "TYPO-0000", "approved_from": approval.approved_from,
        "approved_until": approval.approved_until, "statement": approval.statement,
        **dict.fromkeys(("live_in_person", "live_webinar", "self_paced"), True),
    }  # fmt: skip
    number = approval.provider_number
    with pytest.raises(ApprovalKept, match=f"provider number {number}, so that approval is part of your CE records"):
        save_approval(offering.creator, values)
    assert approval.provider_number == number
    with pytest.raises(ApprovalKept):
        delete_approval(approval)
