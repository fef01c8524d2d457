"""Gunicorn settings for the `web` process: `gunicorn -c gunicorn.conf.py wsgi:app` (see the Procfile).

Every figure can be set from the environment; the defaults suit one container or virtual machine.
The application writes one log line per request itself (JSON in production, with its request id),
so gunicorn's own access log stays off and its error log uses the same format on stdout.
"""

from __future__ import annotations

import os

from dotenv import load_dotenv

# The same `.env` the application reads, so WEB_CONCURRENCY or PORT set there count here too.
load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"), override=False)

# More workers than this only adds PostgreSQL connections and memory: scale out with more machines.
MAX_WORKERS = 12


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, not {value}")
    return value


def _cores() -> int:
    """The CPUs this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _log_format() -> str:
    explicit = os.environ.get("LOG_FORMAT", "").strip().lower()
    if explicit:
        return explicit
    return "json" if os.environ.get("AQUEDUCT_ENV", "").strip().lower() == "production" else "text"


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{_int('PORT', 8000)}"  # noqa: S104 (a container's published port)
# 2 per core + 1 (gunicorn's rule for work that waits on the database), capped; WEB_CONCURRENCY overrides.
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, MAX_WORKERS))
# Threads per worker (WEB_THREADS > 1 selects the gthread worker): more requests in flight per process.
threads = _int("WEB_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"

# A request still running after 30 s is stuck (long work belongs to the worker process): restart the worker.
timeout = _int("WEB_TIMEOUT", 30)
# On a deploy or restart, requests in flight get this long to finish.
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)
# Longer than a load balancer's idle timeout would risk it sending on a closed connection; AWS's is 60 s.
keepalive = _int("WEB_KEEPALIVE", 75)
# Recycle each worker after about this many requests (jittered so they don't restart together).
max_requests = _int("WEB_MAX_REQUESTS", 5000, minimum=0)
max_requests_jitter = _int("WEB_MAX_REQUESTS_JITTER", 500, minimum=0)

# Which peers may set X-Forwarded-Proto (and so https): the load balancer's addresses, comma separated,
# or * when only the load balancer can reach this port. Client addresses come from TRUSTED_PROXY_HOPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The application logs each request (one line, with its request id); gunicorn's access log would double it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Worker heartbeats in memory, not on a disk that may be slow (as Docker's overlay can be): gunicorn's advice.
SHARED_MEMORY = "/dev/shm"  # noqa: S108 (gunicorn creates its own private files there)
worker_tmp_dir = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None

if _log_format() == "json":
    # Gunicorn's own messages (started, worker booted, worker timeout) as the application's JSON lines on stdout.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "courseplatform.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }
