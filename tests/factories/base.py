"""What every factory shares: the session they write to (the test's transaction) and the one password."""

from __future__ import annotations

import functools

from factory.alchemy import SQLAlchemyModelFactory
from flask import current_app, has_app_context

from courseplatform.accounts.services import hash_password
from courseplatform.extensions import db

PASSWORD = "calm river stones"


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


@functools.cache
def _password_hash(parameters: tuple) -> str:
    return hash_password(PASSWORD)


def password_hash() -> str:
    """PASSWORD hashed as the application hashes (light parameters under test), once per set of parameters."""
    parameters = current_app.config["PASSWORD_HASHING"] if has_app_context() else None
    return _password_hash(tuple(sorted(parameters.items())) if parameters else ())
