"""How fast the revenue view is for a creator with 100,000 orders, 20,000 days of logged sessions and 10,000 people
on their practice waitlist.

Run from the project root (PostgreSQL required):

    .venv/bin/python benchmarks/revenue_figures.py                  # 100,000 orders, 20,000 session rows
    .venv/bin/python benchmarks/revenue_figures.py --orders 20000 --sessions 5000 --runs 50

What it does, all on this machine and all thrown away at the end (Ctrl+C included):

* creates a database `aqueduct_bench_<random>` on the PostgreSQL server of BENCH_DATABASE_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres) and builds it with the migrations;
* seeds it in bulk SQL: the creator measured (New York time) with 20 offerings and `--orders` orders
  paid over the last three years (about 1 in 20 fully refunded and 1 in 33 partly refunded, each with
  its refund row; a few pending or failed), an enrollment per order (a third completed), and
  `--sessions` rows of session income over the same years, and `--waitlist` people who joined their
  practice waitlist over those years (half of them learners who bought, one in ten since left); plus
  another creator with 20,000 orders, 5,000 session rows and 2,000 on their waitlist, which must not be
  counted and must not slow the first one down;
* times, in this process, building the revenue figures for the default period (the last 12 months)
  and for 60 months, the practice waitlist's funnel alone (one of those statements, and its share of the
  figures), and rendering /studio/revenue through the test client: the median and p95 of `--runs` runs
  after 3 warm-up runs, and the SQL statements each runs.

Timings say how this machine did, not how fast production is. Target: figures under 100 ms.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import statistics
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from bench_support import throwaway_database  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform import create_app  # noqa: E402
from courseplatform.accounts.services import start_login_session  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.formatting import zone_or_utc  # noqa: E402
from courseplatform.models import CreatorProfile, Offering, OfferingKind, OfferingStatus, User  # noqa: E402
from courseplatform.practice import funnel_by_month  # noqa: E402
from courseplatform.revenue.figures import Period, month_edges, revenue_figures  # noqa: E402
from courseplatform.revenue.figures import _month_index as month_index  # noqa: E402

SECRET_KEY = secrets.token_hex(32)
ZONE = "America/New_York"
OFFERINGS = 20
LEARNERS = 10_000
WARM_UP = 3
UNUSABLE_HASH = "!"  # nobody logs in with a password here: the test client is handed the session
TABLES = ["orders", "refunds", "session_income", "enrollments", "users", "practice_waitlist_entries"]

# :creator's offerings are ids [:first, :first + 20). Order n goes to learner n % :learners in offering
# n // :learners % 20 (so each (learner, offering) pair is unique while orders <= learners x 20).
BULK = [
    """INSERT INTO users (email, name, password_hash, created_at)
       SELECT 'learner' || g || '@example.org', 'Learner ' || g, '!', now() FROM generate_series(1, :learners) g""",
    """INSERT INTO orders (learner_id, course_id, amount_cents, currency, provider, checkout_id, status,
                           processor_fee_cents, platform_fee_cents, net_cents, refunded_cents,
                           created_at, updated_at, paid_at)
       SELECT :learner0 + g % :learners, :first + (g / :learners) % 20, amount, 'USD', 'test', :tag || g, status,
              processor, platform, amount - processor - platform,
              CASE status WHEN 'refunded' THEN amount WHEN 'partially_refunded' THEN amount / 2 ELSE 0 END,
              p, p, CASE WHEN status IN ('pending', 'failed') THEN NULL ELSE p END
       FROM (SELECT g, 4900 + (g % 7) * 1000 AS amount, 172 + (g % 7) * 29 AS processor,
                    490 + (g % 7) * 100 AS platform,
                    now() - (g % 1095) * interval '1 day' - (g % 86400) * interval '1 second' AS p,
                    CASE WHEN g % 20 = 0 THEN 'refunded' WHEN g % 33 = 0 THEN 'partially_refunded'
                         WHEN g % 97 = 0 THEN 'pending' WHEN g % 89 = 0 THEN 'failed' ELSE 'paid' END AS status
             FROM generate_series(0, :orders - 1) g) seq""",
    """INSERT INTO refunds (order_id, amount_cents, platform_fee_refunded_cents, reason, created_at)
       SELECT id, refunded_cents, platform_fee_cents * refunded_cents / amount_cents, '', paid_at + interval '3 days'
       FROM orders WHERE refunded_cents > 0 AND course_id >= :first AND course_id < :first + 20""",
    """INSERT INTO enrollments (user_id, course_id, order_id, source, status, reason, enrolled_at, completed_at)
       SELECT learner_id, course_id, id, 'purchase', CASE WHEN status = 'refunded' THEN 'revoked' ELSE 'active' END,
              CASE WHEN status = 'refunded' THEN 'refund' ELSE 'purchase' END,
              created_at, CASE WHEN id % 3 = 0 THEN created_at + interval '20 days' END
       FROM orders WHERE status <> 'pending' AND status <> 'failed'
         AND course_id >= :first AND course_id < :first + 20""",
    """INSERT INTO session_income (creator_id, session_date, sessions, minutes_each, amount_cents, currency,
                                   payer_kind, source, created_at)
       SELECT :creator, current_date - (g % 1095), 1 + g % 6, 50, (1 + g % 6) * 15000, 'USD',
              CASE WHEN g % 3 = 0 THEN 'insurance' ELSE 'self_pay' END, 'manual', now()
       FROM generate_series(0, :sessions - 1) g""",
    # Half are learners' addresses (matched to their orders and enrollments), one in ten has left.
    """INSERT INTO practice_waitlist_entries (creator_id, email, created_at, left_at, enrolled_before_leaving,
                                              income_before_leaving_cents)
       SELECT :creator,
              CASE WHEN g % 10 = 9 THEN NULL
                   WHEN g % 2 = 0 THEN 'learner' || (g % :learners + 1) || '@example.org'
                   ELSE 'waiting_' || :tag || g || '@example.org' END,
              now() - (g % 1095) * interval '1 day' - (g % 86400) * interval '1 second',
              CASE WHEN g % 10 = 9 THEN now() END, g % 10 = 9 AND g % 3 = 0, CASE WHEN g % 30 = 9 THEN 4900 ELSE 0 END
       FROM generate_series(0, :waitlist - 1) g""",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders for the creator measured")
    parser.add_argument("--sessions", type=int, default=20_000, help="session-income rows for the creator measured")
    parser.add_argument("--waitlist", type=int, default=10_000, help="people on the creator's practice waitlist")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each measurement")
    args = parser.parse_args()
    if not 0 < args.orders <= LEARNERS * OFFERINGS:
        parser.error(f"--orders must be between 1 and {LEARNERS * OFFERINGS:,}")
    if not 0 <= args.waitlist <= 2 * LEARNERS:
        parser.error(f"--waitlist must be between 0 and {2 * LEARNERS:,}")
    return args


def creator(email: str, slug: str) -> tuple[User, CreatorProfile, list[Offering]]:
    owner = User(email=email, name=slug.title(), password_hash=UNUSABLE_HASH, time_zone=ZONE)
    profile = CreatorProfile(user=owner, slug=slug, display_name=slug.title(), currency="USD")
    offerings = [
        Offering(
            creator=profile,
            kind=OfferingKind.COURSE,
            title=f"{slug.title()} offering {n:02d}",
            slug=f"{slug}-offering-{n:02d}",
            status=OfferingStatus.PUBLISHED,
            price_cents=4900,
            authoring_minutes=600 + n * 30,
        )
        for n in range(OFFERINGS)
    ]
    db.session.add_all([owner, profile, *offerings])
    db.session.flush()
    return owner, profile, offerings


def seed(app, orders: int, sessions: int, waitlist: int) -> tuple[int, dict[str, int]]:
    """Schema and data; returns the measured creator's user id and the table sizes."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        learner0 = db.session.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM users"))
        db.session.execute(sa.text(BULK[0]), {"learners": LEARNERS})
        measured = None
        for email, slug, count, rows, waiting in (
            ("bench-creator@example.org", "bench", orders, sessions, waitlist),
            ("other-creator@example.org", "other", 20_000, 5_000, 2_000),
        ):
            owner, profile, offerings = creator(email, slug)
            measured = measured or owner.id
            binds = {
                "creator": profile.id, "first": offerings[0].id, "learner0": learner0, "learners": LEARNERS,
                "orders": count, "sessions": rows, "waitlist": waiting, "tag": f"bench_{slug}_",
            }  # fmt: skip
            for statement in BULK[1:]:
                db.session.execute(sa.text(statement), binds)
        db.session.commit()
        sizes = {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in TABLES}  # noqa: S608
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return measured, sizes


class Statements:
    """Counts SQL statements sent to the database while listening."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args) -> None:
        self.count += 1


def timed(action, runs: int) -> tuple[list[float], int]:
    """(milliseconds of each timed run, SQL statements in one run) after a few warm-up runs."""
    for _ in range(WARM_UP):
        action()
    statements = Statements()
    sa.event.listen(db.engine, "before_cursor_execute", statements)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", statements)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times, statements.count


def report(label: str, times: list[float], statements: int) -> None:
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]
    print(f"{label:<34} {statistics.median(times):8.1f} {p95:8.1f} {min(times):8.1f} {statements:4}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the cleanup below runs
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        print(f"database: {database}")
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY})
        started = time.perf_counter()
        user_id, sizes = seed(app, args.orders, args.sessions, args.waitlist)
        print(f"seeded in {time.perf_counter() - started:.0f} s:")
        for table, rows in sizes.items():
            print(f"  {table:<16} {rows:>10,}")

        with app.app_context():
            owner = db.session.get(User, user_id)
            start_login_session(owner)
            db.session.commit()
            profile, zone, login_id = owner.creator_profile, zone_or_utc(owner.time_zone), owner.get_login_id()
            this_month = datetime.now(UTC).astimezone(zone).date()
            periods = {"last 12 months": Period.ending(this_month, 12), "60 months": Period.ending(this_month, 60)}
            print(f"\n{args.runs} runs each after {WARM_UP} warm-up, in this process\n")
            print(f"{'measured':<34} {'p50 ms':>8} {'p95 ms':>8} {'min ms':>8} {'SQL':>4}")
            figures = None
            for label, period in periods.items():

                def build(period=period):
                    nonlocal figures
                    figures = revenue_figures(profile, period, zone)

                whole = timed(build, args.runs)
                report(f"figures, {label}", *whole)
                print(
                    f"  {period.label}: passive {figures.passive_cents / 100:,.2f}, sessions "
                    f"{figures.session_cents / 100:,.2f} USD, {figures.sales:,} sales"
                )
                edges = month_edges(period, zone)

                def funnel(edges=edges):
                    funnel_by_month(profile, edges, month_index)

                alone = timed(funnel, args.runs)
                report(f"  of which the funnel, {label}", *alone)
                share = statistics.median(alone[0]) / statistics.median(whole[0])
                print(
                    f"  {figures.funnel.signups:,} joined, {figures.funnel.enrolled:,} enrolled since, income "
                    f"{figures.funnel.income_cents / 100:,.2f} USD; the funnel is {share:.0%} of the figures' time"
                )
            db.session.remove()

        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = login_id, True
        for label, path in (("page, last 12 months", "/studio/revenue"), ("CSV, 60 months", csv_path(periods))):

            def render(path=path):
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}")

            with app.app_context():
                report(label, *timed(render, args.runs))
        with app.app_context():
            db.engine.dispose()
    return 0


def csv_path(periods: dict[str, Period]) -> str:
    args = periods["60 months"].args()
    return f"/studio/revenue.csv?from={args['from']}&to={args['to']}"


if __name__ == "__main__":
    sys.exit(main())
