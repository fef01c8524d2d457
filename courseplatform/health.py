"""`/healthz`: whether this process can serve, for load balancers and monitoring.

It answers 200 when the database (and Redis, when REDIS_URL is set) answers, and 503
naming the part that failed otherwise; either way it reports how far the outbox is behind.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db, limiter
from .integrations.redis_store import RedisUnavailable, ping
from .models import utcnow
from .models.jobs import Job, JobStatus
from .models.mail import MailStatus, OutgoingMail

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def queue_lag_seconds() -> int:
    """How long, in whole seconds, the longest-waiting due message or job has waited past its time; 0 when none.

    A message is due when it is pending and its next attempt is now or past; a job when it is
    pending and its `run_after` is. A rising figure means nothing is working the queue: the
    workers are down or behind.
    """
    now = utcnow()
    oldest_mail, oldest_job = db.session.execute(
        sa.select(
            sa.select(sa.func.min(OutgoingMail.next_attempt_at))
            .where(OutgoingMail.status == MailStatus.PENDING, OutgoingMail.next_attempt_at <= now)
            .scalar_subquery(),
            sa.select(sa.func.min(Job.run_after))
            .where(Job.status == JobStatus.PENDING, Job.run_after <= now)
            .scalar_subquery(),
        )
    ).one()
    waiting = [moment for moment in (oldest_mail, oldest_job) if moment is not None]
    if not waiting:
        return 0
    return max(0, int((now - min(waiting)).total_seconds()))


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Tell a load balancer whether this process can reach the database and Redis, and how late the queue runs."""
    report = {"status": "ok", "database": "ok", "redis": "not configured", "queue_lag_seconds": None}
    failing = []
    try:
        db.session.execute(sa.text("SELECT 1"))
        report["queue_lag_seconds"] = queue_lag_seconds()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("health check: the database is unreachable: %s", type(exc).__name__)
        report["database"] = "unreachable"
        failing.append("database")
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            ping(redis_url)
            report["redis"] = "ok"
        except RedisUnavailable as exc:
            log.warning("health check: Redis is unreachable: %s", exc)
            report["redis"] = "unreachable"
            failing.append("redis")
    if failing:
        report["status"] = "error"
        report["failing"] = failing
        return jsonify(report), 503
    return jsonify(report)
