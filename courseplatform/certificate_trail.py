"""The audit trail of CE certificates: every revocation, reissue and correction, with who, when and why.

Accrediting bodies audit a provider's certificate records, so each change to a certificate is
written to the audit log (the same `audit_entries` the operators' console reads) in the change's
own transaction. An automatic change (access ended by a refund or a lost dispute) has no person
behind it and is written as Aqueduct's.
"""

from __future__ import annotations

import sqlalchemy as sa

from .extensions import db
from .models import AuditEntry, Certificate, User

AUTOMATIC = "Aqueduct (automatic)"


def record_certificate(
    certificate: Certificate, action: str, detail: str = "", *, reason: str = "", actor: User | None = None
) -> AuditEntry:
    """Write one entry about `certificate` (flushed, never committed)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else AUTOMATIC,
        action=f"certificate.{action}",
        target_type=Certificate.__tablename__,
        target_id=certificate.id,
        detail=detail[:500],
        reason=reason[:500],
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def certificate_trail(certificate: Certificate, limit: int = 50) -> list[AuditEntry]:
    """What happened to the certificate, newest first."""
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.target_type == Certificate.__tablename__, AuditEntry.target_id == certificate.id)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )
