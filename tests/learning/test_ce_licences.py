"""Learners' licences: asked once before the first CE certificate, editable, and deciding which body's
certificate a learner gets, with every field that body asks a certificate to state."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from pypdf import PdfReader

from courseplatform.continuing_education import certificate_fields
from courseplatform.extensions import db
from courseplatform.learning.certificate_pdf import certificate_pdf
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import (
    AccreditingBody,
    Certificate,
    LearnerLicence,
    OfferingStatus,
    Profession,
    ProviderApproval,
    utcnow,
)

from ..factories import PASSWORD, UserFactory
from ..factories.certificates import approved_program, enrol, evaluated, finish

ASWB, NBCC, APA, BBS = AccreditingBody.ASWB, AccreditingBody.NBCC, AccreditingBody.APA, AccreditingBody.CA_BBS


def licence(user, profession: Profession, kind: str, place: str = "Oregon", number: str = "12345") -> LearnerLicence:
    held = LearnerLicence(user_id=user.id, profession=profession, licence_type=kind, number=number, jurisdiction=place)
    db.session.add(held)
    db.session.flush()
    return held


def pdf_text(certificate) -> str:
    pdf = certificate_pdf(certificate, zone="UTC", verify_url="https://example.org/c/1")
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


@pytest.mark.parametrize(
    "profession, kind, place, body",
    [
        (Profession.SOCIAL_WORK, "LCSW", "Oregon", ASWB),
        (Profession.COUNSELING, "LPC", "Texas", NBCC),
        (Profession.SOCIAL_WORK, "LCSW", "CA", BBS),  # California's board first, when claimed
        (Profession.MARRIAGE_FAMILY, "LMFT", "California", BBS),
    ],
)
def test_the_certificate_answers_to_the_body_the_learners_licence_answers_to(app, profession, kind, place, body):
    offering = approved_program(ASWB, NBCC, BBS, status=OfferingStatus.PUBLISHED)
    user = UserFactory()
    held = licence(user, profession, kind, place)
    fields = certificate_fields(offering, [held], utcnow().date())
    assert fields["ce_body"] == body.value
    assert fields["learner_licence"] == f"{kind} 12345, {place}"


def test_a_licence_no_claimed_body_answers_to_gets_every_statement(app):
    offering = approved_program(ASWB, NBCC, status=OfferingStatus.PUBLISHED)
    fields = certificate_fields(
        offering, [licence(UserFactory(), Profession.PSYCHOLOGY, "Psychologist")], utcnow().date()
    )
    assert "ce_body" not in fields
    assert "approved as an ACE provider" in fields["ce_approval_statement"]
    assert "ACEP No." in fields["ce_approval_statement"]


def test_the_certificate_pdf_and_the_verification_page_state_every_field_the_body_asks_for(client, app):
    offering = approved_program(ASWB, NBCC, status=OfferingStatus.PUBLISHED, title="Grounding Skills")
    enrollment = finish(enrol(offering))
    licence(enrollment.user, Profession.SOCIAL_WORK, "LCSW", "Oregon", "CSW-4471")
    certificate = issue_certificate(enrollment)
    db.session.commit()
    text = pdf_text(certificate)
    approval = db.session.query(ProviderApproval).filter_by(body=ASWB).one()
    for expected in (
        enrollment.user.name.split()[0],
        "Grounding Skills",
        "3 CE hours awarded",
        "Licence LCSW CSW-4471, Oregon · Self-paced (home study) · Clinical practice",
        "Presented by Dana Reyes, LCSW",
        f"Dana Reyes, ASWB ACE provider #{approval.provider_number}, approval period",
        "Social workers completing this course receive 3 continuing education credits (self-paced home study)",
        certificate.number,
    ):
        assert expected in text, f"{expected!r} not in {text!r}"
    assert "ACEP No." not in text  # the NBCC variant is another certificate
    page = unescape(client.get(f"/certificates/{certificate.number}").get_data(as_text=True))
    for expected in (
        "LCSW CSW-4471, Oregon",
        "Self-paced (home study)",
        "Dana Reyes, LCSW",
        "approval period",
        "ASWB ACE provider #",
    ):
        assert expected in page, expected


def test_the_licence_is_asked_once_at_the_first_ce_attestation(web, client, app):
    offering = approved_program(ASWB, status=OfferingStatus.PUBLISHED, slug="grounding")
    enrollment = finish(enrol(offering))
    evaluated(enrollment)
    db.session.commit()
    web.login(enrollment.user.email, PASSWORD)
    page = client.get("/learn/grounding/attestation").get_data(as_text=True)
    assert "Your licence" in page and 'name="licence-number"' in page
    refused = web.submit("/learn/grounding/attestation", {"attest": "y"}).get_data(as_text=True)
    assert "Enter your licence number." in refused
    assert db.session.query(LearnerLicence).count() == 0
    web.submit(
        "/learn/grounding/attestation",
        {
            "attest": "y",
            "licence-profession": "social_work",
            "licence-licence_type": "LCSW",
            "licence-number": "CSW-4471",
            "licence-jurisdiction": "Oregon",
        },
    )
    db.session.expire_all()
    certificate = db.session.query(Certificate).one()
    assert certificate.learner_licence == "LCSW CSW-4471, Oregon" and certificate.ce_body == "aswb"
    # The next CE program doesn't ask again: it names the licence on record.
    other = approved_program(ASWB, creator=offering.creator, status=OfferingStatus.PUBLISHED, slug="second")
    evaluated(finish(enrol(other, user=enrollment.user)))
    db.session.commit()
    again = client.get("/learn/second/attestation").get_data(as_text=True)
    assert 'name="licence-number"' not in again and "LCSW CSW-4471, Oregon" in again


def test_licences_are_added_once_per_place_and_only_their_owner_removes_them(web, client, app):
    user = UserFactory(email="jo@example.org")
    theirs = licence(UserFactory(), Profession.COUNSELING, "LPC")
    db.session.commit()
    web.login("jo@example.org", PASSWORD)
    values = {"profession": "counseling", "licence_type": "LPC", "number": "77", "jurisdiction": "Texas"}
    assert "Added your LPC licence." in web.submit("/learn/ce/licences", values).get_data(as_text=True)
    again = web.submit("/learn/ce/licences", {**values, "licence_type": "lpc", "jurisdiction": "texas"})
    assert "You already have your LPC of Texas on record." in unescape(again.get_data(as_text=True))
    assert web.submit(f"/learn/ce/licences/{theirs.id}/delete", {}, form_url="/learn/ce/licences").status_code == 404
    mine = db.session.query(LearnerLicence).filter_by(user_id=user.id).one()
    removed = web.submit(f"/learn/ce/licences/{mine.id}/delete", {}, form_url="/learn/ce/licences")
    assert "Removed your LPC licence." in removed.get_data(as_text=True)
    assert db.session.query(LearnerLicence).count() == 1


def test_the_ce_wallet_totals_hours_by_body_and_category_and_exports_them(web, client, app, count_queries):
    user = UserFactory(email="jo@example.org", time_zone="America/Chicago")
    licence(user, Profession.SOCIAL_WORK, "LCSW", "Oregon", "CSW-1")
    offerings = [
        approved_program(ASWB, status=OfferingStatus.PUBLISHED, title="Grounding", hours=3),
        approved_program(ASWB, NBCC, status=OfferingStatus.PUBLISHED, title="Grief", hours=1.5),
        approved_program(NBCC, status=OfferingStatus.PUBLISHED, title="Counselor only", hours=2),
    ]
    for offering in offerings:
        issue_certificate(finish(enrol(offering, user=user)))
    refunded = approved_program(ASWB, status=OfferingStatus.PUBLISHED, title="Refunded", hours=6)
    certificate = issue_certificate(finish(enrol(refunded, user=user)))
    certificate.revoked_at = utcnow()  # a revoked certificate counts for nothing
    db.session.commit()
    web.login("jo@example.org", PASSWORD)
    with count_queries() as counter:
        html = client.get("/learn/ce").get_data(as_text=True)
    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert "ASWB ACE Clinical practice 2 4.5" in page  # Grounding 3 h + Grief 1.5 h, both answering to ASWB
    assert "Not tied to a body Clinical practice 1 2" in page  # an LCSW's certificate from an NBCC-only program
    assert "Refunded" not in page
    rows = client.get("/learn/ce.csv").get_data(as_text=True).splitlines()
    assert rows[0].startswith("completed_on,title,hours,body,category")
    assert len(rows) == 4 and any(",Grief,1.5,ASWB ACE,Clinical practice," in row for row in rows)
    assert counter.count < 15

    # The same as one PDF transcript for the licensing board: totals, then a line per certificate.
    answer = client.get("/learn/ce.pdf")
    assert answer.mimetype == "application/pdf" and answer.headers["Cache-Control"] == "private, no-store"
    transcript = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.data)).pages).split())
    assert "Continuing education transcript" in transcript and "LCSW CSW-1, Oregon" in transcript
    assert "6.5 CE hours in all" in transcript
    assert "ASWB ACE Clinical practice 2 4.5" in transcript
    for title in ("Grounding", "Grief", "Counselor only"):
        assert title in transcript
    assert "Refunded" not in transcript
    numbers = [row.split(",")[-2] for row in rows[1:]]
    assert all(number in transcript for number in numbers)


def test_the_ce_wallet_page_runs_the_same_queries_for_few_and_many_certificates(web, client, app, count_queries):
    user = UserFactory(email="many@example.org")
    db.session.commit()
    web.login("many@example.org", PASSWORD)
    counts = []
    for size in (1, 12):
        for n in range(size):
            offering = approved_program(ASWB, status=OfferingStatus.PUBLISHED, title=f"Program {size}-{n}")
            issue_certificate(finish(enrol(offering, user=user)))
        db.session.commit()
        with count_queries() as counter:
            page = client.get("/learn/ce").get_data(as_text=True)
        assert "Completed" in page and "Download as CSV" in page
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
