"""The pages that show aggregates, at scale, with this tree's code and a baseline's, on one data set.

Builds (PostgreSQL, in SQL with generate_series: a minute or two) one creator with 10,000
offerings, 250,000 learners, 1,000,000 enrollments (200,000 in one offering) and --orders
settled orders (a twentieth refunded), migrated to this tree's schema, then times in-process
with the Flask test client (p50/p95 over --runs requests, after two warm-ups):

    /studio/courses/<id>/learners     the 200,000-learner roster, first page and a deep page
    /admin                            platform counts and money
    /studio/revenue                   the creator of 10,000 offerings, a year
    /studio                           the same creator's dashboard
    /t/<creator>                      their storefront, anonymous

once with this tree's code and once with --baseline's (a git ref, checked out in a temporary
worktree; its code runs against the same database, whose extra tables it ignores). Each side is
measured in a process of its own whose PYTHONPATH starts with that side's tree, and which reports
the `courseplatform` it imported: the harness refuses figures from any other tree.

    .venv/bin/python benchmarks/aggregates.py [--orders 1000000] [--runs 30] [--baseline main]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LEARNERS = 250_000
OFFERINGS = 10_000
BIG_OFFERING_LEARNERS = 200_000
PER_OFFERING = 80  # learners of each other offering: 9,999 x 80 + 200,000 ≈ 1,000,000 enrollments
PASSWORD = "bench password 1"
CONFIG = {
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    # The baseline's slowest pages take longer than the production limits; measure them instead of cancelling.
    "STATEMENT_TIMEOUT_MS": 600_000,
    "STUDIO_STATEMENT_TIMEOUT_MS": 600_000,
}


def build_statements(scale: float) -> list[str]:
    """The data set's statements; `scale` shrinks it for a quick try of the script."""
    learners, offerings = int(LEARNERS * scale), max(2, int(OFFERINGS * scale))
    big, per_offering = int(BIG_OFFERING_LEARNERS * scale), PER_OFFERING
    return [
        # Learners 1..LEARNERS, then the creator and the operator.
        f"""INSERT INTO users (email, name, password_hash, time_zone, is_admin, created_at)
        SELECT 'learner' || g || '@bench.test', 'Learner ' || g, '!invited', 'UTC', false, now()
        FROM generate_series(1, {learners}) g""",
        f"""INSERT INTO courses (creator_id, kind, title, slug, subtitle, description, description_html, price_cents,
                             currency, status, published_at, created_at, updated_at)
        SELECT :creator, 'course', 'Offering ' || lpad(g::text, 5, '0'), 'offering-' || g, '', '', '', 4900,
               'USD', 'published', now() - interval '400 days', now(), now() - (g || ' seconds')::interval
        FROM generate_series(1, {offerings}) g""",
        f"""INSERT INTO enrollments (user_id, course_id, source, status, reason, enrolled_at, completed_at)
        SELECT u.id, :first_course, 'comp', 'active', 'comp', now() - (g || ' minutes')::interval,
               CASE WHEN g % 3 = 0 THEN now() ELSE NULL END
        FROM generate_series(1, {big}) g
        JOIN users u ON u.email = 'learner' || g || '@bench.test'""",
        f"""INSERT INTO enrollments (user_id, course_id, source, status, reason, enrolled_at)
        SELECT :first_learner + ((c.n * 7919 + j) % {learners}), c.id, 'free',
               CASE WHEN j % 25 = 0 THEN 'revoked' ELSE 'active' END,
               CASE WHEN j % 25 = 0 THEN 'creator_revoke' ELSE 'free' END,
               now() - (j || ' hours')::interval
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM courses WHERE creator_id = :creator
              AND id <> :first_course) c
        CROSS JOIN generate_series(0, {per_offering - 1}) j""",
        f"""INSERT INTO orders (learner_id, course_id, amount_cents, discount_cents, currency, provider, checkout_id,
                           status, processor_fee_cents, processor_fee_estimated, platform_fee_cents, net_cents,
                           refunded_cents, refund_pending_cents, created_at, updated_at, paid_at)
        SELECT :first_learner + (g % {learners}), :first_course + (g % {offerings}), 4900, 0, 'USD', 'test',
               'bench_' || g,
               CASE WHEN g % 20 = 0 THEN 'refunded' ELSE 'paid' END, 172, false, 490, 4238,
               CASE WHEN g % 20 = 0 THEN 4900 ELSE 0 END, 0,
               now() - ((g % 400) || ' days')::interval, now(), now() - ((g % 400) || ' days')::interval
        FROM generate_series(1, :orders) g""",
        """INSERT INTO refunds (order_id, amount_cents, platform_fee_refunded_cents, status, ended_access, reason,
                            created_at)
        SELECT id, 4900, 490, 'succeeded', false, 'bench', paid_at + interval '1 day'
        FROM orders WHERE status = 'refunded'""",
    ]


def build(database_url: str, orders: int, scale: float) -> dict:
    """The data set, its running totals recounted and its statistics fresh; returns what the pages need."""
    import sqlalchemy as sa

    from benchmarks.bench_support import migrated
    from courseplatform import stats
    from courseplatform.accounts.services import hash_password
    from courseplatform.extensions import db
    from courseplatform.models import CreatorProfile, User

    app = migrated(database_url, **CONFIG)
    with app.app_context():
        started = time.perf_counter()
        password = hash_password(PASSWORD)
        owner = User(email="creator@bench.test", name="Maya Chen", password_hash=password, time_zone="UTC")
        operator = User(email="ops@bench.test", name="Ops", password_hash=password, time_zone="UTC", is_admin=True)
        db.session.add_all([owner, operator])
        db.session.flush()
        profile = CreatorProfile(user_id=owner.id, slug="maya-chen", display_name="Maya Chen")
        db.session.add(profile)
        db.session.flush()
        params = {"creator": profile.id, "orders": orders}
        for statement in build_statements(scale):
            if ":first_course" in statement and "first_course" not in params:
                params["first_course"] = db.session.scalar(
                    sa.select(sa.func.min(sa.column("id"))).select_from(sa.table("courses"))
                )
            if ":first_learner" in statement and "first_learner" not in params:
                params["first_learner"] = db.session.scalar(sa.text("SELECT min(id) FROM users"))
            wanted = {key: value for key, value in params.items() if f":{key}" in statement}
            db.session.execute(sa.text(statement), wanted)
        stats.rebuild()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        counts = db.session.execute(
            sa.text("SELECT (SELECT count(*) FROM enrollments), (SELECT count(*) FROM orders)")
        ).one()
        print(
            f"built {counts[0]:,} enrollments and {counts[1]:,} orders in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        return {"course_id": params["first_course"]}


def measure(database_url: str, offering_id: int, runs: int) -> dict:
    """p50/p95 (ms) and body size of each page with the code importable as `courseplatform`, and where that is."""
    import courseplatform
    from courseplatform import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", **CONFIG})
    pages = {
        f"/studio/courses/{offering_id}/learners": "creator@bench.test",
        f"/studio/courses/{offering_id}/learners?page=2000": "creator@bench.test",
        "/admin": "ops@bench.test",
        "/studio/revenue": "creator@bench.test",
        "/studio": "creator@bench.test",
        "/t/maya-chen": None,
    }
    found = {}
    for path, email in pages.items():
        client = app.test_client()
        if email:
            client.post("/login", data={"email": email, "password": PASSWORD})
        times = []
        for attempt in range(runs + 2):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code}")
            if attempt >= 2:
                times.append(elapsed)
        times.sort()
        found[path] = {
            "p50": statistics.median(times),
            "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            "bytes": len(response.data),
        }
    return {"code": str(Path(courseplatform.__file__).resolve().parent.parent), "pages": found}


def measure_in(tree: Path, database_url: str, offering_id: int, runs: int) -> dict:
    """`measure` in a process importing the code of `tree`, whatever the virtualenv installed.

    The child runs this file as a script, so its first import path is this file's folder (no
    `courseplatform` in it); next comes PYTHONPATH, ahead of the editable install's finder.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", database_url, "--offering", str(offering_id), "--runs", str(runs)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["code"]) != tree.resolve():
        raise SystemExit(f"measured the code in {result['code']}, not {tree}")
    print(f"measured {tree.name}: code from {result['code']}", flush=True)
    return result["pages"]


def baseline_tree(stack: ExitStack, ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="aqueduct_baseline_"))
    subprocess.run(
        ["git", "worktree", "add", "--quiet", "--detach", str(folder), ref],  # noqa: S607
        cwd=PROJECT_ROOT,
        check=True,
    )

    def remove() -> None:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=PROJECT_ROOT, check=False)  # noqa: S607

    stack.callback(remove)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the data set (a quick try)")
    parser.add_argument("--baseline", default="06bf778", help="git ref whose code is measured first")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--offering", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.offering, args.runs)))
        return 0
    # Only the parent imports this tree: a measuring child imports the code it was given.
    sys.path.insert(0, str(PROJECT_ROOT))
    from benchmarks.bench_support import machine, throwaway_database

    with ExitStack() as stack:
        database_url, where = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            raise SystemExit("This benchmark builds its data with PostgreSQL's generate_series; none answered.")
        print(f"{machine()}; {where}", flush=True)
        offering_id = build(database_url, args.orders, args.scale)["course_id"]
        before = measure_in(baseline_tree(stack, args.baseline), database_url, offering_id, args.runs)
        after = measure_in(PROJECT_ROOT, database_url, offering_id, args.runs)
    header = f"{'before p50':>11} {'p95':>8} {'body':>9}   {'after p50':>10} {'p95':>8} {'body':>9} {'x':>7}"
    print(f"\n{'page':48} {header}")
    for path, old in before.items():
        new = after[path]
        print(
            f"{path:48} {old['p50']:9.1f}ms {old['p95']:6.1f}ms {old['bytes'] / 1024:7.1f}KB"
            f"   {new['p50']:8.1f}ms {new['p95']:6.1f}ms {new['bytes'] / 1024:7.1f}KB {old['p50'] / new['p50']:6.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
