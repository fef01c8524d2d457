"""The way to a certificate: content → attendance → evaluation → attestation → certificate, in that order
and no other; offerings without CE hours go straight to a claim button."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.certificates import Step, completion_of, issue_certificate
from courseplatform.models import Certificate, OfferingEvaluation

from ..factories import PASSWORD
from ..factories.certificates import RATINGS, attended, ce_offering, enrol, evaluated, finish, live_session, revoke
from ..helpers import csrf_token_from


@pytest.fixture
def offering():
    return ce_offering(ce_minutes=180, slug="grounding", title="Grounding Skills for Clinicians")


@pytest.fixture
def learner(web, offering):
    enrollment = enrol(offering)
    web.login(enrollment.user.email, PASSWORD)
    return enrollment


def certificates_of(enrollment) -> list[Certificate]:
    return list(db.session.scalars(sa.select(Certificate).where(Certificate.enrollment_id == enrollment.id)))


def evaluation_of(enrollment) -> OfferingEvaluation | None:
    return db.session.scalar(sa.select(OfferingEvaluation).where(OfferingEvaluation.enrollment_id == enrollment.id))


def post(client, url: str, data: dict, form_page: str = "/learn"):
    token = csrf_token_from(client.get(form_page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def flashed(client, response) -> str:
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_evaluation_waits_until_every_lesson_is_done(client, learner):
    response = client.get("/learn/grounding/evaluation")
    assert response.headers["Location"] == "/learn/grounding"
    assert "Finish every lesson first" in flashed(client, client.get("/learn/grounding/evaluation"))


def test_attestation_before_the_evaluation_sends_the_learner_to_the_evaluation(client, learner):
    finish(learner)
    response = client.get("/learn/grounding/attestation")
    assert response.headers["Location"] == "/learn/grounding/evaluation"
    assert "Complete the evaluation first" in flashed(client, client.get("/learn/grounding/attestation"))


def test_the_steps_open_one_after_the_other(web, client, learner):
    finish(learner)
    page = client.get("/learn/grounding/evaluation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for statement in ("The learning objectives were met", "The activity was free of commercial bias"):
        assert statement in html
    assert "Strongly disagree" in html and "Strongly agree" in html

    response = web.submit(
        "/learn/grounding/evaluation", {**RATINGS, "comments": "  Box breathing.  "}, follow_redirects=False
    )
    assert response.headers["Location"] == "/learn/grounding/attestation"
    evaluation = evaluation_of(learner)
    assert evaluation.ratings == {key: int(value) for key, value in RATINGS.items()}
    assert evaluation.comments == "Box breathing."
    assert completion_of(learner).step is Step.ATTESTATION
    assert not certificates_of(learner)

    # The evaluation can't be sent twice: it now points to the attestation.
    assert client.get("/learn/grounding/evaluation").headers["Location"] == "/learn/grounding/attestation"

    page = client.get("/learn/grounding/attestation").get_data(as_text=True)
    expected = (
        "I attest that I, Zoë Łucja O’Brien, completed the entire activity, Grounding Skills for Clinicians, "
        "and that I am claiming 3 CE hours commensurate with my participation."
    )
    assert expected in page.replace("&#39;", "'").replace("&amp;", "&")
    response = web.submit("/learn/grounding/attestation", {"attest": "y"}, follow_redirects=False)
    assert response.headers["Location"] == "/learn/grounding"
    db.session.refresh(evaluation)
    assert evaluation.attestation_text == expected
    assert evaluation.attested_at is not None
    [certificate] = certificates_of(learner)
    assert certificate.ce_minutes == 180
    assert certificate.learner_name == "Zoë Łucja O’Brien"
    assert certificate.number in client.get("/learn/grounding").get_data(as_text=True)

    # Every step is behind the learner now.
    assert "already have your certificate" in flashed(client, client.get("/learn/grounding/attestation"))
    assert client.get("/learn/grounding/evaluation").headers["Location"] == "/learn/grounding"


def test_every_rating_is_required_and_nothing_is_stored_without_them(web, learner):
    finish(learner)
    partial = {key: value for key, value in RATINGS.items() if key != "presenter_effective"}
    response = web.submit("/learn/grounding/evaluation", {**partial, "comments": "Useful"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Choose how much you agree with this statement." in html
    assert html.count("Choose how much you agree") == 1, "only the statement left unanswered is marked"
    assert evaluation_of(learner) is None


@pytest.mark.parametrize("bad", ["0", "6", "five", ""])
def test_a_rating_outside_one_to_five_is_refused(web, learner, bad):
    finish(learner)
    response = web.submit("/learn/grounding/evaluation", {**RATINGS, "objectives_met": bad})
    assert response.status_code == 200
    assert "Please correct the item marked below." in response.get_data(as_text=True)
    assert evaluation_of(learner) is None


def test_a_comment_over_two_thousand_characters_is_refused(web, learner):
    finish(learner)
    response = web.submit("/learn/grounding/evaluation", {**RATINGS, "comments": "x" * 2001})
    assert "Please keep this under 2,000 characters." in response.get_data(as_text=True)
    assert evaluation_of(learner) is None


def test_an_unticked_attestation_issues_no_certificate(web, learner):
    finish(learner)
    evaluated(learner)
    response = web.submit("/learn/grounding/attestation", {})
    assert response.status_code == 200
    assert "Tick the box to sign the attestation" in response.get_data(as_text=True)
    assert not certificates_of(learner)
    assert evaluation_of(learner).attested_at is None


def test_the_certificate_is_issued_once_even_when_the_attestation_is_sent_twice(client, learner):
    finish(learner)
    evaluated(learner)
    token = csrf_token_from(client.get("/learn/grounding/attestation").get_data(as_text=True))
    first = client.post("/learn/grounding/attestation", data={"csrf_token": token, "attest": "y"})
    second = client.post("/learn/grounding/attestation", data={"csrf_token": token, "attest": "y"})
    assert first.status_code == second.status_code == 302
    assert len(certificates_of(learner)) == 1


def test_issuing_again_returns_the_certificate_already_issued(learner):
    finish(learner)
    first = issue_certificate(learner)
    assert issue_certificate(learner).number == first.number
    assert len(certificates_of(learner)) == 1


def test_an_offering_without_ce_hours_goes_straight_to_claiming_the_certificate(web, client):
    offering = ce_offering(ce_minutes=None, slug="burnout", title="Burnout First Aid")
    enrollment = finish(enrol(offering))
    web.login(enrollment.user.email, PASSWORD)
    assert completion_of(enrollment).step is Step.CLAIM
    html = client.get("/learn/burnout").get_data(as_text=True)
    assert "Get your certificate" in html
    assert "Complete the evaluation" not in html
    assert "no CE evaluation" in flashed(client, client.get("/learn/burnout/evaluation"))
    assert client.get("/learn/burnout/attestation").headers["Location"] == "/learn/burnout"

    response = post(client, "/learn/burnout/certificate", {}, form_page="/learn/burnout")
    assert response.headers["Location"] == "/learn/burnout"
    post(client, "/learn/burnout/certificate", {}, form_page="/learn/burnout")
    [certificate] = certificates_of(enrollment)
    assert certificate.ce_minutes is None
    assert certificate.ce_approval_statement == ""
    html = client.get("/learn/burnout").get_data(as_text=True)
    assert "Download your certificate" in html
    assert certificate.number in html


def test_claiming_before_the_last_lesson_changes_nothing(web, client):
    offering = ce_offering(ce_minutes=None, slug="burnout")
    enrollment = enrol(offering)
    web.login(enrollment.user.email, PASSWORD)
    response = post(client, "/learn/burnout/certificate", {})
    assert "Finish every lesson first" in flashed(client, response)
    assert not certificates_of(enrollment)


def test_a_ce_offering_cannot_be_claimed_without_the_evaluation(client, learner):
    finish(learner)
    response = post(client, "/learn/grounding/certificate", {})
    assert response.headers["Location"] == "/learn/grounding/evaluation"
    assert not certificates_of(learner)


def test_minimum_attendance_holds_the_certificate_back_until_it_is_met(web, client):
    offering = ce_offering(ce_minutes=None, slug="couples-live", min_attendance_percent=75)
    first, second = live_session(offering, days=-14), live_session(offering, days=-7, title="Evening 2")
    enrollment = finish(enrol(offering))
    web.login(enrollment.user.email, PASSWORD)
    attended(enrollment, first, 100)
    attended(enrollment, second, 20)  # 120 of 200 minutes: 60 %

    assert completion_of(enrollment).step is Step.ATTENDANCE
    html = client.get("/learn/couples-live").get_data(as_text=True)
    assert "Attend at least 75% of the live sessions (you have 60%)" in html
    response = post(client, "/learn/couples-live/certificate", {}, form_page="/learn/couples-live")
    assert "Attend at least 75% of the live sessions first (you have 60%)" in flashed(client, response)
    assert not certificates_of(enrollment)

    db.session.execute(
        sa.text("UPDATE attendances SET minutes_attended = 60 WHERE live_session_id = :id"), {"id": second.id}
    )
    db.session.expire_all()
    assert completion_of(enrollment).step is Step.CLAIM
    post(client, "/learn/couples-live/certificate", {}, form_page="/learn/couples-live")
    assert len(certificates_of(enrollment)) == 1


def test_minimum_attendance_comes_before_the_evaluation_of_a_ce_workshop(web, client):
    offering = ce_offering(ce_minutes=90, slug="ce-live", min_attendance_percent=50)
    live_session(offering)
    enrollment = finish(enrol(offering))
    web.login(enrollment.user.email, PASSWORD)
    assert "Attend at least 50% of the live sessions first (you have 0%)" in flashed(
        client, client.get("/learn/ce-live/evaluation")
    )


def test_the_outline_names_the_next_step(web, client, offering):
    enrollment = enrol(offering)
    web.login(enrollment.user.email, PASSWORD)
    assert "Finish 2 more lessons" in client.get("/learn/grounding").get_data(as_text=True)
    finish(enrollment)
    html = client.get("/learn/grounding").get_data(as_text=True)
    assert "Complete the evaluation" in html and "/learn/grounding/evaluation" in html
    evaluated(enrollment)
    assert "Sign the attestation" in client.get("/learn/grounding").get_data(as_text=True)


def test_the_outline_counts_the_quizzes_still_to_pass(web, client):
    offering = ce_offering(ce_minutes=None, slug="quizzed", lessons=1, quiz=True)
    enrollment = enrol(offering)
    web.login(enrollment.user.email, PASSWORD)
    assert "Finish 2 more lessons (with 1 quiz to pass)" in client.get("/learn/quizzed").get_data(as_text=True)


def test_a_revoked_learner_can_take_no_step(web, client, learner):
    finish(learner)
    evaluated(learner)
    revoke(learner)
    assert client.get("/learn/grounding/evaluation").status_code == 404
    assert client.get("/learn/grounding/attestation").status_code == 404
    token = csrf_token_from(client.get("/learn").get_data(as_text=True))
    assert client.post("/learn/grounding/attestation", data={"csrf_token": token, "attest": "y"}).status_code == 404
    assert client.post("/learn/grounding/certificate", data={"csrf_token": token}).status_code == 404
    assert not certificates_of(learner)


def test_someone_not_enrolled_gets_404(web, client, offering):
    other = enrol(ce_offering(slug="elsewhere"))
    web.login(other.user.email, PASSWORD)
    assert client.get("/learn/grounding/evaluation").status_code == 404
    assert client.get("/learn/grounding/certificate.pdf").status_code == 404


def test_the_steps_ask_for_a_login(client, offering):
    response = client.get("/learn/grounding/evaluation")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
