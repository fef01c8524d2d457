"""A job that outlasts its lease while its worker is alive is not run a second time beside it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from courseplatform.extensions import db
from courseplatform.jobs import Heartbeat, enqueue, run_job
from courseplatform.jobs.runner import KINDS
from courseplatform.models import Job, JobStatus
from courseplatform.models.base import utcnow

from .helpers import committed_application

LEASE = 5
calls: list[int] = []
second_run: list = []


@pytest.fixture
def leased_app(tmp_path_factory, monkeypatch):
    monkeypatch.setitem(KINDS, "test.outlasts_lease", "tests.test_job_leases:outlasting_job")
    calls.clear()
    second_run.clear()
    with committed_application(tmp_path_factory, "leases", JOB_LEASE_SECONDS=LEASE) as app:
        yield app


def outlasting_job(job: Job) -> dict:
    """Works past its lease; meanwhile the sweeper (another worker) tries to run the same job."""
    calls.append(job.id)
    if len(calls) > 1:
        return {"run": len(calls)}
    time.sleep(LEASE + 0.5)
    app = current_app._get_current_object()

    def sweeper_run() -> None:
        with app.app_context():
            try:
                second_run.append(run_job(job.id).status)
            finally:
                db.session.remove()

    other = threading.Thread(target=sweeper_run)
    other.start()
    other.join(timeout=30)
    return {"run": len(calls)}


def test_a_job_past_its_lease_is_not_claimed_while_its_worker_still_runs_it(leased_app):
    with leased_app.app_context():
        job_id = enqueue("test.outlasts_lease", {}).id
        db.session.commit()
        db.session.info.clear()
        outcome = run_job(job_id)
        job = db.session.get(Job, job_id, populate_existing=True)
        assert outcome.status is JobStatus.DONE
        assert second_run == [None], "the second worker found the job taken"
        assert calls == [job_id], "the work ran once"
        assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 1, {"run": 1})
        db.session.remove()


released_runs: list[int] = []


def released_then_fails(job: Job) -> dict:
    """Lets go of its row for long work (`Heartbeat`), stalls past its lease while the sweeper hands the job
    to another worker, which finishes it; then fails."""
    released_runs.append(job.id)
    if len(released_runs) > 1:
        return {"run": len(released_runs)}
    job_id = job.id
    Heartbeat(job).release()
    db.session.execute(sa.update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    app = current_app._get_current_object()

    def sweeper_run() -> None:
        with app.app_context():
            try:
                second_run.append(run_job(job_id).status)
            finally:
                db.session.remove()

    other = threading.Thread(target=sweeper_run)
    other.start()
    other.join(timeout=30)
    raise RuntimeError("the upload timed out")


def test_a_worker_taken_over_after_letting_go_of_its_row_records_nothing_over_the_new_owner(
    tmp_path_factory, monkeypatch
):
    monkeypatch.setitem(KINDS, "test.released_then_fails", "tests.test_job_leases:released_then_fails")
    released_runs.clear()
    second_run.clear()
    with committed_application(tmp_path_factory, "released", JOB_LEASE_SECONDS=LEASE) as app, app.app_context():
        job_id = enqueue("test.released_then_fails", {}).id
        db.session.commit()
        db.session.info.clear()
        outcome = run_job(job_id)
        job = db.session.get(Job, job_id, populate_existing=True)
        assert second_run == [JobStatus.DONE]
        assert outcome.status is None, "the stale worker's failure wasn't recorded"
        assert (job.status, job.attempts, job.result, job.last_error) == (JobStatus.DONE, 2, {"run": 2}, "")
        db.session.remove()
