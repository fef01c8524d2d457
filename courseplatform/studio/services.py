"""Figures for the creator's studio, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..models import Course, CreatorProfile, Enrollment, EnrollmentStatus, LiveSession, Order, OrderStatus, utcnow

EARNING_STATUSES = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED)


@dataclass(frozen=True)
class OfferingRow:
    course: Course
    learners: int
    revenue_cents: int
    next_live_at: datetime | None


def offerings_overview(profile: CreatorProfile) -> list[OfferingRow]:
    """Each offering with its active learners, net revenue and next live date, in one query."""
    learners = (
        sa.select(sa.func.count(Enrollment.id))
        .where(Enrollment.course_id == Course.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .scalar_subquery()
    )
    revenue = (
        sa.select(sa.func.coalesce(sa.func.sum(Order.net_cents - Order.refunded_cents), 0))
        .where(Order.course_id == Course.id, Order.status.in_(EARNING_STATUSES))
        .scalar_subquery()
    )
    next_live = (
        sa.select(sa.func.min(LiveSession.starts_at))
        .where(LiveSession.course_id == Course.id, LiveSession.starts_at > utcnow())
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Course, learners, revenue, next_live)
        .where(Course.creator_id == profile.id)
        .order_by(Course.updated_at.desc())
    )
    return [OfferingRow(course=c, learners=n, revenue_cents=max(int(r), 0), next_live_at=nxt) for c, n, r, nxt in rows]
