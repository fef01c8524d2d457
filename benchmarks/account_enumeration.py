"""Whether the time to answer sign-up and forgot-password tells if an address has an account.

Run from the project root:

    .venv/bin/python benchmarks/account_enumeration.py             # 300 requests per address and form
    .venv/bin/python benchmarks/account_enumeration.py --rounds 1000 --smtp-delay-ms 150

What it does, all on this machine and all thrown away at the end:

* builds a throw-away database with the migrations (PostgreSQL when one answers at
  BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres; SQLite otherwise)
  and adds one account;
* starts an SMTP server on loopback (aiosmtpd) that takes `--smtp-delay-ms` to accept each
  message, like a real provider, and points the app's mail at it;
* posts the forgot-password and sign-up forms through the app (in this process, rate limits
  off), alternating the account's address and an unknown one, and prints the median and p90
  time of each and the ratio known ÷ unknown. A ratio near 1.00 means timing tells nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench_support import throwaway_database  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform import create_app  # noqa: E402
from courseplatform.accounts.services import hash_password  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import User  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
KNOWN = "known.person@example.org"
UNKNOWN = "nobody.here@example.org"


def smtp_server(stack: ExitStack, delay_ms: int) -> int:
    """An SMTP server on a free loopback port that takes `delay_ms` to accept each message."""
    from aiosmtpd.controller import Controller

    class SlowHandler:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(delay_ms / 1000)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(SlowHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    stack.callback(controller.stop)
    return port


def timed_post(client, path: str, data: dict) -> float:
    token = CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)
    started = time.perf_counter()
    answer = client.post(path, data={"csrf_token": token, **data})
    elapsed = time.perf_counter() - started
    if answer.status_code != 302:
        raise SystemExit(f"{path} answered {answer.status_code}")
    return elapsed * 1000


def report(form: str, times: dict[str, list[float]]) -> None:
    known, unknown = times[KNOWN], times[UNKNOWN]

    def p90(values):
        return statistics.quantiles(values, n=10)[-1]

    print(
        f"{form:16} known: p50 {statistics.median(known):7.2f} ms  p90 {p90(known):7.2f} ms   "
        f"unknown: p50 {statistics.median(unknown):7.2f} ms  p90 {p90(unknown):7.2f} ms   "
        f"ratio {statistics.median(known) / statistics.median(unknown):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--smtp-delay-ms", type=int, default=50)
    args = parser.parse_args()
    with ExitStack() as stack:
        url, described = throwaway_database(stack)
        port = smtp_server(stack, args.smtp_delay_ms)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "benchmark-secret-key-0123456789abcdef",
                "RATELIMIT_ENABLED": False,
                "MAIL_BACKEND": "smtp",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": port,
                "SMTP_STARTTLS": False,
            }
        )
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.session.add(User(name="Known Person", email=KNOWN, password_hash=hash_password("a long passphrase")))
            db.session.commit()
            db.engine.dispose()
        print(f"{described}; SMTP on loopback taking {args.smtp_delay_ms} ms a message; {args.rounds} rounds")
        client = app.test_client()
        forms = {
            "forgot-password": ("/password/forgot", lambda email: {"email": email}),
            "sign-up": ("/signup", lambda email: {"name": "Some One", "email": email, "time_zone": "UTC"}),
        }
        for form, (path, fields) in forms.items():
            times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
            for _ in range(10):  # warm up
                timed_post(client, path, fields(KNOWN))
                timed_post(client, path, fields(UNKNOWN))
            for _ in range(args.rounds):
                for email in (KNOWN, UNKNOWN):
                    times[email].append(timed_post(client, path, fields(email)))
            report(form, times)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
