"""Certificates' audit trail: revocations, reissues and corrections, each with who, when and why; a corrected
certificate gets a new number and its old one verifies as superseded."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from courseplatform.enrollments import access_changes
from courseplatform.extensions import db
from courseplatform.learning.certificates import issue_certificate
from courseplatform.models import AuditEntry, Certificate, OfferingStatus, SupersededCertificate

from ..factories import PASSWORD
from ..factories.certificates import approved_program, enrol, finish
from ..helpers import csrf_token_from


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def trail(certificate) -> list[tuple[str, str]]:
    return [
        (entry.action, entry.actor_email)
        for entry in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.target_id == certificate.id).order_by(AuditEntry.id)
        )
    ]


def issued():
    offering = approved_program(status=OfferingStatus.PUBLISHED, slug="grounding")
    enrollment = finish(enrol(offering, user__name="Jon Smyth"))
    certificate = issue_certificate(enrollment)
    db.session.commit()
    return offering, enrollment, certificate


def test_a_corrected_certificate_gets_a_new_number_and_the_old_one_says_superseded(web, client, app):
    offering, enrollment, certificate = issued()
    old_number = certificate.number
    web.login(offering.creator.user.email, PASSWORD)
    url = f"/studio/courses/{offering.id}/learners/{enrollment.id}"
    page = web.submit(
        f"{url}/certificate/correct",
        {"learner_name": "Jon Smythe", "learner_licence": "LCSW 149.1, Illinois", "reason": "Legal name"},
        form_url=url,
    )
    db.session.expire_all()
    certificate = db.session.get(Certificate, certificate.id)
    assert certificate.number != old_number and certificate.learner_name == "Jon Smythe"
    shown = text(page.get_data(as_text=True))
    assert f"Reissued as {certificate.number}; {old_number} now verifies as superseded." in shown
    assert f"Corrected by {offering.creator.user.email}: {old_number} → {certificate.number}" in shown
    assert "name “Jon Smyth” → “Jon Smythe”" in shown and "Why: Legal name" in shown
    old = text(client.get(f"/certificates/{old_number}").get_data(as_text=True))
    assert "Superseded" in old and "replaced on" in old and certificate.number in old
    new = text(client.get(f"/certificates/{certificate.number}").get_data(as_text=True))
    assert "Jon Smythe" in new and "LCSW 149.1, Illinois" in new and "Valid certificate" in new
    again = web.submit(
        f"{url}/certificate/correct",
        {"learner_name": "Jon Smythe", "learner_licence": "LCSW 149.1, Illinois", "reason": "Again"},
        form_url=url,
    )
    assert "Nothing changed" in text(again.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(SupersededCertificate.id))) == 1


def test_a_correction_needs_a_reason_and_the_owner(web, client, app):
    offering, enrollment, certificate = issued()
    url = f"/studio/courses/{offering.id}/learners/{enrollment.id}"
    web.login(offering.creator.user.email, PASSWORD)
    refused = web.submit(f"{url}/certificate/correct", {"learner_name": "X", "reason": ""}, form_url=url)
    assert refused.status_code == 400 and "Say why it is corrected" in text(refused.get_data(as_text=True))
    web.logout()
    other = approved_program(status=OfferingStatus.PUBLISHED, slug="other").creator
    db.session.commit()
    web.login(other.user.email, PASSWORD)
    token_page = client.get("/studio").get_data(as_text=True)
    attempt = client.post(
        f"{url}/certificate/correct",
        data={"csrf_token": csrf_token_from(token_page), "learner_name": "Mallory", "reason": "Mine now"},
    )
    assert attempt.status_code == 404
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).learner_name == "Jon Smyth"


def test_revocation_and_reissue_are_in_the_trail_with_who_did_them(web, client, app):
    offering, enrollment, certificate = issued()
    access_changes.revoke(enrollment)  # no one signed in: as a refund webhook would
    db.session.commit()
    assert trail(certificate) == [("certificate.revoked", "Aqueduct (automatic)")]
    access_changes.restore(enrollment)
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    url = f"/studio/courses/{offering.id}/learners/{enrollment.id}"
    web.submit(f"{url}/certificate/reissue", {}, form_url=url)
    assert trail(certificate)[-1] == ("certificate.reissued", offering.creator.user.email)
    page = text(client.get(url).get_data(as_text=True))
    assert "Revoked by Aqueduct (automatic): Access ended: creator revoke." in page
