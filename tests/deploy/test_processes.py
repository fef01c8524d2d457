"""The Procfile's web process: gunicorn with gunicorn.conf.py serves the app and logs JSON lines."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import committed_application
from tests.servers import PROJECT_ROOT, free_port

VENV_BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_procfile_names_web_worker_and_beat():
    processes = procfile()
    assert processes["web"] == "gunicorn -c gunicorn.conf.py wsgi:app"
    assert processes["worker"] == "celery -A courseplatform.jobs.worker worker --loglevel=INFO"
    assert processes["beat"] == "celery -A courseplatform.jobs.worker beat --loglevel=INFO"


@pytest.fixture
def database_url(tmp_path_factory) -> str:
    """A database built by the migrations, as `flask db upgrade` leaves it before the web process starts."""
    with committed_application(tmp_path_factory, "gunicorn", needs_postgres=False) as application:
        return application.config["SQLALCHEMY_DATABASE_URI"]


def test_the_web_process_serves_the_health_check_and_logs_one_json_line_per_request(database_url, tmp_path):
    port = free_port()
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "STATIC_BUILD_DIR": str(tmp_path / "static"),
        "MAIL_DIR": str(tmp_path / "mail"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    process = subprocess.Popen(
        shlex.split(procfile()["web"]),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline and response is None:
            try:
                response = requests.get(base + "/healthz", headers={"X-Request-ID": "lb-check-1"}, timeout=10)
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its worker still booting
                time.sleep(0.1)
        assert response is not None, "gunicorn did not start"
        assert response.status_code == 200
        assert response.json()["database"] == "ok"
        assert response.json()["queue_lag_seconds"] == 0
        assert response.headers["X-Request-ID"] == "lb-check-1"
        page = requests.get(base + "/courses", timeout=30)
        stylesheet = next(part for part in page.text.split('"') if part.startswith("/static/css/app."))
        assert requests.get(base + stylesheet, timeout=30).headers["Cache-Control"].endswith("immutable")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)

    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(stdout.splitlines()), f"a line on stdout that is not JSON:\n{stdout}"
    health = [line for line in lines if line.get("path") == "/healthz" and line.get("request_id") == "lb-check-1"]
    assert len(health) == 1, stdout
    assert health[0]["status"] == 200 and health[0]["method"] == "GET"
    booted = [line for line in lines if line["logger"] == "gunicorn.error" and "Booting worker" in line["message"]]
    assert len(booted) == 2, stdout
    assert "lb-check-1" not in stderr, "gunicorn's access log would write the request a second time"
