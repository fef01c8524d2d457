"""What test modules import to do their work: throw-away databases, an application whose transactions
commit, forms filled through the test client, and the classes behind conftest.py's fixtures.

conftest.py keeps the fixtures; test data is made by tests/factories.
"""

from __future__ import annotations

import contextvars
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from courseplatform import create_app
from courseplatform.extensions import db

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Argon2id's lightest parameters, for the test applications: a log-in costs a fraction of a millisecond
# instead of OWASP's 19 MiB and two passes. Tests about hashing itself ask for the production parameters
# (the `production_password_hashing` fixture); production refuses these (config.production_problems).
FAST_PASSWORD_HASHING = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def _postgres_admin_url() -> str | None:
    """The URL of a PostgreSQL server that answers, or None."""
    url = os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES
    if not url.startswith("postgres"):
        return None
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return url
    except sa.exc.OperationalError:
        if os.environ.get("TEST_DATABASE_URL"):
            raise
        return None
    finally:
        engine.dispose()


class Databases:
    """Creates throw-away databases for this run and drops them at the end.

    Names carry the process id, so each pytest-xdist worker makes (and drops) databases of its own.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.admin_url = _postgres_admin_url()
        self.created: list[str] = []
        self.sqlite_files: list[Path] = []

    @property
    def kind(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    def new(self, label: str, kind: str | None = None) -> str:
        kind = kind or self.kind
        name = f"aqueduct_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if kind == "sqlite":
            path = self.tmp_dir / (name + ".db")
            self.sqlite_files.append(path)
            return f"sqlite:///{path}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        for path in self.sqlite_files:
            path.unlink(missing_ok=True)
        if not self.created:
            return
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


_databases: Databases | None = None


def databases(tmp_path_factory=None) -> Databases:
    global _databases
    if _databases is None:
        base = Path(tmp_path_factory.mktemp("db")) if tmp_path_factory else Path(os.environ.get("TMPDIR", "/tmp"))
        _databases = Databases(base)
    return _databases


def drop_databases() -> None:
    """Drop what this process's run created (if it created anything)."""
    if _databases is not None:
        _databases.drop_all()


@contextmanager
def committed_application(tmp_path_factory, label: str, *, needs_postgres: bool = True, **config) -> Iterator:
    """An application on a database of its own whose transactions really commit, for races between sessions.

    The `app` fixture's rolled-back transaction is shared by everything that uses `db`, so a test
    of two sessions at once needs its own application (and PostgreSQL, for real concurrency).
    """
    from flask_migrate import upgrade

    dbs = databases(tmp_path_factory)
    if needs_postgres and dbs.kind != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail(f"the {label} concurrency test needs PostgreSQL", pytrace=False)
        pytest.skip(f"the {label} concurrency test needs PostgreSQL")
    root = Path(tmp_path_factory.mktemp(label))
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": dbs.new(label),
            "MAIL_BACKEND": "file",
            "JOB_RUNNER": "inline",
            "MAIL_DIR": str(root / "mail"),
            "MEDIA_ROOT": str(root / "media"),
            "BASE_URL": "http://aqueduct.test",
            "RATELIMIT_STORAGE_URI": "memory://",
            "PAGE_CACHE": "off",
            "PASSWORD_HASHING": FAST_PASSWORD_HASHING,
            **config,
        }
    )
    with application.app_context():
        upgrade()
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


class RequestClient(FlaskClient):
    """A test client whose every request runs in fresh contexts, as in production.

    Flask reuses an application context that is already pushed (pytest-flask pushes
    one for each test), which would let `g`, the logged-in user and the database
    session leak from one request to the next. Running each request in an empty
    `contextvars.Context` gives it its own, exactly like a real server.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


class Mailbox:
    """The messages the file mail backend wrote during one test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def clear(self) -> None:
        if self.directory.exists():
            for path in self.directory.glob("*.eml"):
                path.unlink()

    @property
    def messages(self):
        if not self.directory.exists():
            return []
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(p.read_bytes()) for p in sorted(self.directory.glob("*.eml"))]

    def last_body(self) -> str:
        return self.messages[-1].get_body(preferencelist=("plain",)).get_content()


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Browserless:
    """Fill and submit the app's real forms through the test client, CSRF token included."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def submit(self, url: str, data: dict, *, form_url: str | None = None, follow_redirects: bool = True):
        page = self.client.get(form_url or url)
        assert page.status_code == 200, f"GET {form_url or url} answered {page.status_code}"
        payload = {"csrf_token": csrf_token_from(page.get_data(as_text=True)), **data}
        return self.client.post(url, data=payload, follow_redirects=follow_redirects)

    def login(self, email: str, password: str, remember: bool = False):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self.submit("/login", data)

    def logout(self):
        return self.submit("/logout", {}, form_url="/courses")


class QueryCounter:
    """Counts the SQL statements (not transaction control) that reach the database."""

    # Transaction control, and the statement limit each request's transaction sets (SET LOCAL).
    IGNORED = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "SET LOCAL")

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(self.IGNORED):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


# The demo offering's video, which the media tests upload.
DEMO_VIDEO = Path(__file__).resolve().parents[1] / "courseplatform" / "demo" / "welcome.mp4"
# The signing secret the checkout tests give the fake Stripe's webhook endpoint.
WEBHOOK_SECRET = "whsec_test_aqueduct"


class Api:
    """Calls the upload API as the uploader script does: JSON bodies, CSRF token in a header."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def post(self, url: str, body: dict | None = None) -> tuple[int, dict | None, str]:
        with self.client.post(url, json=body or {}, headers={"X-CSRFToken": self.token}) as response:
            return response.status_code, response.get_json(silent=True), response.headers.get("Location", "")

    def start(self, **body) -> dict:
        status, answer, _ = self.post("/studio/uploads", body)
        assert status == 201, answer
        return answer
