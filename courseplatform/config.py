"""Settings from the environment (an optional `.env` is read first)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

DEFAULT_SECRET_KEY = "dev-only-insecure-aqueduct-key"  # noqa: S105 (refused in production)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised when the settings would make the application unsafe to run."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _file_or_env(name: str) -> str:
    """A secret given inline in NAME, or as a path to a file in NAME_FILE (for PEM keys)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE points at {path!r}, which can't be read: {exc.strerror}") from exc
    return os.environ.get(name, "")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'aqueduct.db'}"
    # Heroku-style URLs and plain "postgresql://" both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the settings mapping: environment, then explicit overrides."""
    overrides = dict(overrides or {})
    if not overrides.get("TESTING"):
        # A developer's .env (real Stripe keys, S3…) must never leak into a test application.
        load_dotenv(PROJECT_ROOT / ".env", override=False)
    env = os.environ.get("AQUEDUCT_ENV", os.environ.get("FLASK_ENV", "development"))
    production = env == "production"

    config = {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # How many reverse proxies (load balancer, CDN) stand in front and set X-Forwarded-*.
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Media
        "STORAGE_BACKEND": os.environ.get("STORAGE_BACKEND", "local"),
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", str(instance_path / "media")),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "AWS_REGION": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        # Largest video or audio file a creator may upload (5 GiB, S3's single-object PUT limit).
        "MAX_VIDEO_BYTES": _int("MAX_VIDEO_BYTES", 5 * 1024**3),
        # Browser uploads larger than this go to storage in parts of MULTIPART_PART_BYTES (S3's minimum is 5 MiB).
        "MULTIPART_THRESHOLD_BYTES": _int("MULTIPART_THRESHOLD_BYTES", 64 * 1024**2),
        "MULTIPART_PART_BYTES": _int("MULTIPART_PART_BYTES", 16 * 1024**2),
        # Optional CloudFront distribution in front of the bucket: playback links become
        # CloudFront signed URLs (a trusted key group's key id and its PEM private key).
        "CLOUDFRONT_DOMAIN": os.environ.get("CLOUDFRONT_DOMAIN", ""),
        "CLOUDFRONT_KEY_ID": os.environ.get("CLOUDFRONT_KEY_ID", ""),
        "CLOUDFRONT_PRIVATE_KEY": _file_or_env("CLOUDFRONT_PRIVATE_KEY"),
        # Optional separate origin for local media (e.g. https://media.example.com, pointing at this
        # app): links to files become absolute there, so uploaded files never share the site's origin.
        "MEDIA_ORIGIN": os.environ.get("MEDIA_ORIGIN", "").strip().rstrip("/"),
        # How long a playback or download link works; the player asks for a fresh one when it lapses.
        "MEDIA_URL_SECONDS": _int("MEDIA_URL_SECONDS", 3600),
        # Learners see a live session's join link from this many minutes before it starts.
        "LIVE_JOIN_OPENS_MINUTES": _int("LIVE_JOIN_OPENS_MINUTES", 15),
        # Payments
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_CONNECT_WEBHOOK_SECRET": os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        "PLATFORM_FEE_PERCENT": _int("PLATFORM_FEE_PERCENT", 10),
        # Mail
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND", "file"),
        "MAIL_DIR": os.environ.get("MAIL_DIR", str(instance_path / "mail")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Aqueduct <hello@aqueduct.test>"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "localhost"),
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool(os.environ.get("SMTP_STARTTLS"), default=True),
        "SMTP_SSL": _bool(os.environ.get("SMTP_SSL")),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 10),
        # Accounts and security
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 3600),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": _int("MAX_FORM_BYTES", 16 * 1024 * 1024),
    }
    config.update(overrides)

    if config["ENV_NAME"] == "production" and (
        config["SECRET_KEY"] == DEFAULT_SECRET_KEY or len(config["SECRET_KEY"]) < 32
    ):
        raise ConfigError(
            "SECRET_KEY is the built-in development key or shorter than 32 characters; set a long random "
            "SECRET_KEY before running Aqueduct in production."
        )
    if config["MAIL_BACKEND"] not in {"file", "smtp"}:
        raise ConfigError(f"MAIL_BACKEND must be 'file' or 'smtp', not {config['MAIL_BACKEND']!r}")
    if config["STORAGE_BACKEND"] not in {"local", "s3"}:
        raise ConfigError(f"STORAGE_BACKEND must be 'local' or 's3', not {config['STORAGE_BACKEND']!r}")
    if config["MEDIA_ORIGIN"]:
        _check_media_origin(config["MEDIA_ORIGIN"], config["BASE_URL"])
    if config["CLOUDFRONT_DOMAIN"] and not (config["CLOUDFRONT_KEY_ID"] and config["CLOUDFRONT_PRIVATE_KEY"]):
        raise ConfigError("CLOUDFRONT_DOMAIN needs CLOUDFRONT_KEY_ID and CLOUDFRONT_PRIVATE_KEY (or _FILE) as well.")
    return config


def _check_media_origin(origin: str, base_url: str) -> None:
    """MEDIA_ORIGIN must be a bare http(s) origin on another host than the site's."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ConfigError(f"MEDIA_ORIGIN must be an origin such as https://media.example.com, not {origin!r}")
    if parts.netloc.lower() == urlsplit(base_url).netloc.lower():
        raise ConfigError("MEDIA_ORIGIN must be another host than BASE_URL's, so files never share the site's origin.")
