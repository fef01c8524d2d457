"""Logs: one JSON line per request with its id, and the id on every record the request logs."""

from __future__ import annotations

import json
import logging
import re

import pytest

from courseplatform.config import read_config
from courseplatform.logs import install_log_handler, redact, remove_log_handler
from tests.factories import PASSWORD, UserFactory

from .test_health import UNREACHABLE_REDIS_URL


@pytest.fixture
def json_logs(capsys):
    """The lines a production process would write to stdout while the test runs."""
    install_log_handler("json")
    capsys.readouterr()

    def lines() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    yield lines
    remove_log_handler()


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "courseplatform.requests"]


def test_each_request_writes_one_line_with_what_it_was_and_how_it_went(client, json_logs):
    # Buffered: the client closes the response, as servers do once it is sent; then the line is written.
    response = client.get(
        "/courses?q=grief&token=s3cr3t-value", environ_base={"REMOTE_ADDR": "203.0.113.9"}, buffered=True
    )
    assert response.status_code == 200
    output = json_logs()
    [line] = request_lines(output)
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/courses"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 10_000
    assert line["remote_addr"] == "203.0.113.9"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert "user_id" not in line
    assert "s3cr3t-value" not in json.dumps(output)


def test_the_line_names_the_logged_in_user(client, web, json_logs):
    user = UserFactory()
    web.login(user.email, PASSWORD)
    json_logs()
    client.get("/learn", buffered=True)
    [line] = request_lines(json_logs())
    assert line["path"] == "/learn"
    assert line["user_id"] == user.id


def test_a_sane_request_id_from_the_caller_is_kept(client, json_logs):
    response = client.get("/courses", headers={"X-Request-ID": "lb-7f3a.Root_1"}, buffered=True)
    assert response.headers["X-Request-ID"] == "lb-7f3a.Root_1"
    assert request_lines(json_logs())[0]["request_id"] == "lb-7f3a.Root_1"


@pytest.mark.parametrize("offered", ["x" * 65, "two words", "<script>", "id\u00e9", ""])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client, json_logs, offered):
    response = client.get("/courses", headers={"X-Request-ID": offered}, buffered=True)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert request_lines(json_logs())[0]["request_id"] == response.headers["X-Request-ID"]


def test_records_logged_during_a_request_carry_its_id(app, client, json_logs, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", UNREACHABLE_REDIS_URL)
    response = client.get("/healthz", headers={"X-Request-ID": "probe-42"}, buffered=True)
    assert response.status_code == 503
    lines = json_logs()
    [warning] = [line for line in lines if line["logger"] == "courseplatform.health"]
    assert warning["level"] == "WARNING"
    assert warning["message"].startswith("health check: Redis is unreachable")
    assert warning["request_id"] == "probe-42"
    assert request_lines(lines)[0]["status"] == 503


def test_a_token_in_the_path_never_reaches_the_log(client, json_logs):
    client.get("/password/reset/InR0b2tlbi12YWx1ZSI.abcdef", buffered=True)
    output = json_logs()
    assert request_lines(output)[0]["path"] == "/password/reset/[redacted]"
    assert "InR0b2tlbi12YWx1ZSI" not in json.dumps(output)


def test_static_files_get_their_line_too(client, json_logs):
    client.get("/static/css/app.css", buffered=True)
    [line] = request_lines(json_logs())
    assert (line["path"], line["status"]) == ("/static/css/app.css", 200)


def test_credentials_are_taken_out_of_any_message():
    text = "retry https://x.test/hook?a=1&token=abc123&password=hunter2 with sk_live_51Hxyz and whsec_9f8e"
    cleaned = redact(text)
    for secret in ("abc123", "hunter2", "sk_live_51Hxyz", "whsec_9f8e"):
        assert secret not in cleaned
    assert "a=1&token=[redacted]&password=[redacted]" in cleaned


def test_production_logs_json_and_development_text(monkeypatch, tmp_path):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setenv("AQUEDUCT_ENV", "production")
    assert read_config(tmp_path, {"TESTING": True})["LOG_FORMAT"] == "json"
    monkeypatch.setenv("AQUEDUCT_ENV", "development")
    assert read_config(tmp_path, {"TESTING": True})["LOG_FORMAT"] == "text"
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert read_config(tmp_path, {"TESTING": True})["LOG_FORMAT"] == "json"


def test_the_development_servers_own_request_line_is_left_out(json_logs):
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.info('127.0.0.1 - - [06/Dec/2026 04:25:09] "%s" %s %s\n', "GET /courses?token=abc HTTP/1.1", "200", "-")
    werkzeug.info(" * Running on %s", "http://127.0.0.1:5000")
    assert [line["message"] for line in json_logs()] == [" * Running on http://127.0.0.1:5000"]
