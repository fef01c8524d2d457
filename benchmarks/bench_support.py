"""Throw-away pieces the benchmark scripts share: a free port and a database dropped at exit."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


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
