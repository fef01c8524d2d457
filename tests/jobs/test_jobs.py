"""Background jobs: recorded with their change, run once, retried with backoff, never half-applied or lost.

Measured before: a 300-address CSV with notification was killed at gunicorn's 30 s timeout with
151 invitations sent and nobody enrolled; storage deletions and reminders depended on the
process that committed them staying alive.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.jobs import enqueue, run_job, sweep
from courseplatform.jobs.dispatch import AFTER_COMMIT
from courseplatform.jobs.queue import SCHEDULE
from courseplatform.jobs.runner import KINDS, MAX_ATTEMPTS
from courseplatform.jobs.scheduled import exclusive, release_expired_checkouts
from courseplatform.models import (
    Enrollment,
    Job,
    JobStatus,
    OfferingKind,
    OrderStatus,
    User,
    WaitlistEntry,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, OrderFactory, UserFactory
from ..factories.live import live_session
from ..studio.test_learners import upload

ATTEMPTS_MADE: list[int] = []


def explode(job: Job) -> dict:
    """A job that does some work, then fails: none of its work may remain."""
    db.session.add(User(email=f"half-{job.attempts}@example.org", name="Half done", password_hash="x"))
    db.session.flush()
    ATTEMPTS_MADE.append(job.attempts)
    raise RuntimeError("the mail provider answered 503")


@pytest.fixture
def exploding(app, monkeypatch):
    ATTEMPTS_MADE.clear()
    monkeypatch.setitem(KINDS, "test.explode", f"{__name__}:explode")
    return "test.explode"


@pytest.fixture
def creator(web):
    profile = CreatorProfileFactory(user__email="maya@example.org")
    web.login("maya@example.org", PASSWORD)
    return profile


@pytest.fixture
def offering(creator):
    return OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)


def reload(job: Job) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job.id)


def enrolled(offering) -> int:
    return db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.offering_id == offering.id))


def make_due(job: Job, ago: timedelta = timedelta(minutes=2)) -> None:
    job = reload(job)
    job.run_after = utcnow() - ago
    db.session.commit()


# ---------------------------------------------------------------------------
# A list enrolled in the background


def test_a_csv_upload_answers_at_once_and_its_page_reports_what_the_job_did(web, offering, mailbox):
    response = upload(web, offering, b"ana@example.org\nben@example.org\nnot an address\n")
    html = response.get_data(as_text=True)
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    assert response.request.path == f"/studio/courses/{offering.id}/learners/imports/{job.id}"
    assert job.status is JobStatus.DONE and job.attempts == 1
    assert "2 of 2 e-mails sent" in html
    assert "Not enrolled: 1 line" in html
    assert enrolled(offering) == 2
    assert sorted(m["To"] for m in mailbox.messages) == ["ana@example.org", "ben@example.org"]
    assert 'http-equiv="refresh"' not in html  # finished: the page stops looking again


def test_until_a_worker_runs_the_job_nobody_is_enrolled_and_the_page_says_it_is_working(
    app, web, offering, mailbox, monkeypatch
):
    # A queue nobody reads yet: the upload is recorded and handed over, and the request is done.
    monkeypatch.setitem(app.config, "JOB_RUNNER", "celery")
    html = upload(web, offering, b"ana@example.org\nben@example.org\n").get_data(as_text=True)
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    assert job.status is JobStatus.PENDING
    assert "Enrolling 2 people" in html and 'http-equiv="refresh"' in html
    assert enrolled(offering) == 0 and mailbox.messages == []

    monkeypatch.setitem(app.config, "JOB_RUNNER", "inline")
    assert run_job(job.id).status is JobStatus.DONE
    html = web.client.get(f"/studio/courses/{offering.id}/learners/imports/{job.id}").get_data(as_text=True)
    assert "Enrolled" in html and enrolled(offering) == 2
    assert len(mailbox.messages) == 2


def test_a_job_runs_once_however_often_it_is_handed_over(web, offering, mailbox, monkeypatch, app):
    monkeypatch.setitem(app.config, "JOB_RUNNER", "celery")
    upload(web, offering, b"ana@example.org\n")
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    monkeypatch.setitem(app.config, "JOB_RUNNER", "inline")
    assert run_job(job.id).status is JobStatus.DONE
    assert run_job(job.id).status is None  # a second delivery of the task: already done
    assert enrolled(offering) == 1 and len(mailbox.messages) == 1


def test_another_creators_job_page_is_not_found(web, offering, client):
    upload(web, offering, b"ana@example.org\n")
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    other = CreatorProfileFactory(user__email="other@example.org")
    theirs = OfferingFactory(creator=other)
    assert client.get(f"/studio/courses/{offering.id}/learners/imports/{job.id + 1000}").status_code == 404
    web.logout()
    web.login("other@example.org", PASSWORD)
    assert client.get(f"/studio/courses/{offering.id}/learners/imports/{job.id}").status_code == 404
    assert client.get(f"/studio/courses/{theirs.id}/learners/imports/{job.id}").status_code == 404


def test_the_progress_page_runs_the_same_queries_for_3_or_300_people(web, creator, count_queries, mailbox):
    counts = []
    for size in (3, 300):
        offering = OfferingFactory(creator=creator)
        lines = "\n".join(f"p{n}@example.org" for n in range(size)).encode()
        upload(web, offering, lines)
        job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
        with count_queries() as queries:
            assert web.client.get(f"/studio/courses/{offering.id}/learners/imports/{job.id}").status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1]


# ---------------------------------------------------------------------------
# Failures: retried with backoff, never half-applied, visible when given up


def test_a_failing_job_keeps_none_of_its_work_and_is_retried_with_a_growing_delay(exploding):
    job = enqueue(exploding, {})
    db.session.commit()
    delays = []
    for _ in range(MAX_ATTEMPTS - 1):
        outcome = run_job(job.id)
        assert outcome.status is JobStatus.PENDING
        delays.append(outcome.retry_in)
        assert run_job(job.id).status is None  # not due yet
        make_due(job)
    assert delays == [timedelta(seconds=10), timedelta(seconds=40), timedelta(seconds=160), timedelta(seconds=640)]
    assert run_job(job.id).status is JobStatus.FAILED
    job = reload(job)
    assert job.attempts == MAX_ATTEMPTS and "503" in job.last_error and job.finished_at is not None
    assert ATTEMPTS_MADE == [1, 2, 3, 4, 5]
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email.like("half-%"))) == 0


def test_a_list_for_an_offering_deleted_meanwhile_fails_at_once_and_says_why(web, offering, app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RUNNER", "celery")
    upload(web, offering, b"ana@example.org\n")
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    job.offering_id = None  # what deleting the offering leaves of it
    db.session.commit()
    assert run_job(job.id).status is JobStatus.FAILED
    assert "offering was deleted" in reload(job).last_error


def test_the_page_of_a_failed_list_says_nobody_was_enrolled(web, offering, exploding):
    upload(web, offering, b"ana@example.org\n")
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    job.status, job.last_error = JobStatus.FAILED, "OperationalError: the database went away"
    db.session.commit()
    html = web.client.get(f"/studio/courses/{offering.id}/learners/imports/{job.id}").get_data(as_text=True)
    assert "This list couldn" in html and "Nobody on it was enrolled or e-mailed" in html
    assert "OperationalError" not in html  # an internal error stays with the operator


# ---------------------------------------------------------------------------
# Nothing lost: the sweeper finds what a crash left


def test_a_job_committed_but_never_handed_over_is_run_by_the_sweeper(runner, offering, mailbox, app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RUNNER", "inline")
    enqueue("storage.delete", {"keys": ["uploads/gone.txt"]}, offering_id=offering.id)
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT)  # the process died before the queue heard of it
    job = db.session.scalar(sa.select(Job).where(Job.offering_id == offering.id))
    assert "Ran 0 jobs" in runner.invoke(args=["run-jobs"]).output  # a minute's grace for the queue
    make_due(job)
    assert "Ran 1 job;" in runner.invoke(args=["run-jobs"]).output
    assert reload(job).status is JobStatus.DONE


def test_a_job_whose_worker_died_runs_again_when_its_lease_ends(exploding, offering):
    job = enqueue("storage.delete", {"keys": []}, offering_id=offering.id)
    job.status, job.attempts, job.lease_until = JobStatus.RUNNING, 1, utcnow() + timedelta(seconds=60)
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT, None)
    assert sweep().jobs == 0 and run_job(job.id).status is None  # its worker may still be at it
    job = reload(job)
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sweep().jobs == 1
    job = reload(job)
    assert job.status is JobStatus.DONE and job.attempts == 2


def test_two_runs_of_a_schedule_at_once_do_not_both_go_ahead(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("one writer on SQLite")
    with exclusive("send-reminders") as first, exclusive("send-reminders") as second:
        assert first is True and second is False
    with exclusive("send-reminders") as again:
        assert again is True  # released when the first run ended


# ---------------------------------------------------------------------------
# The schedules


def test_beat_runs_every_schedule_the_operator_used_to_install_with_cron():
    tasks = {entry["task"] for entry in SCHEDULE.values()}
    assert {
        "aqueduct.sweep",
        "aqueduct.send_reminders",
        "aqueduct.storage_gc",
        "aqueduct.release_expired_checkouts",
        "aqueduct.prune_sessions",
        "aqueduct.warn_ce_approvals",
    } <= tasks
    assert SCHEDULE["sweep"]["schedule"] <= 60


def test_an_expired_checkout_gives_its_workshop_seat_back_and_the_waitlist_hears(app, mailbox):
    creator = CreatorProfileFactory()
    workshop = OfferingFactory(creator=creator, kind=OfferingKind.LIVE_WORKSHOP, price_cents=9900)
    live_session(workshop, capacity=1)
    buyer = UserFactory()
    held = OrderFactory(
        offering=workshop,
        learner=buyer,
        status=OrderStatus.PENDING,
        paid_at=None,
        expires_at=utcnow() - timedelta(minutes=1),
    )
    paying = OrderFactory(
        offering=workshop,
        learner=UserFactory(),
        status=OrderStatus.PENDING,
        paid_at=None,
        expires_at=utcnow() - timedelta(minutes=1),
        payment_intent_id="pi_delayed_bank_debit",
    )
    db.session.add(WaitlistEntry(offering_id=workshop.id, email="waiting@example.org"))
    db.session.commit()

    assert release_expired_checkouts() == {"released": 1}
    db.session.expire_all()
    assert held.status is OrderStatus.EXPIRED
    assert paying.status is OrderStatus.PENDING  # a payment on its way keeps its seat
    assert release_expired_checkouts() == {"released": 0}


def test_sent_mail_and_finished_jobs_are_kept_a_month_and_failures_until_dealt_with(app, runner):
    from courseplatform.models import MailStatus, OutgoingMail

    old, recent = utcnow() - timedelta(days=31), utcnow() - timedelta(days=29)
    for when in (old, recent):
        db.session.add(
            OutgoingMail(recipient="a@example.org", subject="s", text="t", status=MailStatus.SENT, sent_at=when)
        )
        db.session.add(Job(kind="storage.delete", payload={}, status=JobStatus.DONE, finished_at=when))
    db.session.add(Job(kind="storage.delete", payload={}, status=JobStatus.FAILED, finished_at=old))
    db.session.add(OutgoingMail(recipient="b@example.org", subject="s", text="t", status=MailStatus.FAILED))
    db.session.commit()
    output = runner.invoke(args=["prune-sessions"]).output
    assert "Removed 1 sent e-mails and 1 finished jobs older than 30 days." in output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(OutgoingMail.id))) == 2
