"""The one way an operator action is recorded: `record(...)` in the action's own transaction."""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user

from ..extensions import db
from ..models import AuditEntry, User

# What each action is called on the audit page.
ACTION_LABELS = {
    "order.refund": "Refunded an order",
    "creator.suspend": "Suspended a creator",
    "creator.unsuspend": "Unsuspended a creator",
    "account.suspend": "Suspended an account",
    "account.unsuspend": "Unsuspended an account",
    "job.retry": "Retried a failed job",
    "mail.retry": "Retried an undelivered e-mail",
}


def record(action: str, target: object, detail: str = "", *, reason: str = "", actor: User | None = None) -> AuditEntry:
    """Write one audit row for an operator action on `target` (any model with an id); flushed, never committed.

    Call it inside the action's unit of work, so the row exists exactly when the action does.
    `actor` defaults to the logged-in operator.
    """
    actor = actor if actor is not None else current_user
    entry = AuditEntry(
        actor_id=actor.id,
        actor_email=actor.email,
        action=action[: AuditEntry.action.type.length],
        target_type=getattr(target, "__tablename__", type(target).__name__)[: AuditEntry.target_type.type.length],
        target_id=getattr(target, "id", None),
        detail=detail[: AuditEntry.detail.type.length],
        reason=reason[: AuditEntry.reason.type.length],
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def entries_about(*targets: object, limit: int = 10) -> list[AuditEntry]:
    """The newest entries about any of these objects (a creator and their account, say), in one query."""
    wanted = [
        sa.and_(AuditEntry.target_type == target.__tablename__, AuditEntry.target_id == target.id)
        for target in targets
        if target is not None
    ]
    if not wanted:
        return []
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(sa.or_(*wanted))
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
