"""The periodic work beat runs (and the commands of the same names): each safe to run twice at once."""

from __future__ import annotations

import contextlib
import functools
import logging
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..extensions import db
from ..models import Job, JobStatus, MailStatus, Order, OrderStatus, OutgoingMail, utcnow

log = logging.getLogger(__name__)

# Sent e-mail and finished jobs (a list's report, say) are kept this long, then deleted; failed ones stay
# until an operator deals with them.
KEEP_FINISHED_WORK = timedelta(days=30)


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Whether this run may go ahead: False while another run of `name` holds it (PostgreSQL advisory lock).

    A second beat, or a run that lasts past the next tick, finds the lock taken and does
    nothing. SQLite has a single writer and no second machine, so there every run goes ahead.
    """
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"aqueduct:{name}".encode()) - 2**31  # a stable signed 32-bit key
    with db.engine.connect() as connection:
        taken = connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield bool(taken)
        finally:
            if taken:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def scheduled(name: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """A periodic run: it goes ahead only while no other run of `name` does, and commits what it did.

    It returns the run's figures, or `{"skipped": True}` when another run holds the lock. What the
    run recorded (mail, jobs) is left for the caller to hand over: a worker queues it, a command
    delivers it itself.
    """

    def decorate(run: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(run)
        def exclusively(*args, **kwargs) -> dict:
            with exclusive(name) as allowed:
                if not allowed:
                    return {"skipped": True}
                figures = run(*args, **kwargs)
                db.session.commit()
            return figures

        return exclusively

    return decorate


@scheduled("send-reminders")
def send_reminders() -> dict:
    """E-mail learners about live sessions starting within a day, once per session (every 15 minutes)."""
    from ..learning.reminders import send_reminders as queue_reminders

    run = queue_reminders()
    return {"sessions": run.sessions, "messages": run.messages}


@scheduled("release-expired-checkouts")
def release_expired_checkouts(limit: int = 500) -> dict:
    """Close checkouts that expired unpaid, so their workshop seats go back and the waitlist hears of them."""
    from ..checkout.services import close_order

    expired = db.session.scalars(
        sa.select(Order)
        .where(
            Order.status == OrderStatus.PENDING,
            Order.expires_at <= utcnow(),
            Order.payment_intent_id.is_(None),  # a delayed payment on its way keeps its seat
        )
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    closed = sum(close_order(order, OrderStatus.EXPIRED, "The checkout expired before payment.") for order in expired)
    return {"released": closed}


@scheduled("bill-test-plans")
def bill_test_plans(now: datetime | None = None) -> dict:
    """Test mode only: take the payment plans' instalments due by `now`, as Stripe's billing would (hourly)."""
    from ..checkout.plans import bill_test_plans as bill

    return bill(now)


@scheduled("storage-gc")
def collect_storage() -> dict:
    """Remove what abandoned uploads left a day on (daily)."""
    from ..media.processing import collect_orphan_renditions
    from ..media.services import collect_stale_uploads

    removed = collect_stale_uploads()
    return {
        "uploads": removed.uploads,
        "multipart_uploads": removed.multipart_uploads,
        "staged_files": removed.staged_files,
        "renditions": collect_orphan_renditions(),
    }


@scheduled("prune-sessions")
def prune_sessions() -> dict:
    """Delete expired login sessions, and finished work older than KEEP_FINISHED_WORK (daily)."""
    from ..accounts.services import prune_login_sessions

    removed = prune_login_sessions()
    cutoff = utcnow() - KEEP_FINISHED_WORK
    mail = db.session.execute(
        sa.delete(OutgoingMail).where(OutgoingMail.status == MailStatus.SENT, OutgoingMail.sent_at < cutoff)
    ).rowcount
    jobs = db.session.execute(sa.delete(Job).where(Job.status == JobStatus.DONE, Job.finished_at < cutoff)).rowcount
    return {"removed": removed, "mail": mail, "jobs": jobs}


@scheduled("warn-ce-approvals")
def warn_ce_approvals() -> dict:
    """E-mail each CE provider whose approval ends within 60 days, once per approval period (daily)."""
    from ..studio.ce.services import warn_expiring_approvals

    return {"warned": warn_expiring_approvals(utcnow().date())}
