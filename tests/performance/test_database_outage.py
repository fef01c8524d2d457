"""When the database is unreachable, pages answer a friendly 503 with one log line, not a bare error.

Measured before: with the database restarting for 0.5 s, the 500 page itself failed (its layout
loads the user from the database), users got the server's bare error, and the log grew 33 MB in
a 10 s outage.
"""

from __future__ import annotations

import html
import logging

import pytest

from courseplatform import create_app
from courseplatform.extensions import db


@pytest.fixture
def unreachable(tmp_path):
    """An application whose database doesn't answer (nothing listens on port 1 of loopback)."""
    application = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://aqueduct@127.0.0.1:1/aqueduct?connect_timeout=2",
            "MAIL_DIR": str(tmp_path / "mail"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "JOB_RUNNER": "inline",
            "RATELIMIT_STORAGE_URI": "memory://",
            "STORAGE_BACKEND": "local",
            "REDIS_URL": "",
        }
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/", "/courses", "/courses/grounding", "/learn", "/studio"])
def test_a_page_answers_a_friendly_503_while_the_database_is_down(unreachable, caplog, path):
    client = unreachable.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:" + "a" * 43  # a returning learner: the layout would load them
        session["_fresh"] = False
    with caplog.at_level(logging.INFO):
        response = client.get(path)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 503
    assert "We can't reach our records right now" in page
    assert response.headers["Retry-After"] == "30"
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is None  # one line, not a traceback per request


def test_json_callers_get_a_json_503(unreachable):
    response = unreachable.test_client().get("/courses", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json["error"] == "We can't reach our records right now"
