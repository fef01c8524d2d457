"""Admin routes: /admin (platform health at a glance)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from ..access import admin_required
from ..extensions import db
from ..models import Course, CourseStatus, CreatorProfile, Enrollment, Order, OrderStatus, User
from . import bp


@bp.get("")
@admin_required
def index():
    """Counts an operator checks first: people, offerings, enrollments, money."""
    row = db.session.execute(
        sa.select(
            sa.select(sa.func.count(User.id)).scalar_subquery(),
            sa.select(sa.func.count(CreatorProfile.id)).scalar_subquery(),
            sa.select(sa.func.count(Course.id)).where(Course.status == CourseStatus.PUBLISHED).scalar_subquery(),
            sa.select(sa.func.count(Enrollment.id)).scalar_subquery(),
        )
    ).one()
    stats = dict(zip(["users", "creators", "published", "enrollments"], row, strict=True))
    # Money is never added up across currencies.
    fees = db.session.execute(
        sa.select(Order.currency, sa.func.sum(Order.platform_fee_cents))
        .where(Order.status.in_([OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED]))
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    return render_template("admin/index.html", stats=stats, fees=fees)
