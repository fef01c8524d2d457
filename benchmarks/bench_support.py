"""Throw-away pieces the benchmark scripts share: a free port, a database dropped at exit, the app under gunicorn."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
import sqlalchemy as sa

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_database(stack: ExitStack) -> tuple[str, str]:
    """A new, empty database dropped at exit: PostgreSQL when one answers, else SQLite."""
    admin_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"aqueduct_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        admin.dispose()
        folder = Path(tempfile.mkdtemp(prefix="aqueduct_bench_"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        return f"sqlite:///{folder / 'bench.db'}", "SQLite (PostgreSQL did not answer)"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    return admin_url.rsplit("/", 1)[0] + "/" + name, f"PostgreSQL database {name}"


def serve_under_gunicorn(stack: ExitStack, settings: dict[str, str]) -> str:
    """The app under gunicorn (3 processes x 4 threads) on a free port with these settings; stopped at exit."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(settings)  # REDIS_URL only when these settings give it
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(  # noqa: S603
        [str(gunicorn), "-k", "gthread", "-w", "3", "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=20)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return url
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the app did not start under gunicorn")


BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def migrated(database_url: str, **config):
    """A Flask app on `database_url`, its schema built by the migrations (for seeding and counting)."""
    from flask_migrate import upgrade

    from courseplatform import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secrets.token_hex(32), **config})
    with app.app_context():
        upgrade()
    return app


def redis_namespace(stack: ExitStack) -> str:
    """A queue name and key prefix of its own in BENCH_REDIS_URL, whose keys are deleted at exit."""
    import redis

    prefix = f"aqueduct-bench-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=3)
    client.ping()

    def forget() -> None:
        for pattern in (f"{prefix}:*", f"*{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)

    stack.callback(forget)
    return prefix


def deployment_env(database_url: str, prefix: str, scratch: Path, **settings: str) -> dict[str, str]:
    """The environment of every process of one deployment: this database, the queue in Redis, and `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AQUEDUCT_", "FLASK_", "STRIPE_", "SMTP_", "S3_", "REDIS", "DATABASE", "JOB_"))
    }
    env.update(
        {
            "AQUEDUCT_ENV": "development",
            "FLASK_APP": "wsgi",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url,
            "REDIS_URL": BENCH_REDIS_URL,
            "CELERY_QUEUE": prefix,
            "RATELIMIT_KEY_PREFIX": prefix,
            "MAIL_DIR": str(scratch / "mail"),
            "MEDIA_ROOT": str(scratch / "media"),
            "BASE_URL": "http://aqueduct.test",
            **settings,
        }
    )
    return env


def machine() -> str:
    """One line about this machine, printed with the figures."""
    import platform

    return f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
