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
    env = {**os.environ, **settings}
    env.pop("REDIS_URL", None)
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
