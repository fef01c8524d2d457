"""Where a request's CPU goes: each page's CPU time, next to a hello-world Flask app's, split by layer.

Run from the project root (PostgreSQL required):

    .venv/bin/python benchmarks/request_cpu.py                  # 300 requests a page
    .venv/bin/python benchmarks/request_cpu.py --requests 1000

What it does, all thrown away at the end:

* creates a database `aqueduct_bench_<random>` (BENCH_DATABASE_URL's server), builds it with the
  migrations and seeds the demo (`flask seed-demo`'s data: a therapist, offerings, learners, sales);
* calls the app as a WSGI server would (no HTTP, no client), so the figures are the app's own work:
  the home page, the catalog, an offering's page, the storefront, and a learner's lesson page
  (logged in through /login), each `--requests` times after 30 warm-up calls, rendered (the page
  cache off), then the anonymous ones again as the page cache serves them, and the same for a
  hello-world Flask app;
* prints the CPU milliseconds per request (process time: waiting for PostgreSQL is not counted)
  and the ratio hello-world CPU ÷ page CPU, the ceiling of "page req/s as a share of hello-world
  req/s" if the database were free;
* then profiles the same calls with cProfile and splits each page's CPU by layer (routing, session
  and login, CSRF, rate limiter, forms, SQLAlchemy and the driver, templates, the app's own code,
  WSGI and logging), by the file each function lives in. cProfile's own overhead inflates calls in
  Python more than those in C, so the split is a guide to where to cut, not a stopwatch.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import logging
import pstats
import re
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from bench_support import machine, migrated, throwaway_database  # this script's folder is on sys.path
from flask import Flask
from werkzeug.test import EnvironBuilder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.demo.seed import DEMO_PASSWORD, seed_demo  # noqa: E402
from courseplatform.extensions import db  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# Layer ← the first of these fragments found in a function's file path (order matters).
LAYERS = (
    ("routing", ("werkzeug/routing", "flask/sansio/app.py", "werkzeug/urls.py")),
    ("session and login", ("flask_login", "itsdangerous", "flask/sessions.py", "accounts/services.py")),
    ("CSRF", ("flask_wtf/csrf.py",)),
    ("rate limiter", ("flask_limiter", "/limits/")),
    ("forms", ("wtforms", "flask_wtf")),
    ("SQLAlchemy and driver", ("sqlalchemy", "psycopg", "flask_sqlalchemy")),
    ("templates", ("jinja2", "markupsafe", "/templates/")),
    ("app code", ("courseplatform",)),
    ("WSGI, logging", ("werkzeug", "flask/", "whitenoise", "logging", "json")),
)


def hello_world() -> Flask:
    app = Flask("hello")

    @app.get("/")
    def hello():
        return "Hello, World!"

    return app


def call(application, path: str, cookie: str | None = None) -> tuple[str, bytes]:
    """One GET through the WSGI interface, as gunicorn would make it."""
    environ = EnvironBuilder(path=path, headers={"Cookie": cookie} if cookie else {}).get_environ()
    status = []
    body = b"".join(application(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


def cpu_ms(application, path: str, requests: int, cookie: str | None) -> tuple[float, float]:
    """Median and mean CPU milliseconds per request, over `requests` calls after a warm-up."""
    for _ in range(30):
        status, _ = call(application, path, cookie)
        if not status.startswith("200"):
            raise SystemExit(f"{path} answered {status}")
    samples = []
    for _ in range(requests):
        started = time.process_time()
        call(application, path, cookie)
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples), statistics.fmean(samples)


def layer_of(filename: str) -> str:
    for layer, fragments in LAYERS:
        if any(fragment in filename for fragment in fragments):
            return layer
    return "other (stdlib, C)"


def layers(application, path: str, requests: int, cookie: str | None) -> dict[str, float]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call(application, path, cookie)
    profile.disable()
    shares: collections.Counter = collections.Counter()
    for (filename, _line, _name), (_cc, _nc, own, _cum, _callers) in pstats.Stats(profile).stats.items():
        shares[layer_of(filename)] += own
    total = sum(shares.values()) or 1
    return {layer: share / total for layer, share in shares.items()}


def has_page_cache(application) -> bool:
    """Whether this checkout has the shared page cache (an earlier one, measured for a before, may not)."""
    return "page_cache" in application.extensions


def log_in(application, email: str) -> str:
    client = application.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    answer = client.post("/login", data={"csrf_token": token, "email": email, "password": DEMO_PASSWORD})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"logging in as {email} failed ({answer.status_code})")
    return f"session={client.get_cookie('session').value}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # one log line per request would be measured too, but not printed

    with ExitStack() as stack:
        url, where = throwaway_database(stack)
        if not url.startswith("postgresql"):
            raise SystemExit("PostgreSQL is required")
        # Every page rendered (the page cache off), then the anonymous ones again from the cache.
        settings = {"STATIC_AUTOREFRESH": False, "RATELIMIT_STORAGE_URI": "memory://", "PAGE_CACHE": "off"}
        app = migrated(url, **settings)
        with app.app_context():
            seed_demo()
            db.session.commit()
            row = db.session.execute(
                sa.text(
                    "SELECT c.slug, l.id, p.slug FROM lessons l JOIN sections s ON s.id = l.section_id "
                    "JOIN courses c ON c.id = s.course_id JOIN creator_profiles p ON p.id = c.creator_id "
                    "JOIN enrollments e ON e.course_id = c.id JOIN users u ON u.id = e.user_id "
                    "WHERE u.email = 'demo-learner@aqueduct.test' AND l.kind = 'text' ORDER BY l.id LIMIT 1"
                )
            ).one()
            db.session.remove()
            db.engine.dispose()
        offering_slug, lesson_id, creator_slug = row
        learner = log_in(app, "demo-learner@aqueduct.test")
        pages = [
            ("/ (home)", "/", None),
            ("/courses", "/courses", None),
            ("/courses/<slug>", f"/courses/{offering_slug}", None),
            ("/t/<creator>", f"/t/{creator_slug}", None),
            ("/learn/<slug>/lessons/<id>", f"/learn/{offering_slug}/lessons/{lesson_id}", learner),
        ]
        hello = hello_world()
        hello_p50, _ = cpu_ms(hello, "/", args.requests, None)

        print(f"# CPU per request, in-process WSGI calls ({machine()}; {where})")
        print(f"# {args.requests} requests a page; hello-world Flask: {hello_p50:.3f} ms p50\n")
        print("| page | CPU p50 | CPU mean | hello ÷ page |")
        print("|---|---|---|---|")
        for label, path, cookie in pages:
            p50, mean = cpu_ms(app, path, args.requests, cookie)
            print(f"| `{label}` | {p50:.2f} ms | {mean:.2f} ms | {hello_p50 / p50:.1%} |")
        if has_page_cache(app):
            cached = migrated(url, **{**settings, "PAGE_CACHE": "memory"})
            for label, path, cookie in pages:
                if cookie is None:
                    p50, mean = cpu_ms(cached, path, args.requests, cookie)
                    print(f"| `{label}` from the page cache | {p50:.2f} ms | {mean:.2f} ms | {hello_p50 / p50:.1%} |")

        print("\n# Where the CPU goes (cProfile, share of each page's own time by layer)\n")
        names = [layer for layer, _ in LAYERS] + ["other (stdlib, C)"]
        print("| layer | " + " | ".join(f"`{label}`" for label, _, _ in pages) + " |")
        print("|---|" + "---|" * len(pages))
        split = [layers(app, path, max(50, args.requests // 3), cookie) for _, path, cookie in pages]
        for name in names:
            print(f"| {name} | " + " | ".join(f"{shares.get(name, 0):.0%}" for shares in split) + " |")


if __name__ == "__main__":
    main()
