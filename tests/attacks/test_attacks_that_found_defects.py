"""Attacks on the job queue, outbox, request logs and operator console that found a defect, each kept as its test.

Every test drives the real parts (PostgreSQL, the inline runner, the test-mode checkout, the
file or SMTP mailer); the state a dead worker leaves behind is written to the database directly,
as the worker would have left it.
"""

from __future__ import annotations

import html as markup
import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.enrollments.waitlist import notify_waitlist
from courseplatform.extensions import db
from courseplatform.integrations.mail import deliver_pending, send_after_commit
from courseplatform.jobs import enqueue, run_job
from courseplatform.jobs.dispatch import AFTER_COMMIT
from courseplatform.jobs.runner import KINDS, MAX_ATTEMPTS
from courseplatform.logs import install_log_handler, remove_log_handler
from courseplatform.models import (
    Enrollment,
    EnrollmentStatus,
    Job,
    JobStatus,
    Order,
    OrderStatus,
    OutgoingMail,
    WaitlistEntry,
    utcnow,
)

from ..factories import PASSWORD, CreatorProfileFactory, OfferingFactory, UserFactory
from ..helpers import Browserless, csrf_token_from

CALLS: list[int] = []


def count_call(job: Job) -> dict:
    """A job kind of the test's own: it records that it ran."""
    CALLS.append(job.id)
    return {"ran": True}


def text(response) -> str:
    return markup.unescape(response.get_data(as_text=True))


# ---------------------------------------------------------------------------
# Suspension: a checkout opened before the creator was suspended still sells afterwards


def test_a_checkout_opened_before_the_creator_was_suspended_cannot_be_paid_after_it(app, client, web, mailbox):
    creator = CreatorProfileFactory(user__email="maya@example.org", display_name="Maya Chen", slug="maya-chen")
    offering = OfferingFactory(creator=creator, slug="grounding", title="Grounding Skills", price_cents=4900)
    buyer = UserFactory(email="pat@example.org")
    web.login(buyer.email, PASSWORD)
    started = web.submit("/courses/grounding/checkout", {}, form_url="/courses/grounding", follow_redirects=False)
    order = db.session.scalar(sa.select(Order).where(Order.learner_id == buyer.id))
    assert started.headers["Location"] == f"/checkout/test/{order.id}" and order.status is OrderStatus.PENDING

    # Meanwhile an operator suspends the creator: "nothing of theirs can be bought now".
    operator = UserFactory(email="ops@example.org", is_admin=True)
    ops = Browserless(app.test_client())
    ops.login(operator.email, PASSWORD)
    done = ops.submit(
        f"/admin/creators/{creator.id}/suspend", {"reason": "Fraud review"}, form_url=f"/admin/creators/{creator.id}"
    )
    assert "Maya Chen is suspended" in text(done)

    # The buyer, still on the checkout page opened before, presses Pay.
    token = csrf_token_from(client.get(f"/checkout/test/{order.id}").get_data(as_text=True))
    client.post(f"/checkout/test/{order.id}/pay", data={"csrf_token": token})

    db.session.expire_all()
    enrolled = db.session.scalar(
        sa.select(Enrollment).where(Enrollment.user_id == buyer.id, Enrollment.offering_id == offering.id)
    )
    assert enrolled is None or enrolled.status is not EnrollmentStatus.ACTIVE, (
        "a suspended creator's offering was sold through a checkout opened before the suspension"
    )
    assert db.session.get(Order, order.id).status is not OrderStatus.PAID


# ---------------------------------------------------------------------------
# Waitlist: the job doesn't look again whether a place can be taken when it finally runs


def test_a_waitlist_job_that_runs_after_the_creator_is_suspended_mails_nobody_and_keeps_them_waiting(app, mailbox):
    offering = OfferingFactory(slug="soon", title="Grounding Skills")
    for n in range(3):
        db.session.add(WaitlistEntry(offering_id=offering.id, email=f"waiting{n}@example.org"))
    db.session.flush()
    assert notify_waitlist(offering, "open") == 3
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT, None)  # a queue that hasn't run it yet (a backlog, a retry, a restart)
    job = db.session.scalar(sa.select(Job).where(Job.kind == "waitlist.notify", Job.offering_id == offering.id))

    offering.creator.suspended_at = utcnow()  # what the operator's Suspend writes
    offering.creator.suspension_reason = "Fraud review"
    db.session.commit()

    run_job(job.id)
    db.session.expire_all()
    assert mailbox.messages == [], "the waitlist was told a suspended creator's offering 'is open'"
    told = db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id)).where(WaitlistEntry.notified_at.is_not(None)))
    assert told == 0, "they were marked told, so they will never hear when it really opens"


def test_a_waitlist_job_that_runs_after_the_offering_was_archived_mails_nobody(app, mailbox):
    from courseplatform.models import OfferingStatus

    offering = OfferingFactory(slug="soon", title="Grounding Skills")
    db.session.add(WaitlistEntry(offering_id=offering.id, email="waiting@example.org"))
    db.session.flush()
    notify_waitlist(offering, "open")
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT, None)
    job = db.session.scalar(sa.select(Job).where(Job.kind == "waitlist.notify", Job.offering_id == offering.id))
    offering.status = OfferingStatus.ARCHIVED
    db.session.commit()

    run_job(job.id)
    assert mailbox.messages == [], "an archived offering was announced as open"


# ---------------------------------------------------------------------------
# Jobs: a job whose worker dies every time is claimed for ever and never shows as failed


@pytest.fixture
def counted(app, monkeypatch):
    CALLS.clear()
    monkeypatch.setitem(KINDS, "review.count", f"{__name__}:count_call")
    return "review.count"


def test_a_job_that_killed_its_worker_max_attempts_times_is_failed_not_run_again(app, counted):
    job = enqueue(counted, {})
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT, None)
    # What a worker killed mid-job (out of memory on a huge list, say) leaves after the last allowed try:
    # the row claimed MAX_ATTEMPTS times, RUNNING, its lease run out, nobody to call `_failed`.
    job.status, job.attempts = JobStatus.RUNNING, MAX_ATTEMPTS
    job.started_at, job.lease_until = utcnow() - timedelta(minutes=5), utcnow() - timedelta(minutes=3)
    db.session.commit()

    run_job(job.id)
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert CALLS == [], f"run a {MAX_ATTEMPTS + 1}th time (attempts now {job.attempts})"
    assert job.status is JobStatus.FAILED, "never failed for good: the operator's failed-jobs page never shows it"


# ---------------------------------------------------------------------------
# Logs: credentials and addresses


@pytest.fixture
def json_logs(capsys):
    install_log_handler("json")
    capsys.readouterr()

    def lines() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    yield lines
    remove_log_handler()


def test_a_reset_token_in_the_path_of_a_request_with_the_wrong_method_is_not_logged(app, client, json_logs):
    from courseplatform.accounts.services import make_reset_token

    user = UserFactory(email="pat@example.org")
    token = make_reset_token(user)
    db.session.commit()
    response = client.put(f"/password/reset/{token}", buffered=True)
    assert response.status_code == 405
    # A link a mail client or scanner mangled (a trailing slash) routes nowhere: 404, and the same line.
    assert client.get(f"/password/reset/{token}/", buffered=True).status_code == 404
    output = json.dumps(json_logs())
    assert token not in output, "the reset token (a login credential for the hour) is in the request's log line"


def test_an_undelivered_email_is_logged_without_its_recipients_address(app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", 9)  # nothing listens: the mail server is down
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_SSL", False)
    send_after_commit("private.client@example.org", "Your receipt", "Thanks")
    db.session.commit()
    db.session.info.pop(AFTER_COMMIT, None)
    with caplog.at_level(logging.WARNING):
        assert deliver_pending() == 0
    assert db.session.scalar(sa.select(sa.func.count(OutgoingMail.id))) >= 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "not accepted" in logged
    assert "private.client@example.org" not in logged, "a learner's e-mail address was written to the logs"
