"""Revenue: session income a creator logs, and learners counted in an offering's figures."""

from __future__ import annotations

from datetime import date, datetime

import factory

from courseplatform.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Offering,
    PayerKind,
    SessionIncome,
    SessionIncomeSource,
)

from .accounts import CreatorProfileFactory
from .base import Base
from .enrollments import EnrollmentFactory


class SessionIncomeFactory(Base):
    class Meta:
        model = SessionIncome

    creator = factory.SubFactory(CreatorProfileFactory)
    session_date = date(2026, 3, 5)
    sessions = 1
    minutes_each = 50
    amount_cents = 15000
    currency = "USD"
    payer_kind = PayerKind.SELF_PAY
    source = SessionIncomeSource.MANUAL


def learner(
    offering: Offering, *, completed: datetime | None = None, status: EnrollmentStatus = EnrollmentStatus.ACTIVE
) -> Enrollment:
    """Someone enrolled in `offering`, perhaps finished, perhaps no longer with access."""
    return EnrollmentFactory(offering=offering, source=EnrollmentSource.FREE, status=status, completed_at=completed)
