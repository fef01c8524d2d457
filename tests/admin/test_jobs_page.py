"""The operator's page of background work: failed jobs and undelivered e-mail, each with a Retry button."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import AuditEntry, Job, JobStatus, MailStatus, OutgoingMail, utcnow

from ..factories import PASSWORD, OfferingFactory, UserFactory
from ..helpers import csrf_token_from


@pytest.fixture
def operator(web):
    UserFactory(email="ops@example.org", is_admin=True)
    web.login("ops@example.org", PASSWORD)


def failed_job(**kw) -> Job:
    job = Job(
        kind="storage.delete",
        payload={"keys": []},
        status=JobStatus.FAILED,
        attempts=5,
        last_error="ClientError: An error occurred (SlowDown) when calling the DeleteObject operation",
        finished_at=utcnow(),
        **kw,
    )
    db.session.add(job)
    db.session.commit()
    return job


def undelivered(recipient="learner@example.org") -> OutgoingMail:
    message = OutgoingMail(
        recipient=recipient,
        subject="You're enrolled",
        text="Welcome",
        status=MailStatus.FAILED,
        attempts=8,
        last_error="SMTPRecipientsRefused: mailbox full",
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_the_page_lists_what_failed_with_its_error(operator, client):
    failed_job()
    undelivered()
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "Delete stored files" in html and "SlowDown" in html
    assert "learner@example.org" in html and "mailbox full" in html


def test_retrying_a_failed_job_runs_it_again_and_it_can_succeed(operator, client):
    job = failed_job()
    token = csrf_token_from(client.get("/admin/jobs").get_data(as_text=True))
    response = client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert f"Job {job.id} will run again." in response.get_data(as_text=True)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 1  # a fresh set of attempts, and it worked
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "job.retry"))
    assert entry.target_id == job.id and entry.actor_email == "ops@example.org" and "SlowDown" in entry.detail


def test_retrying_an_undelivered_email_sends_it_once(operator, client, mailbox):
    message = undelivered()
    token = csrf_token_from(client.get("/admin/jobs").get_data(as_text=True))
    client.post(f"/admin/mail/{message.id}/retry", data={"csrf_token": token})
    client.post(f"/admin/mail/{message.id}/retry", data={"csrf_token": token})  # a double click
    assert [m["To"] for m in mailbox.messages] == ["learner@example.org"]
    db.session.expire_all()
    assert db.session.get(OutgoingMail, message.id).status is MailStatus.SENT


def test_a_retry_of_something_that_did_not_fail_changes_nothing(operator, client):
    job = Job(kind="storage.delete", payload={"keys": []}, status=JobStatus.RUNNING, attempts=1)
    db.session.add(job)
    db.session.commit()
    token = csrf_token_from(client.get("/admin/jobs").get_data(as_text=True))
    html = client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "is not failed" in html.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Job, job.id).status is JobStatus.RUNNING
    assert client.post("/admin/jobs/99999999/retry", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/jobs/{job.id}/retry", data={}).status_code == 400


def test_only_operators_see_or_retry_background_work(web, client):
    job = failed_job(offering_id=OfferingFactory().id)
    UserFactory(email="creator@example.org")
    assert client.get("/admin/jobs").status_code in (302, 401, 403)
    web.login("creator@example.org", PASSWORD)
    assert client.get("/admin/jobs").status_code == 403
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    assert client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.scalar(sa.select(Job.status).where(Job.id == job.id)) is JobStatus.FAILED


def test_the_page_runs_the_same_queries_for_1_or_60_failures(operator, client, count_queries):
    counts = []
    for size in (1, 60):
        for _ in range(size):
            failed_job()
            undelivered()
        with count_queries() as queries:
            assert client.get("/admin/jobs").status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1]


def test_every_kind_of_job_has_a_name_an_operator_understands():
    from courseplatform.admin.jobs import KIND_LABELS
    from courseplatform.jobs.runner import KINDS

    assert set(KIND_LABELS) == set(KINDS)
