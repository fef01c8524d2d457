"""Running jobs: claim with a lease, do the work and mark it done in one commit, retry with backoff."""

from __future__ import annotations

import importlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..logs import error_summary
from ..models import Job, JobStatus, utcnow
from .dispatch import after_commit, dispatch_committed

log = logging.getLogger(__name__)

# Every kind of job and the function that does it ("module:function", imported when first run).
KINDS = {
    "learners.enrol_list": "courseplatform.studio.learners.jobs:enrol_list_job",
    "sessions.import": "courseplatform.revenue.session_jobs:import_sessions_job",
    "attendance.import": "courseplatform.studio.live.jobs:import_attendance_job",
    "storage.delete": "courseplatform.media.services:delete_objects_job",
    "media.probe": "courseplatform.media.processing:probe_media_job",
    "media.ladder": "courseplatform.media.processing:ladder_media_job",
    "waitlist.notify": "courseplatform.enrollments.waitlist:notify_waitlist_job",
    "practice_waitlist.mail": "courseplatform.practice:mail_job",
    "payments.delete_coupon": "courseplatform.checkout.services:delete_order_coupon_job",
    "payments.return_fee_on_tax": "courseplatform.checkout.services:return_fee_on_tax_job",
    "payments.plan_schedule": "courseplatform.checkout.plans:plan_schedule_job",
    "payments.plan_cancel": "courseplatform.checkout.plans:plan_cancel_job",
}
# What to record when a job of this kind fails for good ("module:function" taking the job), in the same commit.
ON_FAILURE = {
    "media.probe": "courseplatform.media.processing:probe_failed",
    "media.ladder": "courseplatform.media.processing:ladder_failed",
}
MAX_ATTEMPTS = 5
WORN_OUT = f"Its worker stopped during each of its {MAX_ATTEMPTS} attempts (killed, or out of memory)."
# A job that fails is tried again after 10 s, 40 s, 2 min 40 s, then 10 min 40 s.
FIRST_RETRY = timedelta(seconds=10)
# A pending job the queue never ran (a crash between commit and hand-off) is run by the sweeper after this.
STRANDED_AFTER = timedelta(seconds=60)


class JobRefused(Exception):
    """The work can't be done and trying again won't help (its offering was deleted, say): fail at once."""


class LeaseLost(Exception):
    """Another worker has taken the job over (this one stalled past its lease): this one stops, writing nothing."""


def enqueue(kind: str, payload: dict, *, owner_id: int | None = None, offering_id: int | None = None) -> Job:
    """Record a job in the current transaction; it runs once that commits (the caller commits)."""
    if kind not in KINDS:
        raise ValueError(f"no job kind {kind!r}")
    job = Job(kind=kind, payload=payload, owner_id=owner_id, offering_id=offering_id)
    db.session.add(job)
    db.session.flush()
    after_commit("job", job.id)
    return job


def job_of(kind: str, job_id: int, *, offering_id: int | None = None, owner_id: int | None = None) -> Job | None:
    """The job of this kind with this id that belongs to the offering (or the account) asking; None otherwise."""
    query = sa.select(Job).where(Job.id == job_id, Job.kind == kind)
    if offering_id is not None:
        query = query.where(Job.offering_id == offering_id)
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    return db.session.scalar(query)


def _handler(kind: str):
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class JobRunOutcome:
    """What one call of `run_job` did: ran it to an end, or asks to be run again after `retry_in`."""

    status: JobStatus | None  # None: not claimed (already done, or running elsewhere)
    retry_in: timedelta | None = None


def _claim(job_id: int, now: datetime) -> bool:
    """Take the job for this process until its lease ends; False when it isn't due or someone else has it.

    A job whose row is locked is being run by a live worker (see `run_job`), whatever its lease
    says: it is skipped, not waited for.
    """
    lease = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    abandoned = sa.and_(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    # A job whose worker died on every attempt (out of memory on a huge list, say) is failed, not run again,
    # with what its kind records on failing for good (a video's ladder marked failed, say).
    worn_out = db.session.scalar(
        sa.select(Job)
        .where(Job.id == job_id, abandoned, Job.attempts >= MAX_ATTEMPTS)
        .with_for_update(skip_locked=True)
    )
    if worn_out is not None:
        worn_out.status, worn_out.finished_at, worn_out.lease_until = JobStatus.FAILED, now, None
        worn_out.last_error = WORN_OUT
        _on_failure(worn_out)
        db.session.commit()
        return False
    due = (
        sa.select(Job.id)
        .where(
            Job.id == job_id,
            sa.or_(
                sa.and_(Job.status == JobStatus.PENDING, Job.run_after <= now),
                abandoned,
            ),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = db.session.execute(
        sa.update(Job)
        .where(Job.id == due)
        .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, started_at=now, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def run_job(job_id: int) -> JobRunOutcome:
    """Run one job if it is due and nobody else is running it; its work and its DONE mark commit together."""
    if not _claim(job_id, utcnow()):
        return JobRunOutcome(None)
    # The row stays locked while the work runs: a job that outlasts its lease is not claimed by
    # another worker while this one lives, and if this one dies its lock goes with its connection.
    job = db.session.get(Job, job_id, populate_existing=True, with_for_update=True)
    attempt = job.attempts
    try:
        result = _handler(job.kind)(job)
    except LeaseLost as lost:
        db.session.rollback()
        log.warning("job %s stopped: another worker has it now (%s)", job_id, lost)
        return JobRunOutcome(None)
    except Exception as exc:
        db.session.rollback()
        return _failed(job_id, attempt, exc)
    job.status, job.result, job.finished_at, job.lease_until = JobStatus.DONE, result, utcnow(), None
    job.last_error = ""
    db.session.commit()
    dispatch_committed()
    return JobRunOutcome(JobStatus.DONE)


def _failed(job_id: int, attempt: int, exc: Exception) -> JobRunOutcome:
    job = db.session.get(Job, job_id, populate_existing=True, with_for_update=True)
    if job.status is not JobStatus.RUNNING or job.attempts != attempt:
        # A job that let go of its row (`Heartbeat`) and was taken over after a stall: the new owner's.
        db.session.rollback()
        log.warning("job %s (%s) failed after another worker took it over: %s", job_id, job.kind, error_summary(exc))
        return JobRunOutcome(None)
    job.last_error = error_summary(exc)
    job.lease_until = None
    if isinstance(exc, JobRefused) or job.attempts >= MAX_ATTEMPTS:
        log.error("job %s (%s) failed for good after %s attempts: %s", job.id, job.kind, job.attempts, job.last_error)
        job.status, job.finished_at = JobStatus.FAILED, utcnow()
        _on_failure(job)
        db.session.commit()
        return JobRunOutcome(JobStatus.FAILED)
    delay = FIRST_RETRY * 4 ** (job.attempts - 1)
    log.warning(
        "job %s (%s) failed (attempt %s), trying again in %s: %s", job.id, job.kind, job.attempts, delay, job.last_error
    )
    job.status, job.run_after = JobStatus.PENDING, utcnow() + delay
    db.session.commit()
    return JobRunOutcome(JobStatus.PENDING, retry_in=delay)


def _on_failure(job: Job) -> None:
    """What the job's kind records when it fails for good (`ON_FAILURE`), in the same commit."""
    if job.kind in ON_FAILURE:
        module, _, name = ON_FAILURE[job.kind].partition(":")
        getattr(importlib.import_module(module), name)(job)


def job_progress(job: Job, done: int, total: int) -> None:
    """Record how far a job has got, for the page that shows it (flushed with the job's own work)."""
    job.progress_done, job.progress_total = max(0, done), max(0, total)
    db.session.flush()


class Heartbeat:
    """For work that runs for minutes outside the database (a transcode), so it holds no transaction meanwhile.

    `release` commits the job's transaction before that work: the job's row lock goes, and on SQLite the
    whole database's write lock, which every other request would otherwise wait behind. The job stays this
    worker's by its lease, which `beat` renews in a short transaction of its own, with whatever the work
    reports (how far it has got); the work calls it every second or so, quiet steps included. `own` takes
    the job's row again for the final writes, so a worker that was taken over after a stall writes nothing.
    Nothing of the job's own work may be pending when it is released.
    """

    def __init__(self, job: Job) -> None:
        self.job_id, self.attempt = job.id, job.attempts
        self.lease = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
        # Often enough that a lease is renewed twice before it could end; seldom enough to cost nothing.
        self.every = min(5.0, self.lease.total_seconds() / 3)
        self.last = -math.inf

    def release(self) -> None:
        if db.session.new or db.session.dirty or db.session.deleted:
            raise RuntimeError("the job's work would be committed before it is done")
        db.session.commit()

    def beat(self, *statements: sa.Executable, now: bool = False) -> None:
        """Renew the lease and run `statements`, all in one commit; skipped when the last beat was moments
        ago, unless `now`, and put off when the database is busy (SQLite's one writer). Raises LeaseLost
        when another worker has the job."""
        if not now and time.monotonic() - self.last < self.every:
            return
        try:
            self.own()  # the job's row first, as every other writer of a job and its asset takes them
            for statement in statements:
                db.session.execute(statement)
            db.session.commit()
        except OperationalError as busy:
            db.session.rollback()
            log.info("job %s: progress not recorded this time (%s)", self.job_id, busy.orig)
            return
        self.last = time.monotonic()

    def own(self) -> None:
        """Renew the lease in the current transaction, whose lock then holds the job until it commits;
        raises LeaseLost when another worker has taken the job over."""
        renewed = db.session.execute(
            sa.update(Job)
            .where(Job.id == self.job_id, Job.status == JobStatus.RUNNING, Job.attempts == self.attempt)
            .values(lease_until=utcnow() + self.lease)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not renewed:
            db.session.rollback()
            raise LeaseLost(f"job {self.job_id}")


def retry_failed(job: Job) -> None:
    """Give a failed job a fresh set of attempts (an operator's retry); it runs after the commit."""
    if job.status is not JobStatus.FAILED:
        return
    job.status, job.attempts, job.run_after, job.finished_at = JobStatus.PENDING, 0, utcnow(), None
    db.session.flush()
    after_commit("job", job.id)


@dataclass(frozen=True)
class Sweep:
    """What one sweep found: messages delivered and jobs handed over again."""

    messages: int
    jobs: int


def stranded_jobs(now: datetime, limit: int = 100) -> list[int]:
    """Jobs due that no worker is running: never handed over, waiting to be retried, or whose worker died.

    Jobs locked by a live worker are skipped, so a hundred long ones past their lease never hide newer work.
    """
    return list(
        db.session.scalars(
            sa.select(Job.id)
            .where(
                sa.or_(
                    sa.and_(Job.status == JobStatus.PENDING, Job.run_after <= now - STRANDED_AFTER),
                    sa.and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
                )
            )
            .order_by(Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def sweep() -> Sweep:
    """Deliver the e-mail that is due and run (or queue) the jobs nobody ran: what a crash or an outage left."""
    from ..integrations.mail import deliver_pending

    stranded = stranded_jobs(utcnow())
    db.session.rollback()
    if current_app.config["JOB_RUNNER"] == "celery":
        from .worker_tasks import run_job_task

        for job_id in stranded:
            run_job_task.delay(job_id)
    else:
        for job_id in stranded:
            run_job(job_id)
    return Sweep(messages=deliver_pending(), jobs=len(stranded))
