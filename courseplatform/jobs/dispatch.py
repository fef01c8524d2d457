"""Handing committed work to the runner: Celery, a thread of this process, or inline."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

from ..extensions import db

log = logging.getLogger(__name__)

AFTER_COMMIT = "aqueduct.after_commit"
MAIL_BATCH = 50  # messages per delivery task: a big list is shared among the workers

_threads: ThreadPoolExecutor | None = None


def after_commit(kind: str, ident: int) -> None:
    """Remember that the current transaction wrote a mail ("mail") or job ("job") row to hand off once it commits."""
    db.session.info.setdefault(AFTER_COMMIT, []).append((kind, ident))


def dispatch_committed() -> None:
    """Hand what this session recorded to the runner, if its transaction committed.

    Whatever is still open is rolled back first: rows of an uncommitted transaction vanish
    with it, and the runner finds nothing to do for their ids.
    """
    recorded = db.session.info.pop(AFTER_COMMIT, [])
    if not recorded:
        return
    db.session.rollback()
    mail = [ident for kind, ident in recorded if kind == "mail"]
    jobs = [ident for kind, ident in recorded if kind == "job"]
    runner = current_app.config["JOB_RUNNER"]
    if runner == "inline":
        _run(mail, jobs)
    elif runner == "thread":
        _thread_pool().submit(_run_in_context, current_app._get_current_object(), mail, jobs)
    else:
        _send_to_queue(mail, jobs)


def _run(mail: list[int], jobs: list[int]) -> None:
    from ..integrations.mail import deliver_pending
    from .runner import run_job

    for start in range(0, len(mail), MAIL_BATCH):
        deliver_pending(mail[start : start + MAIL_BATCH])
    for job_id in jobs:
        run_job(job_id)


def _run_in_context(app: Flask, mail: list[int], jobs: list[int]) -> None:
    with app.app_context():
        try:
            _run(mail, jobs)
        except Exception:
            # Still recorded: `flask run-jobs` (or the next start of the work) picks it up.
            log.exception("background work failed in this process")
        finally:
            db.session.remove()


def _thread_pool() -> ThreadPoolExecutor:
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aqueduct-jobs")
    return _threads


def _send_to_queue(mail: list[int], jobs: list[int]) -> None:
    from .worker_tasks import deliver_mail, run_job_task

    try:
        for start in range(0, len(mail), MAIL_BATCH):
            deliver_mail.delay(mail[start : start + MAIL_BATCH])
        for job_id in jobs:
            run_job_task.delay(job_id)
    except Exception:
        # Redis unreachable: the rows are committed, and the sweeper hands them over when it is back.
        log.exception("the job queue could not be reached; the sweeper will pick the work up")
