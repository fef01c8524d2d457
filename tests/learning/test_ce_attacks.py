"""CE for learners under attack: anonymous evaluations, the audit pack, long certificate lines, the wallet CSV,
superseded numbers, the trail, racing corrections; each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from courseplatform.extensions import db
from courseplatform.learning import certificates as certs
from courseplatform.learning.certificate_pdf import certificate_pdf
from courseplatform.learning.certificates import correct_certificate, issue_certificate, submit_evaluation
from courseplatform.models import (
    AccreditingBody,
    AuditEntry,
    Certificate,
    LearnerLicence,
    OfferingStatus,
    Profession,
    utcnow,
)
from courseplatform.studio.ce.services import evaluation_summary

from ..factories import PASSWORD
from ..factories.certificates import RATINGS, approved_program, enrol, finish
from ..helpers import csrf_token_from

SCORES = {key: int(value) for key, value in RATINGS.items()}


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- Correctness: objective averages are taken by position, labelled with today's words ----------------


def test_objective_averages_follow_the_objectives_words_not_their_position(app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    describe, apply_, plan = offering.objectives
    enrollment = finish(enrol(offering))
    submit_evaluation(enrollment, SCORES, objectives=[(describe, 1), (apply_, 2), (plan, 5)])
    # The creator adds an objective at the top after the evaluation was sent.
    offering.ce_objectives = "Name the limits of grounding\n" + offering.ce_objectives
    db.session.flush()
    averages = dict(evaluation_summary(offering).objectives)
    assert averages == {"Name the limits of grounding": None, describe: 1.0, apply_: 2.0, plan: 5.0}


# --- Privacy: "evaluations are anonymous" ----------------------------------------------------------------


def test_the_creator_cannot_read_a_named_learners_evaluation_on_their_record(web, client, app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, slug="grounding")
    enrollment = finish(enrol(offering, user__name="Jordan Lee"))
    submit_evaluation(enrollment, SCORES, "The presenter was condescending")
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    page = text(client.get(f"/studio/courses/{offering.id}/learners/{enrollment.id}").get_data(as_text=True))
    assert "Jordan Lee" in page
    assert "The presenter was condescending" not in page, "the 'anonymous' evaluation is shown under the name"


def test_the_audit_packs_evaluations_do_not_line_up_with_its_certificates(web, client, app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, slug="grounding")
    start = utcnow() - timedelta(days=3)
    for n, (name, comment) in enumerate((("Avery", "zzz too long"), ("Blake", "mmm fine"), ("Casey", "aaa great"))):
        enrollment = finish(enrol(offering, user__name=name, user__email=f"{name.lower()}@example.org"))
        submit_evaluation(enrollment, SCORES, comment, now=start + timedelta(hours=n))
        issue_certificate(enrollment, now=start + timedelta(hours=n, minutes=1))
    db.session.commit()
    web.login(offering.creator.user.email, PASSWORD)
    pack = zipfile.ZipFile(io.BytesIO(client.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip").data))
    evaluations = list(csv.DictReader(io.StringIO(pack.read("evaluations.csv").decode())))
    issued = list(csv.DictReader(io.StringIO(pack.read("certificates.csv").decode())))
    pairs = list(zip([row["learner"] for row in issued], [row["comments"] for row in evaluations], strict=True))
    assert pairs != [("Avery", "zzz too long"), ("Blake", "mmm fine"), ("Casey", "aaa great")], (
        "row n of evaluations.csv is the evaluation of the learner on row n of certificates.csv"
    )


# --- PDF: long licence / presenter lines run off the page ------------------------------------------------


def _text_runs(pdf: bytes) -> list[tuple[str, float]]:
    runs: list[tuple[str, float]] = []

    def visit(chunk, cm, tm, font, size):
        if chunk.strip():
            runs.append((chunk, tm[4]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return runs


def test_long_presenters_and_licence_lines_stay_inside_the_frame(app):
    presenter = "Maximiliana Alexandrina Montgomery-Featherstonehaugh, PhD, LCSW, LMFT"
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    offering.ce_presenters = "\n".join([presenter] * 4)
    enrollment = finish(enrol(offering))
    db.session.add(
        LearnerLicence(
            user_id=enrollment.user_id, profession=Profession.SOCIAL_WORK, licence_type="L" * 40,
            number="9" * 60, jurisdiction="Illinois " + "x" * 51,
        )
    )  # fmt: skip
    db.session.flush()
    certificate = issue_certificate(enrollment)
    with app.test_request_context():
        pdf = certificate_pdf(certificate, zone="UTC", verify_url="https://x.test/c")
    frame_left_pt = 12.5 / 25.4 * 72
    outside = [(chunk[:40], round(x)) for chunk, x in _text_runs(pdf) if x < frame_left_pt]
    assert outside == [], f"text starts left of the frame (off the page when < 0): {outside}"


# --- Query counts: the wallet CSV loads each certificate's enrollment -------------------------------------


def _learner_with_certificates(count: int, user=None):
    creator = None
    for n in range(count):
        offering = approved_program(
            AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, creator=creator, slug=f"w{count}-{n}"
        )
        creator = offering.creator
        enrollment = finish(enrol(offering, user=user) if user else enrol(offering))
        user = enrollment.user
        issue_certificate(enrollment)
    db.session.commit()
    return user


def test_the_wallet_csv_runs_the_same_queries_for_few_and_many(web, client, app, count_queries):
    counts = {}
    for size in (1, 8):
        user = _learner_with_certificates(size)
        web.login(user.email, PASSWORD)
        for path in ("/learn/ce", "/learn/ce.csv"):
            with count_queries() as counter:
                assert client.get(path).status_code == 200
            counts[(path, size)] = counter.count
        web.logout()
    assert counts[("/learn/ce", 1)] == counts[("/learn/ce", 8)], counts
    assert counts[("/learn/ce.csv", 1)] == counts[("/learn/ce.csv", 8)], counts


# --- Verify: a new certificate may take a number that already verifies as superseded ------------------------


def test_a_new_certificate_never_takes_a_superseded_number(app, client, monkeypatch):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    first = issue_certificate(finish(enrol(offering, user__name="Jon Smyth")))
    old_number = first.number
    correct_certificate(first, learner_name="Jon Smythe", learner_licence="", reason="Legal name",
                        by=offering.creator.user)  # fmt: skip
    numbers = iter([old_number, "AQ-2345-6789-ABCD"])  # the 1-in-2^60 clash, made certain, then a fresh one
    monkeypatch.setattr(certs, "new_certificate_number", lambda: next(numbers))
    second = issue_certificate(finish(enrol(offering, user__name="Pat Other", user__email="pat@example.org")))
    assert second.number != old_number, "one number is now both a superseded and a current certificate"


# --- Audit trail: a correction's detail is cut at 500 characters -------------------------------------------


def test_the_trail_keeps_the_whole_correction(app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    certificate = issue_certificate(finish(enrol(offering, user__name="N" * 120)))
    certificate.learner_licence = "A" * 200
    new_licence = "LCSW " + "7" * 190 + " END"
    correct_certificate(certificate, learner_name="M" * 120, learner_licence=new_licence, reason="Typo",
                        by=offering.creator.user)  # fmt: skip
    detail = db.session.scalar(
        sa.select(AuditEntry.detail).where(
            AuditEntry.target_id == certificate.id, AuditEntry.action == "certificate.corrected"
        )
    )
    assert new_licence in detail, f"the trail lost what the licence became: …{detail[-60:]!r}"


# --- What held up (expected to pass) ------------------------------------------------------------------------


def test_held_licence_wallet_and_correction_access(web, client, app):
    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, slug="grounding")
    victim = finish(enrol(offering, user__name="Victim", user__email="victim@example.org"))
    licence = LearnerLicence(user_id=victim.user_id, profession=Profession.SOCIAL_WORK, licence_type="LCSW",
                             number="SECRET-149", jurisdiction="Illinois")  # fmt: skip
    db.session.add(licence)
    db.session.flush()
    issue_certificate(victim)
    mallory = finish(enrol(offering, user__name="Mallory", user__email="mallory@example.org"))
    other_offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED, slug="mine")
    db.session.commit()
    web.login(mallory.user.email, PASSWORD)
    token = csrf_token_from(client.get("/learn/ce/licences").get_data(as_text=True))
    assert client.post(f"/learn/ce/licences/{licence.id}/delete", data={"csrf_token": token}).status_code == 404
    assert "SECRET-149" not in client.get("/learn/ce").get_data(as_text=True)
    assert "SECRET-149" not in client.get("/learn/ce.csv").get_data(as_text=True)
    web.logout()
    # Another creator mixes their offering id with the victim's enrollment id.
    web.login(other_offering.creator.user.email, PASSWORD)
    token = csrf_token_from(client.get("/studio").get_data(as_text=True))
    url = f"/studio/courses/{other_offering.id}/learners/{victim.id}/certificate/correct"
    answer = client.post(url, data={"csrf_token": token, "learner_name": "Hijacked", "reason": "x"})
    assert answer.status_code == 404
    assert client.get(f"/studio/courses/{offering.id}/ce/audit-pack.zip").status_code == 404
    assert client.get(f"/studio/courses/{offering.id}/evaluations.csv").status_code == 404
    web.logout()
    web.login(offering.creator.user.email, PASSWORD)
    url = f"/studio/courses/{offering.id}/learners/{victim.id}"
    blank = web.submit(f"{url}/certificate/correct", {"learner_name": "   ", "reason": "x"}, form_url=url)
    assert blank.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(sa.select(Certificate.learner_name).where(Certificate.enrollment_id == victim.id)) == (
        "Victim"
    )


# --- Concurrency: two corrections of one certificate at once ----------------------------------------------


def test_a_second_correction_racing_the_first_is_refused_cleanly_not_a_500(app):
    from courseplatform.learning.certificates import CorrectionRefused
    from courseplatform.models import SupersededCertificate

    offering = approved_program(AccreditingBody.ASWB, status=OfferingStatus.PUBLISHED)
    certificate = issue_certificate(finish(enrol(offering, user__name="Jon Smyth")))
    db.session.flush()
    old = certificate.number
    # What the first request committed while the second held the certificate it loaded (number `old`).
    db.session.execute(
        sa.insert(SupersededCertificate).values(
            number=old, certificate_id=certificate.id, learner_name="Jon Smyth", issued_at=certificate.issued_at,
            superseded_at=utcnow(),
        )
    )  # fmt: skip
    db.session.execute(
        sa.update(Certificate)
        .where(Certificate.id == certificate.id)
        .values(number="AQ-2222-3333-4444")
        .execution_options(synchronize_session=False)
    )
    assert certificate.number == old  # the second request's copy, loaded before the first committed
    # Refused with a message, not an IntegrityError (uq_superseded_certificates_number) escaping as a 500.
    with pytest.raises(CorrectionRefused, match="corrected a moment ago"):
        correct_certificate(certificate, learner_name="Jon Smith", learner_licence="", reason="Typo",
                            by=offering.creator.user)  # fmt: skip


def test_held_snapshots_are_not_duplicated(app):
    from courseplatform.continuing_education import snapshot_ce
    from courseplatform.models import CESnapshot
    from courseplatform.studio.offerings.services import publish

    offering = approved_program(AccreditingBody.ASWB)
    publish(offering)
    assert snapshot_ce(offering, "details changed") is None
    db.session.expire_all()
    assert snapshot_ce(offering, "details changed") is None
    assert db.session.scalar(sa.select(sa.func.count(CESnapshot.id))) == 1
