"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose constraints get stable names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSession):
    """A session that honours an explicit bind (used to join a test transaction)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def configure_sqlite(engine: Engine) -> None:
    """Give SQLite real transactions, working savepoints and enforced foreign keys.

    The sqlite3 driver otherwise starts transactions lazily on its own and breaks
    SAVEPOINT, which the services use to turn a unique-key race into a clear message.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=5000")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # IMMEDIATE takes the write lock up front: a request that reads then writes waits
        # for another writer instead of failing with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})

# The models' base class. Flask-SQLAlchemy builds `db.Model` at run time, which a type checker can't follow;
# it sees the declarative base `db.Model` extends.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


# Blueprints whose pages read a creator's whole business: they get the studio's longer statement limit.
STUDIO_BLUEPRINTS = frozenset({"studio", "revenue", "admin"})


def bound_request_statements(engine: Engine, web_ms: int, studio_ms: int) -> None:
    """Cancel any statement of a web request that runs past its limit (PostgreSQL's `statement_timeout`).

    Every connection starts with the web limit (a libpq startup option: no round trip), so the
    public and learner pages, most of the traffic, pay nothing per request. A transaction that needs
    another limit says so with `SET LOCAL`, which ends with it: the studio's pages get their longer
    limit, and work outside a request (jobs, commands, migrations) runs unbounded.
    """

    @event.listens_for(engine, "do_connect")
    def _web_limit(dialect, connection_record, cargs, cparams):
        cparams["options"] = f"{cparams.get('options', '')} -c statement_timeout={int(web_ms)}".strip()

    @event.listens_for(engine, "begin")
    def _bound(connection):
        if not has_request_context():
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        elif request.blueprint in STUDIO_BLUEPRINTS:
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(studio_ms)}")
