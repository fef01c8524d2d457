"""The queries that grow with the data have an index to use (measured before: the roster sorted all
200,000 enrollments of an offering to show 50, and a refund scanned every enrollment for its order
while holding the order's lock)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from courseplatform.catalog.forms import OfferingSearchForm
from courseplatform.catalog.services import catalog_statement
from courseplatform.extensions import db
from courseplatform.models import Enrollment, EnrollmentStatus
from courseplatform.revenue.figures import Period, month_edges, sales_and_refunds_statement
from courseplatform.studio.learners.services import _learners_query, _matching_enrollments, learner_roster

from ..factories import CreatorProfileFactory, EnrollmentFactory, OfferingFactory, UserFactory


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
def offering():
    """An offering with learners enough that the planner's choice between its two roster indexes
    follows their shape rather than the handful of rows other tests left (with a row or two, either
    index costs the same and the planner picked either)."""
    offering = OfferingFactory()
    db.session.execute(
        sa.text(
            "WITH learners AS (INSERT INTO users (email, name, password_hash, created_at)"
            " SELECT 'roster-' || :course || '-' || n || '@example.test', 'Learner ' || n, 'x', now()"
            " FROM generate_series(1, 3000) AS n RETURNING id)"
            " INSERT INTO enrollments (user_id, course_id, source, status, reason, enrolled_at)"
            " SELECT id, :course, 'free', CASE WHEN id % 100 = 0 THEN 'revoked' ELSE 'active' END,"
            " CASE WHEN id % 100 = 0 THEN 'creator_revoke' ELSE 'free' END,"
            " now() - id * interval '1 minute' FROM learners"
        ),
        {"course": offering.id},
    )
    return offering


def test_the_roster_reads_an_offerings_newest_learners_from_an_index(plan):
    newest = (
        sa.select(Enrollment.id)
        .where(Enrollment.offering_id == 1)
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
        .limit(50)
    )
    shown = plan(newest)
    assert "ix_enrollments_course_enrolled_at" in shown, shown
    assert "Sort" not in shown.split("Index")[0], shown  # no sort above the index scan


def test_an_orders_enrollment_is_found_by_index(plan):
    shown = plan(sa.select(Enrollment.id).where(Enrollment.order_id == 1))
    assert "ix_enrollments_order_id" in shown, shown


def test_the_roster_filtered_by_status_reads_its_page_from_an_index(plan, offering):
    deep_page = _matching_enrollments(offering, status=EnrollmentStatus.REVOKED).limit(50).offset(5000)
    shown = plan(deep_page)
    assert "Backward using ix_enrollments_course_status_enrolled_at" in shown, shown
    assert "Filter" not in shown, shown  # the status is part of the index's condition, not checked row by row
    assert "Sort" not in shown, shown


def _published_offerings(creator, count: int) -> None:
    """`count` published offerings of `creator`, slugs offering-1…, each part of a series on sleep or couples."""
    db.session.execute(
        sa.text(
            "INSERT INTO courses (creator_id, kind, title, slug, subtitle, description, status, published_at,"
            " created_at, updated_at) SELECT :creator, 'course', 'Offering ' || n, 'offering-' || n,"
            " 'For clinicians', 'Part ' || n || ' of a series on ' || (ARRAY['sleep', 'couples'])[n % 2 + 1],"
            " 'published', now(), now(), now() FROM generate_series(1, :count) AS n"
        ),
        {"creator": creator.id, "count": count},
    )


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


def test_a_deep_roster_page_works_out_progress_and_orders_for_its_own_rows_only(plan, offering):
    shown = plan(_learners_query(_matching_enrollments(offering).limit(50).offset(5000)))
    # The page's Limit skips entries of the index alone; the per-row subqueries (SubPlans) run above it.
    page = _below(shown, "Limit  (")
    assert "Index Only Scan Backward using ix_enrollments_course_enrolled_at" in page[0], shown
    assert not any("SubPlan" in line for line in page), shown


def test_the_revenue_view_reads_an_offerings_sales_in_the_period_from_an_index(plan, offering):
    # A creator among many: the platform's orders of the period are mostly other creators' (50 offerings),
    # and this offering's are a few of them.
    others = CreatorProfileFactory()
    _published_offerings(others, 50)
    db.session.execute(
        sa.text(
            "INSERT INTO orders (learner_id, course_id, amount_cents, discount_cents, currency, provider,"
            " checkout_id, status, processor_fee_cents, processor_fee_estimated, platform_fee_cents, net_cents,"
            " refunded_cents, refund_pending_cents, created_at, updated_at, paid_at)"
            " SELECT e.user_id, CASE WHEN e.id % 50 = 0 THEN e.course_id ELSE o.id END, 4900, 0, 'USD', 'test',"
            " 'sale-' || e.id, 'paid', 172, false, 490, 4238, 0, 0, now(), now(),"
            " TIMESTAMPTZ '2026-06-15' - (e.id % 700) * interval '1 day'"
            " FROM enrollments e JOIN courses o ON o.creator_id = :creator AND o.slug = 'offering-' || (e.id % 50 + 1)"
            " WHERE e.course_id = :offering"
        ),
        {"creator": others.id, "offering": offering.id},
    )
    now = datetime(2026, 6, 15, tzinfo=UTC)
    edges = month_edges(Period.ending(now.date()), ZoneInfo("Europe/Berlin"))
    shown = plan(sales_and_refunds_statement(offering.creator, edges, now))
    # Both branches that sum sales (the months, the last four weeks) read the offering's orders by payment
    # date, by an index scan or a bitmap of it, as the estimates make cheaper.
    sales_scans = [
        line for line in shown.splitlines() if re.search(r"Index Scan (using|on) ix_orders_course_paid_at", line)
    ]
    assert len(sales_scans) >= 2, shown


@pytest.mark.parametrize("words", ["grief", "grieving parents", '"grief work" -children', "mindf"])
def test_a_catalog_search_and_its_count_read_the_full_text_index(plan, words):
    # A catalog of published offerings, so "published" selects nearly every row and only the
    # full-text index narrows a search down; a few of them are about grief work, as in a real catalog, so the
    # planner's statistics know the searched words are rare instead of guessing (which once tied with
    # reading every published offering).
    _published_offerings(CreatorProfileFactory(), 2000)
    db.session.execute(
        sa.text(
            "UPDATE courses SET description = 'Grief work with grieving parents, mindfulness for children'"
            " WHERE slug IN ('offering-100', 'offering-900', 'offering-1700')"
        )
    )
    db.session.execute(sa.text("SELECT gin_clean_pending_list('ix_courses_search_vector')"))  # as autovacuum would
    db.session.execute(sa.text("ANALYZE courses"))
    form = OfferingSearchForm(MultiDict({"q": words}), topics=[])
    statement = catalog_statement(form)
    count = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    page = statement.add_columns(sa.func.count().over()).limit(12)  # the page carries the number of matches
    for shown in (plan(page), plan(count)):
        assert "ix_courses_search_vector" in shown, shown


def test_a_roster_search_finds_the_learners_by_trigram_index(plan):
    """A creator's search of an offering's learners by name or e-mail reads the trigram indexes on users."""
    offering = OfferingFactory()
    EnrollmentFactory(offering=offering, user=UserFactory(name="Zuzanna Kwiatkowska"))
    db.session.execute(
        sa.text(
            "INSERT INTO users (email, name, password_hash, created_at)"
            " SELECT 'learner' || n || '@example.org', 'Learner ' || n, '!', now() FROM generate_series(1, 3000) n"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO enrollments (user_id, course_id, source, reason, status, enrolled_at)"
            " SELECT id, :course, 'import', 'import', 'active', now() FROM users WHERE email LIKE 'learner%'"
        ),
        {"course": offering.id},
    )
    for index in ("ix_users_name_trgm", "ix_users_email_trgm"):
        db.session.execute(sa.text(f"SELECT gin_clean_pending_list('{index}')"))
    db.session.execute(sa.text("ANALYZE users, enrollments, lesson_progress, orders, certificates"))

    statements = []

    def keep(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        roster = learner_roster(offering, "kwiatk")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert [row.user.name for row in roster.rows] == ["Zuzanna Kwiatkowska"]

    plan(sa.select(1))  # the same planner settings as the other plans here
    searches = [(sql, params) for sql, params in statements if "ILIKE" in sql]
    assert len(searches) == 2  # the count and the page
    for sql, params in searches:
        shown = "\n".join(row[0] for row in db.session.connection().exec_driver_sql(f"EXPLAIN {sql}", params))
        assert "ix_users_email_trgm" in shown and "ix_users_name_trgm" in shown, shown
