"""The queries that grow with the data have an index to use (measured before: the roster sorted all
200,000 enrollments of an offering to show 50, and a refund scanned every enrollment for its order
while holding the order's lock)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db
from courseplatform.models import Enrollment, EnrollmentStatus
from courseplatform.revenue.figures import Period, month_edges, sales_and_refunds_statement
from courseplatform.studio.learner_services import _learners_query, _matching_enrollments

from ..factories import CourseFactory


@pytest.fixture
def plan(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("plans are PostgreSQL's")

    def explain(statement: sa.Select) -> str:
        # With sequential scans and sorts priced out, the plan shows whether an index can serve the query
        # at all, whatever the few rows other tests left make the planner prefer.
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        db.session.execute(sa.text("SET LOCAL enable_sort = off"))
        db.session.execute(sa.text("ANALYZE enrollments"))
        db.session.execute(sa.text("ANALYZE orders"))
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        return "\n".join(db.session.scalars(sa.text(f"EXPLAIN {compiled}")))

    return explain


@pytest.fixture
def course():
    return CourseFactory()


def test_the_roster_reads_an_offerings_newest_learners_from_an_index(plan):
    newest = (
        sa.select(Enrollment.id)
        .where(Enrollment.course_id == 1)
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
        .limit(50)
    )
    shown = plan(newest)
    assert "ix_enrollments_course_enrolled_at" in shown, shown
    assert "Sort" not in shown.split("Index")[0], shown  # no sort above the index scan


def test_an_orders_enrollment_is_found_by_index(plan):
    shown = plan(sa.select(Enrollment.id).where(Enrollment.order_id == 1))
    assert "ix_enrollments_order_id" in shown, shown


def test_the_roster_filtered_by_status_reads_its_page_from_an_index(plan, course):
    deep_page = _matching_enrollments(course, status=EnrollmentStatus.REVOKED).limit(50).offset(5000)
    shown = plan(deep_page)
    assert "Index Only Scan Backward using ix_enrollments_course_status_enrolled_at" in shown, shown
    assert "Sort" not in shown, shown


def _below(plan: str, node: str) -> list[str]:
    """The lines of the plan nested under the first node whose line contains `node`."""
    lines = plan.splitlines()
    at = next(i for i, line in enumerate(lines) if node in line)
    depth = len(lines[at]) - len(lines[at].lstrip())
    nested = []
    for line in lines[at + 1 :]:
        if len(line) - len(line.lstrip()) <= depth:
            break
        nested.append(line)
    return nested


def test_a_deep_roster_page_works_out_progress_and_orders_for_its_own_rows_only(plan, course):
    shown = plan(_learners_query(_matching_enrollments(course).limit(50).offset(5000)))
    # The page's Limit skips entries of the index alone; the per-row subqueries (SubPlans) run above it.
    page = _below(shown, "Limit  (")
    assert "Index Only Scan Backward using ix_enrollments_course_enrolled_at" in page[0], shown
    assert not any("SubPlan" in line for line in page), shown


def test_the_revenue_view_reads_an_offerings_sales_in_the_period_from_an_index(plan, course):
    now = datetime(2026, 6, 15, tzinfo=UTC)
    edges = month_edges(Period.ending(now.date()), ZoneInfo("Europe/Berlin"))
    shown = plan(sales_and_refunds_statement(course.creator, edges, now))
    # Both branches that sum sales (the months, the last four weeks) read the offering's orders by payment date.
    sales_scans = [line for line in shown.splitlines() if "Index Scan using ix_orders_course_paid_at" in line]
    assert len(sales_scans) >= 2, shown
