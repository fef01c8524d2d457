"""The accreditors' rules, checked when a CE program is published: each broken rule says what to do, and a
program that meets them all publishes and shows the body's statement."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from courseplatform.continuing_education import creator_today
from courseplatform.extensions import db
from courseplatform.models import (
    AccreditingBody,
    CEClaim,
    CEFormat,
    OfferingKind,
    OfferingStatus,
    ProviderApproval,
    QuizChoice,
    QuizQuestion,
    utcnow,
)
from courseplatform.studio.offerings.ce_rules import ce_review

from ..factories import PASSWORD, CreatorProfileFactory, LiveSessionFactory, ProviderApprovalFactory, TopicFactory
from ..factories.certificates import CE_POLICIES, approved_program

ASWB, NBCC, NASW, APA, BBS = (
    AccreditingBody.ASWB,
    AccreditingBody.NBCC,
    AccreditingBody.NASW,
    AccreditingBody.APA,
    AccreditingBody.CA_BBS,
)


def problems(offering) -> list[str]:
    db.session.flush()
    db.session.expire(offering)
    return ce_review(offering, utcnow().date()).problems


def only(offering, fragment: str) -> None:
    found = problems(offering)
    assert len(found) == 1 and fragment in found[0], found


def test_a_program_that_meets_every_rule_of_its_bodies_has_no_problem(app):
    for bodies in ((ASWB, NBCC), (NASW,), (APA,), (BBS,), (ASWB, NBCC, NASW, APA, BBS)):
        assert problems(approved_program(*bodies)) == [], bodies


def test_ce_hours_need_a_body_that_approves_them(app):
    offering = approved_program(ASWB)
    offering.ce_claims.clear()
    only(offering, "Choose the bodies that approve these CE hours, or clear the CE hours")


def test_a_claim_needs_the_creators_approval_by_that_body(app):
    offering = approved_program(ASWB)
    db.session.add(CEClaim(offering=offering, body=NBCC))
    only(offering, "You have no NBCC approval on record")


def test_a_claim_needs_an_approval_of_the_programs_format(app):
    offering = approved_program(ASWB)
    db.session.query(ProviderApproval).filter_by(creator_id=offering.creator_id).update({"self_paced": False})
    only(offering, "Your ASWB ACE approval doesn't cover “Self-paced (home study)” programs")


def test_a_claim_needs_an_approval_that_covers_the_programs_dates(app):
    offering = approved_program(ASWB)
    ended = utcnow().date() - timedelta(days=1)
    db.session.query(ProviderApproval).filter_by(creator_id=offering.creator_id).update(
        {"approved_from": ended - timedelta(days=700), "approved_until": ended}
    )
    only(offering, "this program falls outside it on")


def test_a_live_programs_every_session_must_fall_in_the_approval(app):
    creator = CreatorProfileFactory(**CE_POLICIES)
    ProviderApprovalFactory(creator=creator, body=ASWB, approved_until=utcnow().date() + timedelta(days=30))
    offering = approved_program(
        ASWB, creator=creator, kind=OfferingKind.LIVE_WORKSHOP, questions=0, min_attendance_percent=100
    )
    LiveSessionFactory(offering=offering, starts_at=utcnow() + timedelta(days=10))
    assert problems(offering) == []
    late = LiveSessionFactory(offering=offering, starts_at=utcnow() + timedelta(days=45))
    # The session's day where it takes place (near midnight UTC, New York is still on the day before).
    only(offering, f"falls outside it on {late.starts_at.astimezone(ZoneInfo(late.time_zone)):%b %-d, %Y}")


def test_a_live_program_checks_attendance_and_warns_of_partial_credit(app):
    offering = approved_program(ASWB, kind=OfferingKind.LIVE_WORKSHOP, questions=0, min_attendance_percent=None)
    LiveSessionFactory(offering=offering, starts_at=utcnow() + timedelta(days=10))
    only(offering, "Live CE credit is given only for the time attended: set the minimum attendance")
    offering.min_attendance_percent = 80
    assert problems(offering) == []
    warned = ce_review(offering, utcnow().date()).warnings
    assert any("asks for 80 % attendance: most bodies give no partial credit" in warning for warning in warned)
    offering.min_attendance_percent, offering.attendance_grace_minutes = 100, 15
    assert problems(offering) == [] and ce_review(offering, utcnow().date()).warnings == []


def test_hours_come_in_half_hour_steps(app):
    offering = approved_program(ASWB, hours=1.25)
    only(offering, "CE hours are awarded in half-hour steps")


def test_the_format_must_be_how_the_offering_is_delivered(app):
    offering = approved_program(ASWB)
    offering.ce_format = CEFormat.LIVE_WEBINAR
    only(offering, "A self-paced course can't be offered as “Live interactive webinar”")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("ce_level", None, "Choose the instructional level"),
        ("ce_audience", " ", "Say who the program is for (target audience)"),
        ("ce_category", None, "Choose the credit category"),
        ("ce_presenters", "", "Name the presenters with their credentials"),
        ("ce_disclosure", "", "Disclose conflicts of interest and commercial support"),
    ],
)
def test_each_detail_the_bodies_ask_for_is_required(app, field, value, message):
    offering = approved_program(ASWB)
    setattr(offering, field, value)
    only(offering, message)


@pytest.mark.parametrize(
    "policy, name",
    [("ce_refund_policy", "refund and cancellation"), ("ce_grievance_policy", "grievance"),
     ("ce_accommodation_policy", "accommodation (ADA)")],
)  # fmt: skip
def test_the_providers_policies_are_required(app, policy, name):
    offering = approved_program(ASWB)
    setattr(offering.creator, policy, "")
    only(offering, f"Write your {name} policy")


def test_nasw_asks_for_three_objectives_and_apa_one_a_credit_hour(app):
    offering = approved_program(NASW)
    offering.ce_objectives = "Describe grounding\nApply it"
    only(offering, "NASW asks for at least 3 learning objectives for 3 hours; this program has 2")
    offering = approved_program(APA, hours=5)
    offering.ce_objectives = "One\nTwo\nThree\nFour"
    only(offering, "APA asks for at least 5 learning objectives for 5 hours; this program has 4")


def test_a_self_paced_program_ends_in_a_post_test(app):
    only(approved_program(BBS, questions=0), "A self-paced CE program ends in a post-test")


def test_nasw_post_test_size_true_false_share_and_pass_mark(app):
    offering = approved_program(NASW, hours=3, questions=19)
    only(offering, "NASW asks for at least 20 post-test questions for 3 hours; the quizzes have 19")
    offering = approved_program(NASW, hours=1, questions=8)
    quiz = next(lesson for lesson in offering.sections[0].lessons if lesson.questions)
    for n in range(2):
        question = QuizQuestion(lesson=quiz, prompt=f"True or false {n}", position=20 + n)
        question.choices = [QuizChoice(text="True", is_correct=True), QuizChoice(text="False")]
        db.session.add(question)
    only(offering, "NASW allows at most 10 % true/false questions; 2 of 10 are")
    offering = approved_program(NASW, hours=1)
    quiz = next(lesson for lesson in offering.sections[0].lessons if lesson.questions)
    quiz.quiz_pass_percent = 70
    only(offering, "NASW asks for a pass mark of at least 80 %; it is 70 %")


def test_nasw_forbids_advertising_approval_as_pending(app):
    offering = approved_program(NASW, description="NASW approval pending for 3 hours.")
    only(offering, "NASW doesn't allow advertising approval as pending")


def test_apa_warns_about_practice_building_topics_without_refusing(app):
    offering = approved_program(APA, title="Building a Private Practice Business")
    offering.topics.append(TopicFactory(name="Marketing"))
    review = ce_review(offering, utcnow().date())
    assert review.problems == []
    assert any("APA rarely accepts practice-building" in warning for warning in review.warnings)


def test_publishing_refuses_a_broken_claim_with_its_reason_and_publishes_a_sound_one(web):
    offering = approved_program(ASWB, NBCC)
    offering.ce_presenters = ""
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    overview = f"/studio/courses/{offering.id}"
    html = web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    assert "Name the presenters with their credentials (Continuing education)." in html
    db.session.refresh(offering)
    assert offering.status is OfferingStatus.DRAFT
    offering.ce_presenters = "Dana Reyes, LCSW"
    db.session.commit()
    assert "Published" in web.submit(f"{overview}/publish", {}, form_url=overview).get_data(as_text=True)
    page = web.client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    approval_number = db.session.query(ProviderApproval.provider_number).filter_by(body=ASWB).scalar()
    assert f"Dana Reyes, provider #{approval_number}, is approved as an ACE provider" in page
    assert "Social workers completing this course receive 3 continuing education credits" in page
    assert "This program offers 3 clock hours." in page  # NBCC's wording
    assert "Describe three grounding techniques" in page and "Full refund until you open the first lesson." in page


def test_the_statement_is_not_shown_once_the_approval_has_ended(client, app):
    offering = approved_program(ASWB, status=OfferingStatus.PUBLISHED, published_at=utcnow())
    db.session.commit()
    assert "approved as an ACE provider" in client.get(f"/courses/{offering.slug}").get_data(as_text=True)
    # Ended yesterday on the creator's calendar (near midnight UTC, their day may not have turned yet).
    ended = creator_today(offering.creator) - timedelta(days=1)
    db.session.query(ProviderApproval).update({"approved_until": ended})
    db.session.commit()
    assert "approved as an ACE provider" not in client.get(f"/courses/{offering.slug}").get_data(as_text=True)
