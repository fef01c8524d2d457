"""Shared fixtures: one application for the whole run, one rolled-back transaction per test.

The suite runs on PostgreSQL when one answers (TEST_DATABASE_URL, or the local server
at 127.0.0.1:5432) and on SQLite otherwise; the header of the run says which. Under
pytest-xdist (`-n 2`) each worker builds its own application on its own database.
What test modules import lives in helpers.py; test data comes from factories/.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from courseplatform import create_app
from courseplatform.config import PASSWORD_HASHING
from courseplatform.extensions import db, limiter

from .helpers import (
    FAST_PASSWORD_HASHING,
    Browserless,
    Mailbox,
    QueryCounter,
    RequestClient,
    databases,
    drop_databases,
)


def pytest_report_header(config):
    kind = databases().kind
    where = "PostgreSQL (" + databases().admin_url.split("@")[-1] + ")" if kind == "postgresql" else "SQLite"
    return f"database: {where}"


def pytest_sessionfinish(session, exitstatus):
    drop_databases()


# Under pytest-xdist with `--dist loadgroup` (make test), the tests that start a browser, or whole processes
# (web servers, workers), each keep to one worker: one Chromium for the run, and one fleet at a time.
# Marked as each test is collected: xdist names a test's group in its own collection_modifyitems hook.
_PROCESS_MODULES = ("tests/deploy/test_processes.py", "tests/deploy/test_check_deploy.py")


def pytest_itemcollected(item):
    if item.nodeid.startswith("tests/browser/"):
        item.add_marker(pytest.mark.xdist_group("browser"))
    elif item.get_closest_marker("scale_out") or item.nodeid.startswith(_PROCESS_MODULES):
        item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    return databases(tmp_path_factory).new("test")


@pytest.fixture(scope="session")
def app(db_url, tmp_path_factory):
    """The one application of the test run, on a database built by the migrations."""
    from flask_migrate import upgrade

    root = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": db_url,
            "MAIL_BACKEND": "file",
            "JOB_RUNNER": "inline",
            "MAIL_DIR": str(root / "mail"),
            "MEDIA_ROOT": str(root / "media"),
            "BASE_URL": "http://aqueduct.test",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SERVER_NAME": None,
            # On only in the tests of the page cache (tests/catalog/test_page_cache.py), which clear it.
            "PAGE_CACHE": "off",
            # Production's Argon2id parameters only in the tests about hashing (production_password_hashing).
            "PASSWORD_HASHING": FAST_PASSWORD_HASHING,
        }
    )
    application.test_client_class = RequestClient
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def production_password_hashing(app):
    """The application hashes with production's parameters (OWASP's Argon2id minimum) during this test."""
    light = app.config["PASSWORD_HASHING"]
    app.config["PASSWORD_HASHING"] = dict(PASSWORD_HASHING)
    yield
    app.config["PASSWORD_HASHING"] = light


@pytest.fixture
def client(app) -> RequestClient:
    """A test client without preserved contexts: each request stands alone."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _isolated_database(request):
    """Run the test inside a transaction that is rolled back afterwards.

    Requests that commit only release a savepoint, so each test sees its own writes
    and leaves nothing behind, without building a new application.
    """
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        db.session.remove()
        factory_options = dict(db.session.session_factory.kw)
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
        limiter.reset()
        try:
            yield connection
        finally:
            db.session.remove()
            db.session.session_factory.kw.clear()
            db.session.session_factory.kw.update(factory_options)
            transaction.rollback()
            connection.close()


@pytest.fixture
def mailbox(app) -> Mailbox:
    box = Mailbox(Path(app.config["MAIL_DIR"]))
    box.clear()
    yield box
    box.clear()


@pytest.fixture
def web(client) -> Browserless:
    return Browserless(client)


@pytest.fixture
def runner(app):
    """Runs `flask` commands against the test application."""
    return app.test_cli_runner()


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counter:` ... `counter.count` statements were run."""

    from sqlalchemy import event

    @contextmanager
    def counting():
        counter = QueryCounter()
        engine = db.engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting
