"""Celery, configured from the application (Flask's pattern): tasks run inside an app context."""

from __future__ import annotations

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask

from ..extensions import db

# Beat's timetable. Each task is safe to run twice at once (see `scheduled.exclusive`), so a
# second beat, or a run that overlaps the next, changes nothing. The sweeper's cadence is SWEEP_SECONDS.
SCHEDULE = {
    "sweep": {"task": "aqueduct.sweep", "schedule": 30.0},
    "send-reminders": {"task": "aqueduct.send_reminders", "schedule": crontab(minute="*/15")},
    "release-expired-checkouts": {"task": "aqueduct.release_expired_checkouts", "schedule": crontab(minute="*/5")},
    "bill-test-plans": {"task": "aqueduct.bill_test_plans", "schedule": crontab(minute=23)},
    "storage-gc": {"task": "aqueduct.storage_gc", "schedule": crontab(hour=3, minute=17)},
    "prune-sessions": {"task": "aqueduct.prune_sessions", "schedule": crontab(hour=3, minute=47)},
    "warn-ce-approvals": {"task": "aqueduct.warn_ce_approvals", "schedule": crontab(hour=8, minute=7)},
}


def celery_init_app(app: Flask) -> Celery:
    """The Celery application of this Flask application, in `app.extensions["celery"]`."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    queue = app.config["CELERY_QUEUE"]
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["REDIS_URL"] or "memory://",
        task_ignore_result=True,
        # A task is acknowledged when it has finished, so a worker that dies mid-task leaves it to another.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        broker_transport_options={"global_keyprefix": f"{queue}:", "visibility_timeout": 3600},
        broker_connection_retry_on_startup=True,
        beat_schedule={
            **SCHEDULE,
            "sweep": {**SCHEDULE["sweep"], "schedule": float(app.config.get("SWEEP_SECONDS", 30))},
        },
        timezone="UTC",
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    # The tasks are defined with @shared_task: importing them binds them to this application.
    from . import worker_tasks  # noqa: F401

    return celery
