"""Settings from the environment (an optional `.env` is read first)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv
from flask.helpers import get_debug_flag

# Stripe's "General - Electronically Supplied Services" product tax code, its preset for digital services.
DEFAULT_TAX_CODE = "txcd_10000000"
DEFAULT_SECRET_KEY = "dev-only-insecure-aqueduct-key"  # noqa: S105 (refused in production)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("json", "text")
# A secret key anyone could guess despite its length: fewer characters than this, or fewer
# different ones (Django's rule: 50 and 5; 32 is what a 256-bit random key takes in hex).
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_CHARACTERS = 5
# Names that never lead to a public site: RFC 6761's and 6762's special-use names, ICANN's
# private `.internal`, RFC 8375's home.arpa, and the usual names of a home or office network.
PRIVATE_DOMAINS = ("localhost", "local", "internal", "test", "invalid", "example", "home.arpa", "localdomain", "lan")
# Argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane), not more: about 17 ms of one
# core a log-in, so a crowd logging in at once isn't queued for seconds (benchmarks/password_hashing.py).
# Only a test configuration passes lighter ones (create_app's PASSWORD_HASHING); production refuses them.
PASSWORD_HASHING = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


class ConfigError(RuntimeError):
    """Raised when the settings would make the application unsafe to run."""


# Settings production refuses unless AQUEDUCT_ALLOW_UNSAFE names them: name -> why it is unsafe.
# A default or short SECRET_KEY and the debugger are never allowed.
UNSAFE_IN_PRODUCTION = {
    "free-test-checkout": "STRIPE_SECRET_KEY is not set: paid offerings would be sold through the test-mode "
    "checkout, whose Pay button enrols learners without taking any money.",
    "sqlite": "DATABASE_URL is SQLite: one file on one machine, which a second web server can't share. "
    "Set DATABASE_URL=postgresql://...",
    "file-mail": "MAIL_BACKEND is 'file': receipts, invitations and password resets would be written to "
    "disk instead of being sent. Set MAIL_BACKEND=smtp and SMTP_*.",
    "memory-rate-limits": "REDIS_URL is not set: log-in and reset limits would be counted separately by "
    "each web process, so every extra process multiplies the attempts allowed. Set REDIS_URL.",
    "local-base-url": "BASE_URL is not a public https address: links in e-mails would point at this machine or "
    "a private network, and secure cookies need https. Set BASE_URL=https://your-domain.",
    "local-media": "STORAGE_BACKEND is 'local': uploads live on this machine's disk, which web processes "
    "on another machine can't see. Set STORAGE_BACKEND=s3 and S3_BUCKET.",
    "stripe-without-webhooks": "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: refunds and disputes "
    "made in Stripe would never reach Aqueduct, so access would outlive the money.",
    "stripe-api-base": "STRIPE_API_BASE points the Stripe client somewhere other than Stripe: whatever answers "
    "there decides which checkouts are paid. Unset STRIPE_API_BASE.",
    "in-process-jobs": "JOB_RUNNER is not 'celery': background jobs would run inside web processes, which "
    "a restart or deploy interrupts, and nothing would run the schedules (reminders, clean-up, expired "
    "checkouts). Set REDIS_URL and run the Procfile's worker and beat.",
    "stripe-test-keys": "STRIPE_SECRET_KEY is a test-mode key (sk_test_/rk_test_): Stripe Checkout would take its "
    "test card numbers, so paid offerings would be sold for nothing. Set the live key (sk_live_/rk_live_).",
}


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


def _switch(name: str) -> bool:
    """An on/off setting: on, off, true, false, yes, no, 1 or 0 (empty is off); anything else is refused."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "off", "false", "no"):
        return False
    if raw in ("1", "on", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be on or off, not {os.environ.get(name)!r}.")


def _int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"from {minimum} up"
        raise ConfigError(f"{name} must be {bounds}, not {value}.")
    return value


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


def _environment_name() -> str:
    """AQUEDUCT_ENV (or FLASK_ENV): 'production' or 'development', whatever its case; anything else is refused.

    An unknown name (prod, staging) would otherwise start as development, with the test-mode
    checkout on and none of production's checks.
    """
    source = "AQUEDUCT_ENV" if os.environ.get("AQUEDUCT_ENV", "").strip() else "FLASK_ENV"
    raw = os.environ.get(source, "")
    env = raw.strip().lower() or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(
            f"{source} is {raw!r}: it must be 'production' or 'development'. (Run a staging site as production, "
            "allowing by name in AQUEDUCT_ALLOW_UNSAFE what it knowingly lacks.)"
        )
    return env


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the settings mapping (environment, then explicit overrides), refusing unsafe or invalid ones."""
    config = read_config(instance_path, overrides)
    if config["ENV_NAME"] == "production":
        problems = production_problems(config)
        if problems:
            raise ConfigError(
                "Aqueduct won't start in production with these settings:\n"
                + "\n".join(f"  - {problem}" for problem in problems)
            )
    check_config(config)
    return config


def read_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """The settings mapping from the environment (and `.env`), then explicit overrides, not yet judged."""
    overrides = dict(overrides or {})
    if not overrides.get("TESTING"):
        # A developer's .env (real Stripe keys, S3…) must never leak into a test application.
        load_dotenv(PROJECT_ROOT / ".env", override=False)
    env = _environment_name()
    production = env == "production"
    allowed_unsafe = frozenset(re.split(r"[\s,]+", os.environ.get("AQUEDUCT_ALLOW_UNSAFE", "").strip())) - {""}

    config = {
        "ENV_NAME": env,
        # Production settings an operator has knowingly allowed (see UNSAFE_IN_PRODUCTION).
        "ALLOW_UNSAFE": allowed_unsafe,
        # Read as Flask reads it (anything but 0, false or no is on), so the check sees what Flask will do.
        "FLASK_DEBUG": get_debug_flag(),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # In production a failed statement's error names the SQL, never its values (addresses, token hashes).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": production},
        # How many reverse proxies (load balancer, CDN) stand in front and set X-Forwarded-*.
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0, minimum=0),
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
        "CLOUDFRONT_DOMAIN": os.environ.get("CLOUDFRONT_DOMAIN", "").strip().rstrip("/").lower(),
        "CLOUDFRONT_KEY_ID": os.environ.get("CLOUDFRONT_KEY_ID", ""),
        "CLOUDFRONT_PRIVATE_KEY": _file_or_env("CLOUDFRONT_PRIVATE_KEY"),
        # The large-scale path for HLS: with the site and CLOUDFRONT_DOMAIN both under this domain (e.g.
        # courses.example.com and media.example.com under example.com), a video's segments stream straight
        # from CloudFront on signed cookies for that video, renewed by the player while access lasts.
        "CLOUDFRONT_COOKIE_DOMAIN": os.environ.get("CLOUDFRONT_COOKIE_DOMAIN", "").strip().strip(".").lower(),
        # Optional separate origin for local media (e.g. https://media.example.com, pointing at this
        # app): links to files become absolute there, so uploaded files never share the site's origin.
        "MEDIA_ORIGIN": os.environ.get("MEDIA_ORIGIN", "").strip().rstrip("/"),
        # How long a playback or download link works; the player asks for a fresh one when it lapses.
        "MEDIA_URL_SECONDS": _int("MEDIA_URL_SECONDS", 3600),
        # How long a link to one HLS segment (or a poster) works: the player asks for each as it goes, so
        # a refund or revoked access stops the stream within this long.
        "HLS_LINK_SECONDS": _int("HLS_LINK_SECONDS", 120, minimum=10, maximum=3600),
        # The ffmpeg that makes HLS ladders: empty for the system's, else the one imageio-ffmpeg's wheel carries.
        "FFMPEG_BINARY": os.environ.get("FFMPEG_BINARY", "").strip(),
        # Who makes the ladders: "ffmpeg" (this machine's workers, the default) or "mediaconvert" (AWS Elemental
        # MediaConvert, reading and writing the S3 bucket with the IAM role MEDIACONVERT_ROLE_ARN names).
        "TRANSCODER": os.environ.get("TRANSCODER", "ffmpeg").strip().lower(),
        "MEDIACONVERT_ROLE_ARN": os.environ.get("MEDIACONVERT_ROLE_ARN", "").strip(),
        "MEDIACONVERT_ENDPOINT_URL": os.environ.get("MEDIACONVERT_ENDPOINT_URL", "").strip() or None,
        "MEDIACONVERT_QUEUE": os.environ.get("MEDIACONVERT_QUEUE", "").strip(),
        "MEDIACONVERT_POLL_SECONDS": _int("MEDIACONVERT_POLL_SECONDS", 15, minimum=1, maximum=300),
        # Learners see a live session's join link from this many minutes before it starts.
        "LIVE_JOIN_OPENS_MINUTES": _int("LIVE_JOIN_OPENS_MINUTES", 15),
        # CE records (attendance, post-test attempts, certificates) are kept this many years after an
        # offering's last CE certificate; until then nothing holding them can be deleted. California asks 4.
        "CE_RECORDS_RETENTION_YEARS": _int("CE_RECORDS_RETENTION_YEARS", 7, minimum=4, maximum=100),
        # Payments
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_CONNECT_WEBHOOK_SECRET": os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        "PLATFORM_FEE_PERCENT": _int("PLATFORM_FEE_PERCENT", 10, minimum=0, maximum=100),
        # Stripe Tax: sales tax and VAT worked out at checkout from the learner's address, with each creator's
        # connected account the liable party (their head office and registrations; Studio -> Payouts -> Tax).
        "STRIPE_TAX": _switch("STRIPE_TAX"),
        # With STRIPE_TAX: let business buyers give a VAT or GST number at checkout (reverse charge, on receipts).
        "STRIPE_TAX_ID_COLLECTION": _switch("STRIPE_TAX_ID_COLLECTION"),
        # The product tax code sent with every offering: Stripe's preset for electronically supplied services
        # unless the operator picks a more exact one from Stripe's list.
        "STRIPE_TAX_CODE": os.environ.get("STRIPE_TAX_CODE", "").strip() or DEFAULT_TAX_CODE,
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
        # Argon2id parameters of new password hashes; not read from the environment.
        "PASSWORD_HASHING": dict(PASSWORD_HASHING),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", "").strip() or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Keys of several deployments (or test runs) sharing one Redis stay apart.
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "aqueduct"),
        # Redis down: each process counts in its own memory meanwhile, rather than refusing every log-in.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip(),
        # Public pages for visitors without an account, from a shared cache: "redis" (every process
        # shares it), "memory" (each process its own) or "off"; Redis whenever REDIS_URL is set.
        "PAGE_CACHE": os.environ.get("PAGE_CACHE", "").strip().lower()
        or ("redis" if os.environ.get("REDIS_URL", "").strip() else "memory"),
        # The longest a page is kept, for what changes with time alone (a session starting, a held seat
        # freed); at most half an hour, well inside the hour a page's signed media links last.
        "PAGE_CACHE_SECONDS": _int("PAGE_CACHE_SECONDS", 60, minimum=1, maximum=1800),
        "PAGE_CACHE_MAX_BYTES": _int("PAGE_CACHE_MAX_BYTES", 32 * 1024 * 1024, minimum=1024 * 1024),
        "PAGE_CACHE_PREFIX": os.environ.get("PAGE_CACHE_PREFIX", "").strip() or "aqueduct",
        # The longest a web request's SQL statement may run (PostgreSQL), and the studio's, whose pages
        # read more; past it the statement is cancelled and the visitor told, so one slow page can't
        # hold a worker until the request timeout. Work outside requests (jobs, commands) is unbounded.
        "STATEMENT_TIMEOUT_MS": _int("STATEMENT_TIMEOUT_MS", 5000, minimum=100, maximum=600_000),
        "STUDIO_STATEMENT_TIMEOUT_MS": _int("STUDIO_STATEMENT_TIMEOUT_MS", 20_000, minimum=100, maximum=600_000),
        # Background work: Celery workers and beat on REDIS_URL. Without it (the embedded default) a
        # thread of this process runs each job right after the commit; `inline` runs it in the request.
        "JOB_RUNNER": os.environ.get("JOB_RUNNER", "").strip()
        or ("celery" if os.environ.get("REDIS_URL", "").strip() else "thread"),
        # How long a worker owns a job it started; a job whose worker died runs again after this.
        "JOB_LEASE_SECONDS": _int("JOB_LEASE_SECONDS", 120, minimum=5, maximum=3600),
        # How often beat runs the sweeper (stranded jobs, mail that is due); a shorter cadence finds work sooner.
        "SWEEP_SECONDS": _int("SWEEP_SECONDS", 30, minimum=1, maximum=3600),
        # Several deployments (or test runs) sharing one Redis keep their queues apart.
        "CELERY_QUEUE": os.environ.get("CELERY_QUEUE", "aqueduct").strip() or "aqueduct",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": _int("MAX_FORM_BYTES", 16 * 1024 * 1024),
        # Logs: one JSON object a line on stdout (production's default), or plain text for people.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "").strip().lower() or ("json" if production else "text"),
        # Where fingerprinted, compressed copies of static/ are built (at start) and served from.
        "STATIC_BUILD_DIR": os.environ.get("STATIC_BUILD_DIR", "").strip() or str(instance_path / "static"),
    }
    config.update(overrides)
    # The built-in checkout that pays without money: on in development when Stripe isn't set up,
    # off in production unless the operator allowed it by name.
    config.setdefault(
        "TEST_CHECKOUT_ENABLED",
        not config["STRIPE_SECRET_KEY"]
        and (config["ENV_NAME"] != "production" or "free-test-checkout" in config["ALLOW_UNSAFE"]),
    )
    return config


def check_config(config: dict) -> None:
    """Raise ConfigError for a setting no environment can run with (an unknown backend, half a CloudFront setup)."""
    if config["JOB_RUNNER"] not in {"celery", "thread", "inline"}:
        raise ConfigError(f"JOB_RUNNER must be 'celery', 'thread' or 'inline', not {config['JOB_RUNNER']!r}")
    if config["JOB_RUNNER"] == "celery" and not config["REDIS_URL"]:
        raise ConfigError("JOB_RUNNER=celery needs REDIS_URL: the queue lives in Redis.")
    if config["PAGE_CACHE"] not in {"redis", "memory", "off"}:
        raise ConfigError(f"PAGE_CACHE must be 'redis', 'memory' or 'off', not {config['PAGE_CACHE']!r}")
    if config["PAGE_CACHE"] == "redis" and not config["REDIS_URL"]:
        raise ConfigError("PAGE_CACHE=redis needs REDIS_URL: the pages live in Redis.")
    if config["MAIL_BACKEND"] not in {"file", "smtp"}:
        raise ConfigError(f"MAIL_BACKEND must be 'file' or 'smtp', not {config['MAIL_BACKEND']!r}")
    if config["STORAGE_BACKEND"] not in {"local", "s3"}:
        raise ConfigError(f"STORAGE_BACKEND must be 'local' or 's3', not {config['STORAGE_BACKEND']!r}")
    if config["MEDIA_ORIGIN"]:
        _check_media_origin(config["MEDIA_ORIGIN"], config["BASE_URL"])
    if config["CLOUDFRONT_DOMAIN"] and not (config["CLOUDFRONT_KEY_ID"] and config["CLOUDFRONT_PRIVATE_KEY"]):
        raise ConfigError("CLOUDFRONT_DOMAIN needs CLOUDFRONT_KEY_ID and CLOUDFRONT_PRIVATE_KEY (or _FILE) as well.")
    if config["CLOUDFRONT_DOMAIN"] and not _host_name(config["CLOUDFRONT_DOMAIN"].removeprefix("https://")):
        raise ConfigError(
            "CLOUDFRONT_DOMAIN must be the distribution's host name, such as d1234abcd.cloudfront.net or "
            "media.example.com (https:// may lead it; no other scheme, port or path), "
            f"not {config['CLOUDFRONT_DOMAIN']!r}."
        )
    if config["TRANSCODER"] not in {"ffmpeg", "mediaconvert"}:
        raise ConfigError(f"TRANSCODER must be 'ffmpeg' or 'mediaconvert', not {config['TRANSCODER']!r}")
    if config["TRANSCODER"] == "mediaconvert" and config["STORAGE_BACKEND"] != "s3":
        raise ConfigError("TRANSCODER=mediaconvert needs STORAGE_BACKEND=s3: MediaConvert reads and writes the bucket.")
    if config["TRANSCODER"] == "mediaconvert" and not config["MEDIACONVERT_ROLE_ARN"].startswith("arn:"):
        raise ConfigError(
            "TRANSCODER=mediaconvert needs MEDIACONVERT_ROLE_ARN, the ARN of the IAM role MediaConvert uses to "
            "read the bucket's uploads and write the streaming versions."
        )
    if config["CLOUDFRONT_COOKIE_DOMAIN"]:
        _check_cookie_domain(config["CLOUDFRONT_COOKIE_DOMAIN"], config["CLOUDFRONT_DOMAIN"], config["BASE_URL"])
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be 'json' or 'text', not {config['LOG_FORMAT']!r}")
    _check_tax(config)


def _check_tax(config: dict) -> None:
    if not re.fullmatch(r"txcd_\d{8}", config["STRIPE_TAX_CODE"]):
        raise ConfigError(
            f"STRIPE_TAX_CODE must be one of Stripe's product tax codes, such as {DEFAULT_TAX_CODE}, "
            f"not {config['STRIPE_TAX_CODE']!r}."
        )
    if config["STRIPE_TAX_ID_COLLECTION"] and not config["STRIPE_TAX"]:
        raise ConfigError("STRIPE_TAX_ID_COLLECTION needs STRIPE_TAX=on: tax ids only matter where tax is worked out.")
    if config["STRIPE_TAX"] and not config["STRIPE_SECRET_KEY"]:
        raise ConfigError(
            "STRIPE_TAX needs STRIPE_SECRET_KEY: tax is worked out by Stripe at its checkout, and the test-mode "
            "checkout has none."
        )


# A DNS host name of two labels or more, the last not all digits (so no IP address), lowercase.
HOST_NAME = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?=[a-z0-9-]*[a-z-])[a-z0-9-]{2,63}")


def _host_name(value: str) -> bool:
    return HOST_NAME.fullmatch(value) is not None


def _check_cookie_domain(domain: str, cloudfront: str, base_url: str) -> None:
    """Signed cookies reach CloudFront only if the site may set them for a domain CloudFront's host is under."""
    if not cloudfront:
        raise ConfigError("CLOUDFRONT_COOKIE_DOMAIN needs CLOUDFRONT_DOMAIN: the cookies are for that distribution.")
    if not _host_name(domain):
        raise ConfigError(f"CLOUDFRONT_COOKIE_DOMAIN must be a registrable domain (example.com), not {domain!r}.")
    edge = cloudfront.removeprefix("https://")
    site = (urlsplit(base_url).hostname or "").lower()
    for setting, host in (("CLOUDFRONT_DOMAIN", edge), ("BASE_URL's host", site)):
        if host != domain and not host.endswith("." + domain):
            raise ConfigError(
                f"{setting} {host} is not under CLOUDFRONT_COOKIE_DOMAIN {domain}: browsers would not send the "
                "cookies the site sets to CloudFront. Give the distribution a domain of your own beside the site's "
                "(media.example.com beside courses.example.com), or leave CLOUDFRONT_COOKIE_DOMAIN empty."
            )


def production_problems(config: dict) -> list[str]:
    """Every unsafe production setting not explicitly allowed, each saying how to fix or allow it."""
    problems = []
    if _guessable_secret(config["SECRET_KEY"]):
        problems.append(
            f"SECRET_KEY is the built-in development key, shorter than {MIN_SECRET_KEY_LENGTH} characters or "
            "a few characters repeated: anyone could sign sessions. Set a long random SECRET_KEY, e.g. from "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` (this can't be allowed)."
        )
    if config.get("FLASK_DEBUG") or config.get("DEBUG"):
        problems.append(
            "FLASK_DEBUG is on: the debugger runs code for anyone who can open a page (this can't be allowed)."
        )
    if any(config["PASSWORD_HASHING"].get(name, 0) < least for name, least in PASSWORD_HASHING.items()):
        problems.append(
            f"PASSWORD_HASHING is {config['PASSWORD_HASHING']}, lighter than OWASP's Argon2id minimum "
            f"{PASSWORD_HASHING}: stolen hashes would be cheap to guess (this can't be allowed)."
        )
    unknown = sorted(config["ALLOW_UNSAFE"] - UNSAFE_IN_PRODUCTION.keys())
    if unknown:
        problems.append(
            f"AQUEDUCT_ALLOW_UNSAFE names {', '.join(unknown)}, which is not a setting it can allow "
            f"(it knows: {', '.join(UNSAFE_IN_PRODUCTION)})."
        )
    found = {
        "free-test-checkout": not config["STRIPE_SECRET_KEY"],
        "sqlite": config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"),
        "file-mail": config["MAIL_BACKEND"] == "file",
        # Flask-Limiter reads the scheme case-insensitively: MEMORY:// is memory too.
        "memory-rate-limits": urlsplit(config["RATELIMIT_STORAGE_URI"].strip()).scheme.lower() in ("", "memory"),
        "local-base-url": not _public_https(config["BASE_URL"]),
        "local-media": config["STORAGE_BACKEND"] == "local",
        "stripe-without-webhooks": bool(config["STRIPE_SECRET_KEY"]) and not config["STRIPE_WEBHOOK_SECRET"],
        "stripe-test-keys": config["STRIPE_SECRET_KEY"].strip().startswith(("sk_test_", "rk_test_")),
        "stripe-api-base": bool(config["STRIPE_API_BASE"]),
        "in-process-jobs": config["JOB_RUNNER"] != "celery",
    }
    for name, unsafe in found.items():
        if unsafe and name not in config["ALLOW_UNSAFE"]:
            problems.append(f"{UNSAFE_IN_PRODUCTION[name]} (To run anyway: AQUEDUCT_ALLOW_UNSAFE={name}.)")
    return problems


def _guessable_secret(key: str) -> bool:
    key = key.strip()
    return key == DEFAULT_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_CHARACTERS


def _public_https(url: str) -> bool:
    """An https address on a host that learners can reach: not this machine, not a private network.

    The host is read as a browser reads it: a trailing dot changes nothing, `127.1`,
    `2130706433` and `0x7f.0.0.1` are 127.0.0.1, and `::ffff:127.0.0.1` is too. Names that
    carry an address for wildcard DNS (`127.0.0.1.nip.io`, `app-10-0-0-5.sslip.io`) stand for it.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # a broken [IPv6] literal
        return False
    if parts.scheme != "https" or not host:
        return False
    address = _ip_address(host)
    if address is not None:
        return address.is_global
    labels = host.split(".")
    if len(labels) < 2 or any(host == name or host.endswith("." + name) for name in PRIVATE_DOMAINS):
        return False
    return all(address.is_global for address in _addresses_in_name(labels))


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL's host is, in any notation a browser accepts; None for a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A name whose last label is a number is an IPv4 address to a browser, in inet_aton's forms.
        if not re.fullmatch(r"(?:0x[0-9a-f]*|[0-9]+)", host.rsplit(".", 1)[-1]):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _addresses_in_name(labels: list[str]) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses written in a host name, dotted (nip.io) or dashed (sslip.io)."""
    found = []
    for start in range(len(labels) - 3):
        with contextlib.suppress(ValueError):
            found.append(ipaddress.IPv4Address(".".join(labels[start : start + 4])))
    for label in labels:
        for match in re.finditer(r"(?:^|-)([0-9]{1,3}(?:-[0-9]{1,3}){3})(?=-|$)", label):
            with contextlib.suppress(ValueError):
                found.append(ipaddress.IPv4Address(match[1].replace("-", ".")))
    return found


def _check_media_origin(origin: str, base_url: str) -> None:
    """MEDIA_ORIGIN must be a bare http(s) origin on another host than the site's."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ConfigError(f"MEDIA_ORIGIN must be an origin such as https://media.example.com, not {origin!r}")
    # By name alone: browsers send a host's cookies to all its ports, and "example.com." is "example.com".
    if parts.hostname.rstrip(".") == (urlsplit(base_url).hostname or "").rstrip("."):
        raise ConfigError("MEDIA_ORIGIN must be another host than BASE_URL's, so files never share the site's origin.")
