"""Log-in limits hold across web processes (shared Redis), and a Redis outage doesn't lock everyone out."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from ..helpers import csrf_token_from
from ..servers import PROJECT_ROOT, serve

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _wrong_password(browser: requests.Session, url: str) -> int:
    page = browser.get(url + "/login", timeout=10)
    token = csrf_token_from(page.text)
    answer = browser.post(
        url + "/login",
        data={"csrf_token": token, "email": "someone@example.org", "password": "not the password"},
        timeout=10,
    )
    return answer.status_code


@pytest.mark.skipif(not _redis_answers(), reason="no Redis answered")
def test_two_web_processes_share_one_login_limit(tmp_path):
    """Ten wrong passwords a minute in all, whichever process answers (not ten per process)."""
    database = f"sqlite:///{tmp_path / 'limits.db'}"
    settings = {
        "DATABASE_URL": database,
        "SECRET_KEY": "shared-secret-key-for-both-processes-0123456789",
        "REDIS_URL": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"aqueduct-test-{uuid.uuid4().hex}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings, "FLASK_APP": "wsgi"},
        check=True,
        capture_output=True,
    )
    with ExitStack() as stack:
        first, second = serve(stack, settings), serve(stack, settings)
        browser = requests.Session()
        answers = [_wrong_password(browser, (first, second)[attempt % 2]) for attempt in range(12)]
    assert answers[:10] == [200] * 10
    assert answers[10:] == [429, 429]


def test_login_still_works_while_the_rate_limit_store_is_down(tmp_path):
    """Redis unreachable: limits fall back to this process's memory instead of failing every log-in.

    A web process of its own: the limiter is one object per process, and a store it has marked
    dead would otherwise stay dead for the tests that follow (their limits never reset).
    """
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'down.db'}",
        "SECRET_KEY": "x" * 32,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # nothing listens there
        "JOB_RUNNER": "thread",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings, "FLASK_APP": "wsgi"},
        check=True,
        capture_output=True,
    )
    with ExitStack() as stack:
        url = serve(stack, settings)
        assert _wrong_password(requests.Session(), url) == 200
