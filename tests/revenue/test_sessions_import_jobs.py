"""A confirmed session-income import runs as a job: the request answers at once, the rows arrive all
together with the job's DONE mark, a second run adds nothing, and the job carries no client."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.jobs import enqueue, run_job
from courseplatform.models import Job, JobStatus, SessionIncome, utcnow
from courseplatform.revenue.session_import import Mapping, parse_rows, read_export
from courseplatform.revenue.session_jobs import import_sessions_job, start_session_import

from ..factories import PASSWORD, CreatorProfileFactory
from .test_sessions_import import CLIENT_TRACES, EXPORT, confirm, form_values, upload


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org", user__time_zone="America/New_York")
    web.login("maya@example.org", PASSWORD)
    return profile


def count_rows(profile) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(SessionIncome.creator_id == profile.id))


def total_cents(profile) -> int:
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(SessionIncome.amount_cents), 0)).where(
            SessionIncome.creator_id == profile.id
        )
    )


def recorded_job(profile, export: str = EXPORT) -> Job:
    """A committed import job for `export`, as the confirm step records it, not yet run."""
    kept = read_export(export.encode())
    mapping = Mapping(**{target: column for target, column in kept.suggestions().items() if column is not None})
    parsed = parse_rows(kept, mapping, default_minutes=50, today=date(2026, 12, 1), currency="USD")
    job = start_session_import(profile.user, parsed.rows, parsed.bad, dropped=["Client"], mapped={"Fee": "Fee"})
    db.session.commit()
    return job


def test_confirming_answers_with_a_redirect_to_the_report_that_the_job_fills(web, creator):
    values = {**form_values(upload(web, EXPORT).get_data(as_text=True)), "confirm": "1"}
    response = web.client.post("/studio/sessions/import/confirm", data=values)
    assert response.status_code == 302
    job = db.session.scalar(sa.select(Job).where(Job.owner_id == creator.user_id))
    assert response.headers["Location"] == f"/studio/sessions/imports/{job.id}"
    assert (job.kind, job.status, job.attempts, job.progress_total) == ("sessions.import", JobStatus.DONE, 1, 4)
    page = web.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<dt>Imported</dt><dd>4</dd>" in page and 'http-equiv="refresh"' not in page
    assert count_rows(creator) == 4


def test_nothing_is_imported_until_the_job_runs_and_the_page_says_it_is_under_way(web, creator):
    job = recorded_job(creator)
    assert job.status is JobStatus.PENDING and count_rows(creator) == 0
    page = web.client.get(f"/studio/sessions/imports/{job.id}").get_data(as_text=True)
    assert "Importing 4 session rows…" in page
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "<dt>Imported</dt>" not in page

    assert run_job(job.id).status is JobStatus.DONE
    assert count_rows(creator) == 4 and total_cents(creator) == 15000 + 125000 + 15000 + 12000
    page = web.client.get(f"/studio/sessions/imports/{job.id}").get_data(as_text=True)
    assert "<dt>Imported</dt><dd>4</dd>" in page and 'http-equiv="refresh"' not in page


def test_a_worker_that_died_leaves_nothing_and_the_job_run_again_imports_each_row_once(web, creator):
    job = recorded_job(creator)
    # A worker claimed the job and died before its commit: nothing is applied, and its lease runs out.
    job.status, job.attempts, job.lease_until = JobStatus.RUNNING, 1, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert count_rows(creator) == 0

    assert run_job(job.id).status is JobStatus.DONE
    assert run_job(job.id).status is None, "done: nobody runs it again"
    db.session.refresh(job)
    assert (job.attempts, job.result) == (2, {"imported": 4, "already": 0})
    assert count_rows(creator) == 4 and total_cents(creator) == 167000

    # A second worker that took the job over while the first was finishing reports what the first did.
    assert import_sessions_job(job) == {"imported": 4, "already": 0}
    db.session.commit()
    # And an import run again from scratch finds every row already there.
    job.status, job.run_after = JobStatus.PENDING, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.DONE
    db.session.refresh(job)
    assert job.result == {"imported": 0, "already": 4}
    assert count_rows(creator) == 4 and total_cents(creator) == 167000


def test_a_failing_job_imports_nothing_and_its_page_says_so(web, creator):
    good = [2, "2026-03-02", 1, 50, 15000, "self_pay", "a" * 64]
    impossible = [3, "2026-03-03", 0, 50, 15000, "self_pay", "b" * 64]  # no session: the database refuses it
    job = enqueue(
        "sessions.import",
        {"rows": [good, impossible], "skipped": [], "skipped_count": 0, "dropped": [], "mapped": {}},
        owner_id=creator.user_id,
    )
    db.session.commit()
    for _attempt in range(5):
        db.session.execute(sa.update(Job).where(Job.id == job.id).values(run_after=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        run_job(job.id)
    db.session.refresh(job)
    assert job.status is JobStatus.FAILED and "IntegrityError" in job.last_error
    assert count_rows(creator) == 0, "the good row went with the bad one"
    page = web.client.get(f"/studio/sessions/imports/{job.id}").get_data(as_text=True)
    assert "Nothing was imported." in page and "This import couldn't be finished" in page
    assert "IntegrityError" not in page and "<dt>Imported</dt>" not in page


def test_a_job_whose_rows_cannot_be_read_fails_at_once_with_a_reason(web, creator):
    job = enqueue("sessions.import", {"rows": [["x"]], "dropped": [], "mapped": {}}, owner_id=creator.user_id)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.FAILED
    page = web.client.get(f"/studio/sessions/imports/{job.id}").get_data(as_text=True)
    assert "Nothing was imported. The sessions to import couldn&#39;t be read. Upload the file again." in page
    assert count_rows(creator) == 0


def test_the_job_keeps_nothing_that_identifies_a_client(web, creator):
    confirm(web, upload(web, EXPORT).get_data(as_text=True))
    stored = " ".join(
        str(value) for row in db.session.execute(sa.text("SELECT payload, result FROM jobs")).all() for value in row
    )
    assert "Client" in stored, "the dropped column's name, for the report"
    for trace in CLIENT_TRACES:
        assert trace not in stored, trace


def test_only_the_creators_own_import_jobs_can_be_seen(web, client, creator):
    other = CreatorProfileFactory()
    theirs = recorded_job(other, "Date,Fee\n2026-03-02,150\n")
    another_kind = enqueue("learners.enrol_list", {"people": []}, owner_id=creator.user_id)
    db.session.commit()
    assert client.get(f"/studio/sessions/imports/{theirs.id}").status_code == 404
    assert client.get(f"/studio/sessions/imports/{another_kind.id}").status_code == 404
    assert client.get("/studio/sessions/imports/999999999").status_code == 404
    assert client.get(f"/studio/sessions/imports/{2**70}").status_code == 404


def test_the_report_runs_a_constant_number_of_queries(web, client, creator, count_queries):
    counts = []
    for size in (2, 200):
        lines = "".join(f"2026-03-{day % 28 + 1:02d},{100 + n}\n" for n, day in enumerate(range(size)))
        bad = "".join(f"2026-13-{n % 28 + 1:02d},150\n" for n in range(size))
        job = recorded_job(creator, "Date,Fee\n" + lines + bad)
        run_job(job.id)
        with count_queries() as counter:
            page = client.get(f"/studio/sessions/imports/{job.id}").get_data(as_text=True)
        assert f"<dt>Skipped</dt><dd>{size}</dd>" in page
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries for 2 rows, {counts[1]} for 200"


def test_jobs_queued_by_earlier_releases_still_import_their_rows(web, creator):
    seven = [2, "2026-03-02", 1, 50, 15000, "self_pay", "c" * 64]  # sessions only
    eight = [3, "2026-03-03", 0, 0, 7500, "self_pay", "d" * 64, "missed"]  # kinds, not yet months
    job = enqueue("sessions.import", {"rows": [seven, eight], "dropped": [], "mapped": {}}, owner_id=creator.user_id)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.DONE
    db.session.expire_all()
    rows = db.session.scalars(sa.select(SessionIncome).where(SessionIncome.creator_id == creator.id)).all()
    assert sorted((r.session_date.day, r.kind.value, r.source.value, r.amount_cents) for r in rows) == [
        (2, "session", "import", 15000),
        (3, "missed", "import", 7500),
    ]
