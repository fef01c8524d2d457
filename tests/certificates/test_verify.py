"""The public verification page: anyone checks a certificate number, no login, nothing private shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import OfferingStatus

from ..factories.certificates import APPROVAL, ce_offering, enrol, finish, revoke


@pytest.fixture
def certificate():
    offering = ce_offering(ce_minutes=90, slug="grounding", title="Grounding Skills for Clinicians")
    enrollment = finish(enrol(offering, user__name="Zoë Łucja O’Brien", user__email="zoe@example.org"))
    enrollment.user.time_zone = "America/Los_Angeles"
    return issue_certificate(enrollment, now=datetime(2026, 11, 25, 3, 30, tzinfo=UTC))


def page(client, number: str):
    response = client.get(f"/certificates/{number}")
    return response, response.get_data(as_text=True)


def test_the_page_shows_what_the_certificate_states_without_a_login(client, certificate):
    response, html = page(client, certificate.number)
    assert response.status_code == 200
    assert "Valid certificate" in html
    for expected in (
        "Zoë Łucja O’Brien",
        "Grounding Skills for Clinicians",
        "Dana Reyes, LCSW",
        "1.5 CE hours",
        APPROVAL,
        "November 24, 2026",
        certificate.number,
    ):
        assert expected in html.replace("&#39;", "'"), expected
    assert 'href="/courses/grounding"' in html


def test_the_page_shows_no_e_mail_address(client, certificate):
    _, html = page(client, certificate.number)
    assert "zoe@example.org" not in html
    assert certificate.enrollment.offering.creator.user.email not in html


def test_search_engines_are_asked_not_to_index_it(client, certificate):
    _, html = page(client, certificate.number)
    assert '<meta name="robots" content="noindex">' in html


def test_an_unknown_number_is_404(client, certificate):
    response, html = page(client, "AQ-2222-3333-4444")
    assert response.status_code == 404
    assert "No certificate has the number AQ-2222-3333-4444" in html
    assert page(client, "nonsense")[0].status_code == 404


def test_a_number_typed_loosely_finds_its_page(client, certificate):
    loose = certificate.number.lower().replace("-", " ")
    response = client.get(f"/certificates/{loose}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/certificates/{certificate.number}"


def test_the_lookup_form_sends_a_number_to_its_page(client, certificate):
    assert "Certificate number" in client.get("/certificates").get_data(as_text=True)
    response = client.get("/certificates", query_string={"number": f" {certificate.number.lower()} "})
    assert response.headers["Location"] == f"/certificates/{certificate.number}"
    response = client.get("/certificates", query_string={"number": "12345"})
    assert response.status_code == 400
    assert "A certificate number looks like" in response.get_data(as_text=True)


def test_a_revoked_enrollment_shows_the_certificate_as_revoked_and_nothing_more(client, certificate):
    revoke(certificate.enrollment)
    response, html = page(client, certificate.number)
    assert response.status_code == 200
    assert "This certificate was revoked" in html
    assert certificate.number in html
    assert "Valid certificate" not in html
    for detail in ("Zoë", "Grounding Skills", "Dana Reyes", "CE hours"):
        assert detail not in html, detail


def test_a_draft_offering_is_named_but_not_linked(client, certificate):
    certificate.enrollment.offering.status = OfferingStatus.DRAFT
    db.session.flush()
    _, html = page(client, certificate.number)
    assert "Grounding Skills for Clinicians" in html
    assert 'href="/courses/grounding"' not in html


def test_the_page_is_rate_limited(client, certificate):
    statuses = [client.get("/certificates/AQ-2222-3333-4444").status_code for _ in range(31)]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
