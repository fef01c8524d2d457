"""Telling a waitlist is a job: the change that opens a place answers at once, the job marks each person
and writes their e-mail in one transaction, and the studio waitlist page follows it ("Telling 120 people: 40 sent")."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from courseplatform.enrollments.waitlist import notify_waitlist, notify_waitlist_job
from courseplatform.extensions import db
from courseplatform.jobs import dispatch_committed, enqueue, run_job
from courseplatform.models import Job, JobStatus, MailStatus, OutgoingMail, WaitlistEntry, utcnow

from ..factories import PASSWORD, OfferingFactory
from ..factories.catalog import waitlist_entry

PEOPLE = 120


@pytest.fixture
def offering():
    offering = OfferingFactory(slug="soon", title="Grounding Skills")
    for n in range(PEOPLE):
        waitlist_entry(offering, f"waiting{n:03d}@example.org")
    return offering


def told() -> int:
    return db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id)).where(WaitlistEntry.notified_at.is_not(None)))


def outbox_by_recipient() -> dict[str, int]:
    return dict(
        db.session.execute(sa.select(OutgoingMail.recipient, sa.func.count()).group_by(OutgoingMail.recipient)).all()
    )


def waitlist_job(offering) -> Job:
    return db.session.scalar(sa.select(Job).where(Job.kind == "waitlist.notify", Job.offering_id == offering.id))


def test_opening_records_a_job_and_writes_no_mail_until_it_runs(app, mailbox, offering):
    assert notify_waitlist(offering, "open") == PEOPLE
    db.session.commit()
    job = waitlist_job(offering)
    assert (job.status, job.progress_total, job.owner_id) == (JobStatus.PENDING, PEOPLE, offering.creator.user_id)
    assert told() == 0 and outbox_by_recipient() == {} and mailbox.messages == []

    assert run_job(job.id).status is JobStatus.DONE
    assert told() == PEOPLE
    assert set(outbox_by_recipient().values()) == {1} and len(outbox_by_recipient()) == PEOPLE
    assert db.session.scalar(sa.select(sa.func.count()).where(OutgoingMail.job_id == job.id)) == PEOPLE
    assert len(mailbox.messages) == PEOPLE, "delivered after the job's commit"


def test_a_second_opening_while_the_job_waits_records_no_second_job(app, offering):
    notify_waitlist(offering, "open")
    assert notify_waitlist(offering, "seat") == PEOPLE, "the waiting job tells them all"
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).where(Job.kind == "waitlist.notify")) == 1


def test_a_killed_worker_mails_nobody_twice_and_skips_nobody(app, mailbox, offering):
    notify_waitlist(offering, "open")
    db.session.commit()
    job = waitlist_job(offering)
    # A worker claimed the job and was killed before its commit: nobody marked, nothing written.
    job.status, job.attempts, job.lease_until = JobStatus.RUNNING, 1, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert told() == 0 and outbox_by_recipient() == {}

    assert run_job(job.id).status is JobStatus.DONE
    # A second worker that took the job over while the first was finishing finds nobody left to tell.
    assert notify_waitlist_job(job) == {"told": 0}
    db.session.commit()
    dispatch_committed()
    assert run_job(job.id).status is None
    counts = outbox_by_recipient()
    assert len(counts) == PEOPLE and set(counts.values()) == {1}
    assert sorted(m["To"] for m in mailbox.messages) == [f"waiting{n:03d}@example.org" for n in range(PEOPLE)]


def test_the_waitlist_page_shows_how_the_telling_is_going(web, client, mailbox, offering):
    web.login(offering.creator.user.email, PASSWORD)
    url = f"/studio/courses/{offering.id}/waitlist"
    notify_waitlist(offering, "open")
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert f"Telling {PEOPLE} people: 0 sent" in html and 'http-equiv="refresh"' in html

    run_job(waitlist_job(offering).id)
    # The mail server has accepted 40 so far; the rest wait in the outbox.
    waiting = sa.select(OutgoingMail.id).order_by(OutgoingMail.id).offset(40).limit(1).scalar_subquery()
    db.session.execute(
        sa.update(OutgoingMail).where(OutgoingMail.id >= waiting).values(status=MailStatus.PENDING, sent_at=None)
    )
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert f"Telling {PEOPLE} people: 40 sent" in html and 'http-equiv="refresh"' in html
    assert f"{PEOPLE} people on the list · 0 still waiting to hear." in html

    db.session.execute(sa.update(OutgoingMail).values(status=MailStatus.SENT, sent_at=utcnow()))
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert f"Told {PEOPLE} people: {PEOPLE} sent" in html and 'http-equiv="refresh"' not in html


def test_a_failing_job_mails_nobody_and_the_page_says_so(web, client, offering):
    job = enqueue("waitlist.notify", {"reason": "because"}, owner_id=offering.creator.user_id, offering_id=offering.id)
    db.session.commit()
    assert run_job(job.id).status is JobStatus.FAILED
    assert told() == 0 and outbox_by_recipient() == {}
    web.login(offering.creator.user.email, PASSWORD)
    html = client.get(f"/studio/courses/{offering.id}/waitlist").get_data(as_text=True)
    assert "The waitlist couldn't be told" in html and "Nobody was e-mailed" in html


def test_the_waitlist_page_lists_fifty_a_page_with_a_constant_number_of_queries(web, client, count_queries):
    counts = []
    for size in (3, 130):
        offering = OfferingFactory()
        for n in range(size):
            waitlist_entry(offering, f"p{size}-{n}@example.org")
        notify_waitlist(offering, "open")
        db.session.commit()
        run_job(waitlist_job(offering).id)
        web.login(offering.creator.user.email, PASSWORD)
        with count_queries() as counter:
            html = client.get(f"/studio/courses/{offering.id}/waitlist").get_data(as_text=True)
        web.logout()
        assert html.count('<th scope="row">') == min(size, 50)
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{counts[0]} queries with 3 people, {counts[1]} with 130"
    web.login(offering.creator.user.email, PASSWORD)
    html = client.get(f"/studio/courses/{offering.id}/waitlist?page=3").get_data(as_text=True)
    assert "Page 3 of 3" in html and 'rel="prev"' in html
