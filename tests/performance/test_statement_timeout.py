"""A web request's statements are bounded: one slow query can't hold a worker for the whole request timeout.

Measured before: nothing bounded a statement, so one slow page held a sync worker for 30 s and
starved everyone else.
"""

from __future__ import annotations

import html
import time

import pytest
import sqlalchemy as sa

from courseplatform.extensions import db

from ..helpers import committed_application


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    with committed_application(tmp_path_factory, "timeouts", STATEMENT_TIMEOUT_MS=300) as application:
        # A page whose query takes two seconds, standing for any query that got slow.
        @application.get("/slow-page-for-the-test")
        def slow_page():
            db.session.execute(sa.text("SELECT pg_sleep(2)"))
            return "finished"

        # What limit a page's statements run under: the public one, or (admin blueprint) the studio's.
        @application.get("/limit-for-the-test")
        def public_limit():
            return db.session.scalar(sa.text("SHOW statement_timeout"))

        application.view_functions["admin.limit_for_the_test"] = public_limit
        application.add_url_rule("/admin/limit-for-the-test", "admin.limit_for_the_test")
        yield application


def test_a_statement_past_the_limit_is_cancelled_and_the_visitor_told(bounded):
    started = time.monotonic()
    response = bounded.test_client().get("/slow-page-for-the-test")
    took = time.monotonic() - started
    assert response.status_code == 503
    assert "This page took too long" in html.unescape(response.get_data(as_text=True))
    assert took < 1.5, f"the request waited {took:.1f} s for a statement bounded at 0.3 s"


def test_work_outside_a_request_is_not_bounded_by_the_web_limit(bounded):
    with bounded.app_context():
        assert db.session.scalar(sa.text("SELECT 1 FROM pg_sleep(0.5)")) == 1
        db.session.rollback()


def test_studio_pages_get_their_longer_limit_and_public_pages_keep_theirs_on_a_reused_connection(bounded):
    client = bounded.test_client()
    with bounded.app_context():
        db.engine.dispose()  # one pooled connection, used in turn by every request below
    assert client.get("/limit-for-the-test").get_data(as_text=True) == "300ms"
    assert client.get("/admin/limit-for-the-test").get_data(as_text=True) == "20s"
    with bounded.app_context():
        assert db.session.scalar(sa.text("SHOW statement_timeout")) == "0"
        db.session.rollback()
    assert client.get("/limit-for-the-test").get_data(as_text=True) == "300ms"
