"""An uploaded attendance report is recorded by a job: the upload answers at once, every learner's minutes
are written together with the job's DONE mark, a second run writes the same figures, and the page follows it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from courseplatform.extensions import db
from courseplatform.jobs import enqueue, run_job
from courseplatform.models import Enrollment, Job, JobStatus, utcnow
from courseplatform.studio.live.jobs import import_attendance_job, start_attendance_import
from courseplatform.studio.live.services import read_report

from ..factories import PASSWORD, CreatorProfileFactory
from ..factories.live import learner, session_in, workshop
from ..helpers import csrf_token_from
from .test_attendance import ZOOM_REPORT, minutes_of, page_url, text_of


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return workshop(creator=creator)


@pytest.fixture
def session(offering):
    return session_in(offering, minutes_from_now=-3 * 60, duration_minutes=90, title="Evening 1")[0]


def recorded_job(offering, session, report: str = ZOOM_REPORT) -> Job:
    """A committed attendance-import job for `report`, as the upload records it, not yet run."""
    job = start_attendance_import(offering, session, read_report(report.encode()), by=offering.creator.user)
    db.session.commit()
    return job


def imports_url(offering, session, job_id) -> str:
    return f"{page_url(offering, session)}/imports/{job_id}"


def test_uploading_answers_with_a_redirect_to_the_page_that_follows_the_job(web, offering, session):
    learner(offering, email="ana@example.org")
    token = csrf_token_from(web.client.get(page_url(offering, session)).get_data(as_text=True))
    fields = {"csrf_token": token, "file": FileStorage(io.BytesIO(ZOOM_REPORT.encode()), filename="zoom.csv")}
    boundary, body = encode_multipart(fields)
    response = web.client.post(
        page_url(offering, session) + "/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 302
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    assert response.headers["Location"] == imports_url(offering, session, job.id)
    assert (job.kind, job.status, job.progress_total) == ("attendance.import", JobStatus.DONE, 4)
    text = text_of(web.client.get(response.headers["Location"]))
    assert "Report imported: 1 learner recorded" in text and "Line 6 stranger@example.org" in text


def test_nothing_is_recorded_until_the_job_runs_and_the_page_says_it_is_under_way(web, offering, session):
    ana, dee = learner(offering, email="ana@example.org"), learner(offering, email="dee@example.org")
    job = recorded_job(offering, session)
    assert minutes_of(session) == {}
    page = web.client.get(imports_url(offering, session, job.id)).get_data(as_text=True)
    assert "Importing the report: 4 lines…" in page and '<meta http-equiv="refresh" content="3">' in page
    assert "Report imported" not in page

    assert run_job(job.id).status is JobStatus.DONE
    assert minutes_of(session) == {ana.email: (85, "import"), dee.email: (88, "import")}
    text = text_of(web.client.get(imports_url(offering, session, job.id)))
    assert "Report imported: 2 learners recorded" in text and "http-equiv" not in text


def test_a_worker_that_died_leaves_nothing_and_the_job_run_again_records_the_same_figures(web, offering, session):
    ana, dee = learner(offering, email="ana@example.org"), learner(offering, email="dee@example.org")
    job = recorded_job(offering, session)
    job.status, job.attempts, job.lease_until = JobStatus.RUNNING, 1, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert minutes_of(session) == {}

    assert run_job(job.id).status is JobStatus.DONE
    assert run_job(job.id).status is None
    expected = {ana.email: (85, "import"), dee.email: (88, "import")}
    assert minutes_of(session) == expected
    # A second worker that took the job over writes the same figures, and no second record.
    result = import_attendance_job(db.session.get(Job, job.id))
    db.session.commit()
    assert sorted(item["minutes"] for item in result["recorded"]) == [85, 88]
    assert minutes_of(session) == expected


def test_a_failing_job_records_nothing_and_the_page_says_so(web, offering, session):
    ana = learner(offering, email="ana@example.org")
    payload = {
        "session_id": session.id,
        "email_column": "Email",
        "minutes_column": "Minutes",
        "entries": [[2, ana.email, 3000], [3, "ben@example.org", "an hour"]],
        "problems": [],
    }
    job = enqueue("attendance.import", payload, owner_id=offering.creator.user_id, offering_id=offering.id)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.FAILED
    assert minutes_of(session) == {}
    text = text_of(web.client.get(imports_url(offering, session, job.id)))
    assert "This report couldn't be imported" in text
    assert "Nothing was imported: everyone's figures are as they were. The report couldn't be read." in text


def test_a_job_of_another_session_kind_or_creator_is_not_found(web, client, offering, session):
    other_session, _lesson = session_in(offering, minutes_from_now=-30 * 60, title="Evening 2")
    elsewhere = recorded_job(offering, other_session)
    another_kind = enqueue("learners.enrol_list", {"people": []}, offering_id=offering.id)
    stranger = workshop(creator=CreatorProfileFactory())
    stranger_session, _lesson = session_in(stranger, minutes_from_now=-60)
    theirs = recorded_job(stranger, stranger_session)
    db.session.commit()
    assert client.get(imports_url(offering, session, elsewhere.id)).status_code == 404
    assert client.get(imports_url(offering, session, another_kind.id)).status_code == 404
    assert client.get(imports_url(offering, session, theirs.id)).status_code == 404
    assert client.get(imports_url(stranger, stranger_session, theirs.id)).status_code == 404
    assert client.get(imports_url(offering, session, 2**70)).status_code == 404


def test_the_import_page_runs_a_constant_number_of_queries(web, client, creator, count_queries):
    counts = []
    for size in (3, 30):
        offering = workshop(creator=creator)
        session, _lesson = session_in(offering, minutes_from_now=-3 * 60, duration_minutes=90)
        lines = "".join(f"p{size}-{n}@example.org,{40 + n}\n" for n in range(size))
        for n in range(size):
            learner(offering, email=f"p{size}-{n}@example.org")
        job = recorded_job(offering, session, "Email,Duration (Minutes)\n" + lines + "nobody@example.org,5\n")
        run_job(job.id)
        assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == offering.id))
        with count_queries() as counter:
            text = text_of(client.get(imports_url(offering, session, job.id)))
        assert f"Report imported: {size} learners recorded" in text
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 learners, {counts[1]} with 30"
