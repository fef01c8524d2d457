"""Certificates as learners hold them: issued once with what the offering stated that day, listed in /learn."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.learning.certificates import ce_hours_label, issue_certificate, my_certificates
from courseplatform.models import Certificate, Enrollment

from ..factories import PASSWORD
from ..factories.certificates import ce_offering, enrol, finish, revoke
from ..helpers import committed_application


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(180, "3 CE hours"), (90, "1.5 CE hours"), (60, "1 CE hour"), (45, "0.75 CE hours"), (50, "0.83 CE hours")],
)
def test_ce_hours_read_as_a_clinician_expects(minutes, label):
    assert ce_hours_label(minutes) == label


def test_a_certificate_keeps_what_the_offering_stated_when_it_was_issued(app):
    offering = ce_offering(ce_minutes=180, title="Grounding Skills")
    certificate = issue_certificate(finish(enrol(offering)))
    offering.title = "Grounding Skills, second edition"
    offering.ce_minutes = 240
    offering.creator.credentials = "LCSW, PhD"
    db.session.flush()
    db.session.refresh(certificate)
    assert re.fullmatch(r"AQ-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", certificate.number)
    assert (certificate.offering_title, certificate.ce_minutes, certificate.creator_credentials) == (
        "Grounding Skills",
        180,
        "LCSW",
    )


def test_every_certificate_gets_its_own_number(app):
    offering = ce_offering()
    numbers = {issue_certificate(finish(enrol(offering, user__name=f"Learner {n}"))).number for n in range(20)}
    assert len(numbers) == 20


def test_my_certificates_are_listed_in_my_learning(web, client):
    first = ce_offering(ce_minutes=90, slug="grounding", title="Grounding Skills")
    second = ce_offering(ce_minutes=None, slug="burnout", title="Burnout First Aid")
    enrollment = finish(enrol(first))
    enrollment.user.time_zone = "America/Los_Angeles"
    older = issue_certificate(enrollment, now=datetime(2026, 11, 25, 3, 30, tzinfo=UTC))
    newer = issue_certificate(finish(enrol(second, user=enrollment.user)), now=datetime(2026, 12, 2, 15, tzinfo=UTC))
    web.login(enrollment.user.email, PASSWORD)
    html = client.get("/learn").get_data(as_text=True)
    section = html[html.index("My certificates") :]
    assert section.index("Burnout First Aid") < section.index("Grounding Skills"), "newest first"
    assert "November 24, 2026" in section, "the date in my own time zone"
    assert "December 2, 2026" in section
    for certificate, slug in ((older, "grounding"), (newer, "burnout")):
        assert certificate.number in section
        assert f'href="/learn/{slug}/certificate.pdf"' in section
        assert f'href="/certificates/{certificate.number}"' in section
    assert "1.5 CE hours" in section
    assert section.count("Download PDF") == 2
    assert section.count("Verification page") == 2


def test_my_learning_has_no_certificate_section_before_the_first_one(web, client):
    enrollment = enrol(ce_offering())
    web.login(enrollment.user.email, PASSWORD)
    assert "My certificates" not in client.get("/learn").get_data(as_text=True)


def test_a_revoked_enrollment_takes_its_certificate_off_my_list(web, client):
    enrollment = finish(enrol(ce_offering(title="Grounding Skills")))
    certificate = issue_certificate(enrollment)
    assert my_certificates(enrollment.user) == [certificate]
    revoke(enrollment)
    assert my_certificates(enrollment.user) == []
    web.login(enrollment.user.email, PASSWORD)
    assert certificate.number not in client.get("/learn").get_data(as_text=True)


def test_my_learning_runs_the_same_queries_with_one_certificate_or_many(web, client, count_queries):
    learner = enrol(ce_offering(slug="first")).user
    counts = []
    for size in (1, 8):
        for n in range(size):
            offering = ce_offering(slug=f"c{size}-{n}")
            issue_certificate(finish(enrol(offering, user=learner)))
        web.login(learner.email, PASSWORD)
        with count_queries() as counter:
            assert client.get("/learn").status_code == 200
        counts.append(counter.count)
        web.logout()
    assert counts[0] == counts[1], f"{counts[0]} queries with 1 certificate, {counts[1]} with 8"


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory):
    """An application on a database of its own whose sessions really commit (a race needs two of them)."""
    with committed_application(tmp_path_factory, "certificates", needs_postgres=False) as app:
        yield app


def test_two_requests_racing_to_issue_get_the_same_single_certificate(committed_app):
    with committed_app.app_context():
        enrollment_id = finish(enrol(ce_offering(slug="race"))).id
        db.session.commit()
    first_inserted = threading.Event()
    numbers: dict[str, str] = {}

    def first():
        with committed_app.app_context():
            numbers["first"] = issue_certificate(db.session.get(Enrollment, enrollment_id)).number
            first_inserted.set()
            time.sleep(0.3)  # the second request reads now, finds nothing committed, and inserts too
            db.session.commit()

    def second():
        with committed_app.app_context():
            first_inserted.wait(5)
            numbers["second"] = issue_certificate(db.session.get(Enrollment, enrollment_id)).number
            db.session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    with committed_app.app_context():
        stored = db.session.scalars(sa.select(Certificate.number).where(Certificate.enrollment_id == enrollment_id))
        assert list(stored) == [numbers["first"]]
    assert numbers["second"] == numbers["first"]
