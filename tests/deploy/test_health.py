"""`/healthz`: what a load balancer and the operator's monitoring read."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from courseplatform import create_app
from courseplatform.extensions import db
from courseplatform.health import queue_lag_seconds
from courseplatform.models import Job, MailStatus, OutgoingMail, utcnow

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"
# Nothing listens on port 1 of loopback: the connection is refused at once.
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/15"


def outbox_message(*, due_seconds_ago: int, status: MailStatus = MailStatus.PENDING) -> OutgoingMail:
    now = utcnow()
    message = OutgoingMail(
        recipient="learner@example.org",
        subject="Your receipt",
        text="Thank you.",
        status=status,
        created_at=now - timedelta(seconds=due_seconds_ago + 60),
        next_attempt_at=now - timedelta(seconds=due_seconds_ago),
    )
    db.session.add(message)
    db.session.flush()
    return message


@pytest.fixture
def real_redis(app, monkeypatch):
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_TEST_URL)


def test_healthz_reports_the_database_and_an_empty_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured", "queue_lag_seconds": 0}


def test_healthz_reports_how_long_the_oldest_due_message_has_waited(client):
    outbox_message(due_seconds_ago=5)
    outbox_message(due_seconds_ago=125)
    outbox_message(due_seconds_ago=-600)  # a retry not due for ten minutes is not late
    outbox_message(due_seconds_ago=9000, status=MailStatus.SENT)
    outbox_message(due_seconds_ago=9000, status=MailStatus.FAILED)
    lag = client.get("/healthz").json["queue_lag_seconds"]
    assert 125 <= lag <= 135
    assert 125 <= queue_lag_seconds() <= 135


def test_a_job_nobody_has_run_counts_as_queue_lag_too(client):
    db.session.add(Job(kind="storage.delete", payload={}, run_after=utcnow() - timedelta(seconds=300)))
    db.session.add(Job(kind="storage.delete", payload={}, run_after=utcnow() + timedelta(seconds=300)))
    db.session.commit()
    assert 300 <= client.get("/healthz").json["queue_lag_seconds"] <= 310


def test_healthz_runs_the_same_queries_whatever_waits_in_the_outbox(client, count_queries):
    with count_queries() as empty:
        client.get("/healthz")
    for seconds in range(30):
        outbox_message(due_seconds_ago=seconds)
    with count_queries() as busy:
        client.get("/healthz")
    assert busy.count == empty.count <= 2


def test_healthz_pings_redis_when_it_is_configured(client, real_redis):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["redis"] == "ok"


def test_healthz_answers_503_naming_redis_when_it_is_unreachable(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", UNREACHABLE_REDIS_URL)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["failing"] == ["redis"]
    assert response.json["database"] == "ok"
    assert response.json["redis"] == "unreachable"


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path):
    broken = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["failing"] == ["database"]
    assert response.json["database"] == "unreachable"
    assert response.json["queue_lag_seconds"] is None
