"""The Celery tasks: thin wrappers around functions the commands and the in-process runner share."""

from __future__ import annotations

from celery import shared_task

# Transient trouble (the database or Redis restarting) is retried with backoff by Celery itself;
# a job's own failures are retried by its row (see runner.run_job), so they survive a lost queue.
RETRY = {"autoretry_for": (ConnectionError, TimeoutError), "retry_backoff": True, "max_retries": 8}


@shared_task(name="aqueduct.run_job", bind=True, **RETRY)
def run_job_task(self, job_id: int) -> str:
    from .runner import run_job

    outcome = run_job(job_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in.total_seconds(), max_retries=None)
    return outcome.status.value if outcome.status else "not claimed"


@shared_task(name="aqueduct.deliver_mail", **RETRY)
def deliver_mail(ids: list[int]) -> int:
    from ..integrations.mail import deliver_pending

    return deliver_pending(ids)


@shared_task(name="aqueduct.sweep", **RETRY)
def sweep_task() -> dict:
    from .runner import sweep

    done = sweep()
    return {"messages": done.messages, "jobs": done.jobs}


@shared_task(name="aqueduct.send_reminders", **RETRY)
def send_reminders_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import send_reminders

    figures = send_reminders()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures


@shared_task(name="aqueduct.release_expired_checkouts", **RETRY)
def release_expired_checkouts_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import release_expired_checkouts

    figures = release_expired_checkouts()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures


@shared_task(name="aqueduct.storage_gc", **RETRY)
def storage_gc_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import collect_storage

    figures = collect_storage()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures


@shared_task(name="aqueduct.bill_test_plans", **RETRY)
def bill_test_plans_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import bill_test_plans

    figures = bill_test_plans()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures


@shared_task(name="aqueduct.prune_sessions", **RETRY)
def prune_sessions_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import prune_sessions

    figures = prune_sessions()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures


@shared_task(name="aqueduct.warn_ce_approvals", **RETRY)
def warn_ce_approvals_task() -> dict:
    from .dispatch import dispatch_committed
    from .scheduled import warn_ce_approvals

    figures = warn_ce_approvals()
    dispatch_committed()  # what the run recorded goes to the queue
    return figures
