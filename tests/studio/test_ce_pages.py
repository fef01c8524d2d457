"""The studio's CE pages: a provider records approvals and policies, and gives an offering its CE details."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from courseplatform.extensions import db
from courseplatform.learning.certificates import EVALUATION_STATEMENTS, submit_evaluation
from courseplatform.models import (
    AccreditingBody,
    CECategory,
    CEClaim,
    CEFormat,
    OfferingStatus,
    ProviderApproval,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, ProviderApprovalFactory
from ..factories.certificates import RATINGS, approved_program, enrol, finish

RATINGS_KEYS = [key for key, _ in EVALUATION_STATEMENTS]
APPROVAL = {
    "body": "aswb",
    "provider_number": "1473",
    "approved_from": "2026-01-01",
    "approved_until": "2028-12-31",
    "self_paced": "y",
    "live_webinar": "y",
    "statement": "",
}


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="dana@example.org", display_name="Dana Reyes")
    web.login("dana@example.org", PASSWORD)
    return profile


def approvals(profile) -> list[ProviderApproval]:
    db.session.expire_all()
    return list(db.session.query(ProviderApproval).filter_by(creator_id=profile.id))


def test_an_approval_is_recorded_with_the_bodys_usual_statement_and_saving_it_again_renews_it(web, creator):
    page = web.submit("/studio/ce/approvals", APPROVAL, form_url="/studio/ce").get_data(as_text=True)
    assert "Added your ASWB ACE approval." in page and "Jan 1, 2026 – Dec 31, 2028" in page
    (approval,) = approvals(creator)
    assert approval.formats == [CEFormat.LIVE_WEBINAR, CEFormat.SELF_PACED]
    assert approval.statement.startswith("{provider}, provider #{number}, is approved as an ACE provider")
    renewed = web.submit("/studio/ce/approvals", {**APPROVAL, "approved_until": "2031-12-31"}, form_url="/studio/ce")
    assert "Updated your ASWB ACE approval." in renewed.get_data(as_text=True)
    assert [a.approved_until.year for a in approvals(creator)] == [2031]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"approved_until": "2025-12-31"}, "The approval ends before it starts"),
        ({"self_paced": "", "live_webinar": ""}, "Tick at least one format the body approved you for."),
        ({"provider_number": ""}, "Enter the number your approval letter gives."),
        ({"approved_until": "9999-12-31"}, ""),
        ({"approved_from": "2026-02-30"}, "Enter a date such as 2026-03-05."),
        ({"statement": "Approved {provider.__class__} {hours}"}, "“{provider.__class__}” isn't one we fill in"),
        ({"statement": "Approved by {board}"}, "“{board}” isn't one we fill in"),
        ({"body": "jcaho"}, "Not a valid choice"),
    ],
)
def test_a_bad_approval_is_refused_with_a_reason_and_changes_nothing(web, creator, change, message):
    response = web.submit("/studio/ce/approvals", {**APPROVAL, **change}, form_url="/studio/ce")
    assert response.status_code == 400
    assert message in unescape(response.get_data(as_text=True))
    assert approvals(creator) == []


def test_another_creators_approval_cannot_be_removed(web, creator):
    theirs = ProviderApprovalFactory()
    mine = ProviderApprovalFactory(creator=creator)
    db.session.commit()
    assert web.submit(f"/studio/ce/approvals/{theirs.id}/delete", {}, form_url="/studio/ce").status_code == 404
    page = web.submit(f"/studio/ce/approvals/{mine.id}/delete", {}, form_url="/studio/ce").get_data(as_text=True)
    assert "Removed your ASWB ACE approval." in page
    assert approvals(creator) == [] and db.session.get(ProviderApproval, theirs.id) is not None


def test_the_policies_are_saved_and_shown_back(web, creator):
    web.submit(
        "/studio/ce/policies",
        {"ce_provider_name": "Reyes Counseling", "ce_grievance_policy": "Write to us within 30 days."},
        form_url="/studio/ce",
    )
    db.session.refresh(creator)
    assert creator.ce_provider_name == "Reyes Counseling"
    assert creator.ce_grievance_policy == "Write to us within 30 days."


def test_an_offering_claims_only_bodies_that_approved_the_creator_and_keeps_its_details(web, creator):
    ProviderApprovalFactory(creator=creator, body=AccreditingBody.NBCC)
    offering = OfferingFactory(creator=creator, ce_minutes=180, status=OfferingStatus.DRAFT, published_at=None)
    db.session.commit()
    url = f"/studio/courses/{offering.id}/ce"
    page = web.client.get(url).get_data(as_text=True)
    assert 'value="nbcc"' in page and 'value="aswb"' not in page
    details = {
        "claims": ["nbcc", "aswb"],  # ASWB isn't one of the creator's approvals: not offered, not kept
        "ce_level": "advanced",
        "ce_category": "ethics",
        "ce_audience": "Counselors",
        "ce_objectives": "Name the duties\nApply them\nPlan ahead",
        "ce_presenters": "Dana Reyes, LCSW",
        "ce_disclosure": "None.",
    }
    saved = web.submit(url, details).get_data(as_text=True)
    assert "Saved the CE details." in saved
    db.session.refresh(offering)
    assert [claim.body for claim in offering.ce_claims] == [AccreditingBody.NBCC]
    assert offering.ce_category is CECategory.ETHICS and offering.objectives == [
        "Name the duties",
        "Apply them",
        "Plan ahead",
    ]
    # What publishing would say is on the page: here, the provider's policies are missing.
    assert "Write your refund and cancellation policy" in saved


def test_anothers_offering_ce_page_is_not_found(web, creator):
    theirs = OfferingFactory()
    db.session.commit()
    assert web.client.get(f"/studio/courses/{theirs.id}/ce").status_code == 404


def test_a_provider_hears_60_days_before_an_approval_ends_once_a_period(runner, mailbox, app):
    today = utcnow().date()
    ending = ProviderApprovalFactory(
        body=AccreditingBody.NBCC, approved_until=today + timedelta(days=45), creator__user__email="dana@example.org"
    )
    ProviderApprovalFactory(approved_until=today + timedelta(days=90))  # not yet
    ProviderApprovalFactory(approved_until=today - timedelta(days=1))  # already over
    claiming = OfferingFactory(creator=ending.creator, title="Grounding Skills")
    db.session.add(CEClaim(offering=claiming, body=AccreditingBody.NBCC))
    db.session.commit()
    result = runner.invoke(args=["warn-ce-approvals"])
    assert result.exit_code == 0, result.output
    assert "Warned 1 provider approval; 1 sent." in result.output
    (message,) = mailbox.messages
    assert message["To"] == "dana@example.org"
    assert message["Subject"] == f"Your NBCC approval ends on {ending.approved_until:%B %-d, %Y}"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "in 45 days" in body and "- Grounding Skills" in body and "/studio/ce" in body
    assert "Warned 0 provider approvals" in runner.invoke(args=["warn-ce-approvals"]).output
    # Renewed, then nearing its new end: warned again.
    ending = db.session.get(ProviderApproval, ending.id)
    ending.approved_until = today + timedelta(days=30)
    db.session.commit()
    assert "Warned 1 provider approval" in runner.invoke(args=["warn-ce-approvals"]).output


def test_the_evaluation_rates_each_objective_and_the_creator_reads_the_averages(web, client, app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, slug="grounding")
    learner = finish(enrol(offering))
    db.session.commit()
    web.login(learner.user.email, PASSWORD)
    form = client.get("/learn/grounding/evaluation").get_data(as_text=True)
    assert "I can now: Describe three grounding techniques" in form and 'name="objective_2"' in form
    answers = {**RATINGS, "objective_0": "5", "objective_1": "4", "objective_2": "3", "comments": "=SUM(A1) useful"}
    web.submit("/learn/grounding/evaluation", answers)
    for n, rating in enumerate((3, 2)):  # two more learners, rated in the service directly
        other = finish(enrol(offering, user__email=f"l{n}@example.org"))
        scores = dict.fromkeys(RATINGS, rating)
        submit_evaluation(other, scores, objectives=[(text, rating) for text in offering.objectives])
    db.session.commit()
    web.logout()
    web.login(offering.creator.user.email, PASSWORD)
    html = client.get(f"/studio/courses/{offering.id}/evaluations").get_data(as_text=True)
    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "3 learners evaluated this program." in page
    assert "Objective 1: Describe three grounding techniques 3.33" in page  # (5 + 3 + 2) / 3
    assert "Objective 3: Plan a first session 2.67" in page  # (3 + 3 + 2) / 3
    assert "=SUM(A1) useful" in page
    exported = client.get(f"/studio/courses/{offering.id}/evaluations.csv").get_data(as_text=True)
    header, *lines = exported.splitlines()
    assert header.startswith("month,") and header.endswith("objective_1,objective_2,objective_3,comments")
    assert len(lines) == 3 and any(line.endswith(",5,4,3,'=SUM(A1) useful") for line in lines)
    assert lines == sorted(lines)  # in the order of what they say, not of who sent them when
    assert learner.user.email not in exported and learner.user.name not in exported


def test_the_evaluation_summary_runs_the_same_queries_for_few_and_many(web, client, app, count_queries):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    counts = []
    for size in (1, 30):
        for n in range(size):
            other = finish(enrol(offering, user__email=f"q{size}-{n}@example.org"))
            submit_evaluation(
                other, dict.fromkeys(RATINGS_KEYS, 4), "Fine", objectives=[(t, 4) for t in offering.objectives]
            )
        db.session.commit()
        with count_queries() as counter:
            assert client.get(f"/studio/courses/{offering.id}/evaluations").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
