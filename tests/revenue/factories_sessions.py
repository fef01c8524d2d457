"""Factories for session income rows."""

from __future__ import annotations

from datetime import date

import factory

from courseplatform.models import PayerKind, SessionIncome, SessionIncomeSource

from ..factories import Base, CreatorProfileFactory


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
