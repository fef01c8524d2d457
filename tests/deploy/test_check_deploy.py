"""`flask check-deploy`: an operator learns every unsafe or missing setting before going live."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from courseplatform.config import UNSAFE_IN_PRODUCTION
from courseplatform.deploy import check_deploy_command

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")

READY = {
    "AQUEDUCT_ENV": "production",
    "SECRET_KEY": "5f0c8e1d9a7b4c3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e",
    "DATABASE_URL": "postgresql://aqueduct:secret@db.internal-network.example.com/aqueduct",
    "REDIS_URL": "redis://cache.example.com:6379/0",
    "BASE_URL": "https://courses.aqueduct.example.org",
    "MAIL_BACKEND": "smtp",
    "SMTP_HOST": "smtp.mailprovider.example.net",
    "SMTP_USERNAME": "aqueduct",
    "SMTP_PASSWORD": "smtp-password",
    "MAIL_FROM": "Aqueduct <hello@aqueduct.example.org>",
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "aqueduct-media",
    "STRIPE_SECRET_KEY": "sk_live_51abcdef",
    "STRIPE_WEBHOOK_SECRET": "whsec_platform",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect",
    "TRUSTED_PROXY_HOPS": "1",
}
# Every setting the check reads, cleared so the test's own environment can't decide the answer.
READ_SETTINGS = (
    *READY,
    "FLASK_ENV",
    "FLASK_DEBUG",
    "AQUEDUCT_ALLOW_UNSAFE",
    "STRIPE_API_BASE",
    "SMTP_STARTTLS",
    "SMTP_SSL",
    "LOG_FORMAT",
    "CLOUDFRONT_DOMAIN",
    "MEDIA_ORIGIN",
)


def run_check(runner, monkeypatch, **changes: str | None):
    for name in READ_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**READY, **changes}.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    return runner.invoke(check_deploy_command)


def test_a_complete_production_environment_is_ready(runner, monkeypatch):
    result = run_check(runner, monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Ready for production")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY is the built-in development key, shorter than 32"),
        ({"AQUEDUCT_ENV": None}, "AQUEDUCT_ENV is not 'production'"),
        # Twice: the rate limits and the queue both need it.
        ({"REDIS_URL": None}, "JOB_RUNNER is not 'celery': background jobs would run inside web processes"),
        ({"REDIS_URL": "http://cache.example.com"}, "REDIS_URL must start with redis://"),
        ({"BASE_URL": "http://courses.aqueduct.example.org"}, "BASE_URL is not a public https address"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": None}, "STORAGE_BACKEND is 's3' without S3_BUCKET"),
        ({"SMTP_HOST": None}, "MAIL_BACKEND is 'smtp' without SMTP_HOST"),
        ({"SMTP_STARTTLS": "false"}, "SMTP_STARTTLS and SMTP_SSL are both off"),
        ({"MAIL_FROM": None}, "MAIL_FROM is 'Aqueduct <hello@aqueduct.test>'"),
        ({"STRIPE_SECRET_KEY": "sk_test_51abcdef"}, "STRIPE_SECRET_KEY is a test-mode key"),
        ({"STRIPE_CONNECT_WEBHOOK_SECRET": None}, "STRIPE_CONNECT_WEBHOOK_SECRET is not set"),
        ({"TRUSTED_PROXY_HOPS": None}, "TRUSTED_PROXY_HOPS is not set"),
        ({"LOG_FORMAT": "text"}, "LOG_FORMAT is 'text'"),
        ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND must be 'file' or 'smtp'"),
        ({"AQUEDUCT_ENV": "staging"}, "AQUEDUCT_ENV is 'staging'"),
    ],
)
def test_each_missing_or_unsafe_setting_is_named_and_fails_the_check(runner, monkeypatch, changes, expected):
    result = run_check(runner, monkeypatch, **changes)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(problems) == (2 if changes == {"REDIS_URL": None} else 1), result.output
    assert expected in result.output


def test_a_setting_production_allows_by_name_passes_the_check(runner, monkeypatch):
    result = run_check(runner, monkeypatch, STORAGE_BACKEND="local", AQUEDUCT_ALLOW_UNSAFE="local-media")
    assert result.exit_code == 0, result.output


def test_no_proxy_in_front_is_a_choice_the_operator_states(runner, monkeypatch):
    assert run_check(runner, monkeypatch, TRUSTED_PROXY_HOPS="0").exit_code == 0


def test_every_setting_production_refuses_is_reported_from_the_one_list(runner, monkeypatch):
    result = run_check(
        runner,
        monkeypatch,
        STRIPE_SECRET_KEY=None,
        DATABASE_URL=None,
        MAIL_BACKEND="file",
        REDIS_URL=None,
        BASE_URL=None,
        STORAGE_BACKEND="local",
    )
    assert result.exit_code == 1
    for name in ("free-test-checkout", "sqlite", "file-mail", "memory-rate-limits", "local-base-url", "local-media"):
        assert f"AQUEDUCT_ALLOW_UNSAFE={name}." in result.output
        assert UNSAFE_IN_PRODUCTION[name] in result.output


def test_the_command_runs_even_while_production_refuses_to_start(tmp_path):
    """The operator's environment is unsafe, so the application won't build; the check still answers."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **READY, "SECRET_KEY": "changeme"}
    command = [str(FLASK), "--app", str(PROJECT_ROOT / "wsgi.py")]
    refused = subprocess.run([*command, "routes"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "won't start in production" in refused.stderr

    result = subprocess.run(
        [*command, "check-deploy"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "SECRET_KEY is the built-in development key" in result.stdout

    ready = subprocess.run(
        [*command, "check-deploy"], env={**env, **READY}, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "Ready for production" in ready.stdout
