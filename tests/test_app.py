"""The application factory, configuration, health check, error pages and headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from courseplatform import create_app
from courseplatform.config import DEFAULT_SECRET_KEY, ConfigError, load_config


def test_factory_applies_overrides(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret-key"


def test_config_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://user@db.example:5432/aqueduct")
    monkeypatch.setenv("PLATFORM_FEE_PERCENT", "12")
    monkeypatch.setenv("MAIL_BACKEND", "smtp")
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://user@db.example:5432/aqueduct"
    assert config["PLATFORM_FEE_PERCENT"] == 12
    assert config["MAIL_BACKEND"] == "smtp"


def test_embedded_defaults_need_no_services(monkeypatch, tmp_path):
    for name in ["DATABASE_URL", "STORAGE_BACKEND", "STRIPE_SECRET_KEY", "MAIL_BACKEND", "REDIS_URL", "SECRET_KEY"]:
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'aqueduct.db'}"
    assert config["STORAGE_BACKEND"] == "local"
    assert config["MAIL_BACKEND"] == "file"
    assert config["STRIPE_SECRET_KEY"] == ""
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["SESSION_COOKIE_SECURE"] is False


def test_production_refuses_the_default_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("AQUEDUCT_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": DEFAULT_SECRET_KEY})


def test_production_refuses_a_short_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("AQUEDUCT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="32 characters"):
        load_config(tmp_path)


def test_dotenv_is_not_read_by_test_applications(monkeypatch, tmp_path):
    import courseplatform.config as config_module

    monkeypatch.setattr(config_module, "PROJECT_ROOT", tmp_path)
    (tmp_path / ".env").write_text("STORAGE_BACKEND=s3\n")
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)
    assert load_config(tmp_path, {"TESTING": True})["STORAGE_BACKEND"] == "local"
    assert load_config(tmp_path)["STORAGE_BACKEND"] == "s3"
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)


def what_the_app_sees_behind_one_proxy(tmp_path, headers: dict) -> dict:
    """The client address and host a request has inside an app behind one trusted proxy."""
    proxied = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db", "SECRET_KEY": "x" * 32, "TRUSTED_PROXY_HOPS": 1}
    )

    @proxied.get("/__seen")
    def seen():
        from flask import request

        return {"address": request.remote_addr, "host": request.host}

    return proxied.test_client().get("/__seen", headers=headers).json


def test_behind_a_proxy_the_client_address_is_used(tmp_path):
    assert what_the_app_sees_behind_one_proxy(tmp_path, {"X-Forwarded-For": "203.0.113.7"})["address"] == "203.0.113.7"


def test_behind_a_proxy_the_host_a_client_forwards_is_not_believed(tmp_path):
    """Load balancers such as AWS's pass a client's X-Forwarded-Host through untouched."""
    assert what_the_app_sees_behind_one_proxy(tmp_path, {"X-Forwarded-Host": "evil.example"})["host"] == "localhost"


def test_unknown_backends_are_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("STORAGE_BACKEND", "ftp")
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        load_config(tmp_path)


def test_pages_carry_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_404_page_has_the_site_look(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We couldn&#39;t find that page" in html or "We couldn't find that page" in html
    assert 'class="site-header"' in html


def test_500_page_keeps_the_look(tmp_path):
    broken = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "x" * 32})

    @broken.get("/__boom")
    def boom():
        raise RuntimeError("boom")

    response = broken.test_client().get("/__boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)


def test_static_assets_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
    assert stylesheet, "the page links its own fingerprinted stylesheet"
    assert "https://" not in html.split("<body")[0], "no CDN in the head"
    with client.get(stylesheet[1]) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"


def test_wsgi_module_exposes_app():
    source = (Path(__file__).parent.parent / "wsgi.py").read_text()
    assert "app = create_app()" in source


def test_models_and_tables_are_all_there(app):
    from courseplatform.extensions import db

    with app.app_context():
        names = set(sa.inspect(db.engine).get_table_names())
    expected = {
        "users",
        "creator_profiles",
        "courses",
        "sections",
        "lessons",
        "media_assets",
        "live_sessions",
        "orders",
        "enrollments",
        "lesson_progress",
        "quiz_questions",
        "quiz_choices",
        "quiz_attempts",
        "certificates",
        "waitlist_entries",
        "provider_events",
        "session_income",
        "topics",
        "course_topics",
    }
    assert expected <= names
