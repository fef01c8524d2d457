"""Someone leaving while the mail job writes to the list, on PostgreSQL with real commits (no `app` fixture)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Job, JobStatus, OutgoingMail, PracticeWaitlistEntry

from ..factories import CreatorProfileFactory
from ..helpers import committed_application


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator:
    with committed_application(tmp_path_factory, "practice_race") as app:
        yield app


def test_leaving_while_the_mail_job_runs_still_erases_the_address_and_sends_nothing(live):
    """`leave` forgets the person's unsent mail *before* it updates their entry. If the job has the entry
    locked (it selects the list FOR UPDATE and records everyone's e-mail, uncommitted), `leave`'s DELETE of
    that mail sees none of it, then waits on the entry's lock; the job commits; `leave` commits. The person
    is told "Your e-mail address has been removed... we won't write to you about it again", and the message
    (with their address) stays in the outbox and is delivered."""
    from courseplatform.practice import leave, mail_job

    app = live
    with app.test_request_context():
        profile = CreatorProfileFactory(practice_waitlist_open=True)
        ann = PracticeWaitlistEntry(creator_id=profile.id, email="ann@example.org")
        bo = PracticeWaitlistEntry(creator_id=profile.id, email="bo@example.org")
        db.session.add_all([ann, bo])
        db.session.commit()
        ann_id = ann.id
        job = Job(
            kind="practice_waitlist.mail",
            payload={"subject": "A place opened", "message": "Hi", "limit": None, "send_key": "2" * 32},
            owner_id=profile.user_id,
            status=JobStatus.RUNNING,
        )
        db.session.add(job)
        db.session.commit()

        mail_job(job)  # the worker: the list locked, everyone's e-mail recorded, not committed yet

        errors: list[BaseException] = []

        def ann_leaves() -> None:
            try:
                with app.test_request_context():
                    entry = db.session.get(PracticeWaitlistEntry, ann_id)
                    leave(entry)
                    db.session.commit()
                    db.session.remove()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=ann_leaves)
        thread.start()
        time.sleep(1.0)  # Ann's leave is waiting on her entry's lock by now
        db.session.commit()  # the worker finishes
        thread.join(timeout=30)
        assert not errors, errors
        db.session.remove()

    with app.app_context():
        left = db.session.get(PracticeWaitlistEntry, ann_id)
        theirs = db.session.scalar(
            sa.select(sa.func.count(OutgoingMail.id)).where(OutgoingMail.recipient == "ann@example.org")
        )
        db.session.remove()
    assert left.email is None
    assert theirs == 0, "the outbox keeps (and sends to) the address of someone who left"
