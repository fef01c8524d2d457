"""Every page of issue 17 at scale, next to hello-world Flask on the same gunicorn settings.

Run from the project root (PostgreSQL and Redis required; `wrk` used when installed):

    .venv/bin/python benchmarks/pages.py            # builds the data set (a few minutes), then ~7 min of load
    .venv/bin/python benchmarks/pages.py --reuse    # the data set built by an earlier run, if its shape matches
    .venv/bin/python benchmarks/pages.py --quick    # 500 offerings, 2,000 learners: a smoke run

What it does, all on this machine:

* builds the data set in the database `aqueduct_bench_pages` (`_quick` for --quick) on the PostgreSQL
  server of BENCH_DATABASE_URL, with the migrations and then bulk SQL (see scale_data.py): 10,000
  published offerings, 95 % of them the big creator's; 200,000 learners, each in the big offering
  and four others (1,000,000 enrollments); 100,000 paid orders; progress in the big offering; a
  learner halfway through it. The database is kept, so `--reuse` can skip the build next time;
* counts each page's SQL statements in-process (Flask test client, same database, the page's
  second visit) and EXPLAINs each of them, flagging any sequential scan of a table of more than
  10,000 rows;
* serves the app as production does (gunicorn.conf.py, 2 sync workers, AQUEDUCT_ENV=production,
  Redis for rate limits, allowing only what one machine can't have) and hello-world Flask under the
  same settings, logs the learner, the creator and the operator in through the real form;
* loads each page with 16 connections for --seconds, interleaved with hello-world, --runs times,
  and prints the medians (req/s, p50, p99), the ratio to hello-world's req/s, the body size and
  the statements as a Markdown table. A page slower than 2 s a request is timed alone instead
  (three requests in a row): loading it would only queue requests behind it.

Timings say how this machine did, client and loopback included, not how fast production is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from bench_support import machine, redis_namespace  # this script's folder is on sys.path
from scale_data import (
    ADMIN,
    BIG_SLUG,
    CREATOR,
    CREATOR_SLUG,
    FULL,
    LEARNER,
    PROJECT_ROOT,
    QUICK,
    SMALL_SLUG,
    Visitor,
    make_app,
    prepare,
    serve_both,
    table_sizes,
    worker_memory,
)

BIG_TABLE_ROWS = 10_000
SLOW_SECONDS = 2.0
WRK_TIMEOUT = "30s"
# An anonymous visitor whose browser sends a cookie, so the shared page cache is passed by and every
# request renders the page: what the first visitor after a change costs, and what the page itself costs.
RENDERED = "rendered"
RENDERED_COOKIE = "session=the-page-rendered-for-the-benchmark"
# The public pages: label, path. Each is measured as the cache serves it, then rendered.
PUBLIC = [
    ("`/`", "/"),
    ("`/courses` page 1", "/courses"),
    ("`/courses?q=grief`", "/courses?q=grief"),
    ("`/courses/<slug>` (big course)", f"/courses/{BIG_SLUG}"),
    ("`/courses/<slug>` (small)", f"/courses/{SMALL_SLUG}"),
    ("`/t/<creator>` (big creator)", f"/t/{CREATOR_SLUG}"),
]
# label, who is logged in (None: anonymous), path (with {big}, {lesson} filled in).
PAGES = [
    *((label + (" anonymous" if path == "/" else ""), None, path) for label, path in PUBLIC),
    *((label + " rendered", RENDERED, path) for label, path in PUBLIC),
    ("`/learn/<slug>/lessons/<id>`", LEARNER, f"/learn/{BIG_SLUG}/lessons/{{lesson}}"),
    ("`/studio/courses/<id>/learners` (big course)", CREATOR, "/studio/courses/{big}/learners"),
    ("`/studio/revenue` (big creator)", CREATOR, "/studio/revenue"),
    ("`/admin`", ADMIN, "/admin"),
    ("`/studio` (big creator)", CREATOR, "/studio"),
]


@dataclass
class Run:
    """One load run's figures; requests per second 0 when none finished."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


@dataclass
class Page:
    label: str
    who: str | None
    path: str
    body_bytes: int = 0
    statements: int | None = None  # not counted when another checkout is served
    seq_scans: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    hello: list[Run] = field(default_factory=list)
    alone_ms: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a much smaller data set, for a smoke run")
    parser.add_argument("--reuse", action="store_true", help="use the data set an earlier run built, if it matches")
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="load runs per page and per hello-world (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument(
        "--app-tree",
        type=Path,
        help="serve the app from this checkout (say, `git worktree add` of an earlier commit) for a before/after; "
        "statements and plans are then not counted (they are this checkout's)",
    )
    args = parser.parse_args()
    if args.app_tree is not None and not (args.app_tree / "wsgi.py").is_file():
        parser.error(f"--app-tree {args.app_tree}: no wsgi.py there")
    if not 1 <= args.seconds <= 120 or not 1 <= args.runs <= 9 or not 1 <= args.connections <= 256:
        parser.error("--seconds from 1 to 120, --runs from 1 to 9, --connections from 1 to 256")
    return args


# ---------------------------------------------------------------------------
# In-process: statements per page and their plans
# ---------------------------------------------------------------------------


def fill_paths(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        big = conn.scalar(sa.text("SELECT id FROM courses WHERE slug = :slug"), {"slug": BIG_SLUG})
        lesson = conn.scalar(
            sa.text(
                "SELECT e.last_lesson_id FROM enrollments e JOIN users u ON u.id = e.user_id "
                "WHERE u.email = :email AND e.course_id = :big"
            ),
            {"email": LEARNER, "big": big},
        )
    engine.dispose()
    return {"big": big, "lesson": lesson}


def statements_per_page(app, pages: list[Page]) -> dict[str, list[tuple[str, object]]]:
    """Each page's statements on its second visit (the first may record the visit), by label."""
    from courseplatform.accounts.services import start_login_session
    from courseplatform.extensions import db
    from courseplatform.models import User

    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        seen.append((statement, parameters))

    clients = {None: app.test_client(), RENDERED: app.test_client()}
    with app.app_context():
        for email in {page.who for page in pages} - {None, RENDERED}:
            user = db.session.scalar(sa.select(User).where(User.email == email))
            start_login_session(user)
            db.session.commit()
            login_id = user.get_login_id()
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"], session["_fresh"] = login_id, True
            clients[email] = client
        sa.event.listen(db.engine, "before_cursor_execute", record)
        db.session.remove()
    found = {}
    try:
        for page in pages:
            client = clients[page.who]
            client.get(page.path)
            seen.clear()
            response = client.get(page.path)
            if response.status_code != 200:
                raise SystemExit(f"{page.path} answered {response.status_code} in-process")
            found[page.label] = list(seen)
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", record)
    return found


def big_tables(conn) -> set[str]:
    rows = conn.execute(
        sa.text("SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples >= :rows"), {"rows": BIG_TABLE_ROWS}
    )
    return {row[0] for row in rows}


def seq_scans(plan: dict, big: set[str]) -> list[str]:
    """The big tables a plan reads from end to end."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in big:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found.extend(seq_scans(child, big))
    return found


def explain(url: str, statements: dict[str, list[tuple[str, object]]]) -> dict[str, list[str]]:
    """For each page, 'table: statement…' for every sequential scan of a big table in its statements' plans."""
    engine = sa.create_engine(url)
    flagged: dict[str, list[str]] = {}
    with engine.connect() as conn:
        big = big_tables(conn)
        raw = conn.connection.dbapi_connection
        for label, seen in statements.items():
            flagged[label] = []
            for statement, parameters in seen:
                if not re.match(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
                    continue
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters or None)
                    plan = cursor.fetchone()[0]
                raw.rollback()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                for table in seq_scans(plan[0]["Plan"], big):
                    flagged[label].append(f"{table}: {' '.join(statement.split())[:160]}")
    engine.dispose()
    return flagged


# ---------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def wrk(url: str, cookie: str, seconds: int, connections: int) -> Run:
    """One wrk run: requests per second, p50 and p99, and answers that were not 2xx/3xx or failed."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", f"--timeout={WRK_TIMEOUT}"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 120, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|timeout)\D+(\d+)", out))
    if not percentiles:  # nothing finished
        return Run(0.0, float("nan"), float("nan"), errors)
    return Run(rps, _ms(percentiles["50"]), _ms(percentiles["99"]), errors)


def python_load(url: str, cookie: str, seconds: int, connections: int) -> Run:
    """wrk's job with threads, when wrk isn't installed (slower: the client takes CPU from the server)."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + seconds
    headers = {"Cookie": cookie} if cookie else {}

    def worker() -> tuple[list[float], int]:
        times, errors = [], 0
        with requests.Session() as http:
            while time.monotonic() < deadline:
                before = time.perf_counter()
                try:
                    status = http.get(url, headers=headers, timeout=30, allow_redirects=False).status_code
                except requests.RequestException:
                    status = 0
                times.append((time.perf_counter() - before) * 1000)
                errors += not 200 <= status < 400
        return times, errors

    started = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(lambda _: worker(), range(connections)))
    elapsed = time.monotonic() - started
    times = sorted(t for result in results for t in result[0])
    if not times:
        return Run(0.0, float("nan"), float("nan"))
    return Run(len(times) / elapsed, times[len(times) // 2], times[min(len(times) - 1, len(times) * 99 // 100)])


def drain(base: str) -> None:
    """Wait until the app's workers are free again (requests a run left queued finish after it)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        before = time.perf_counter()
        try:
            requests.get(base + "/healthz", timeout=60)
        except requests.RequestException:
            continue
        if time.perf_counter() - before < 0.5:
            return


def measure(page: Page, base: str, hello: str, cookie: str, args: argparse.Namespace) -> None:
    """Time the page alone; load it interleaved with hello-world unless it is too slow to load."""
    load = wrk if shutil.which("wrk") else python_load
    for _ in range(3):
        before = time.perf_counter()
        requests.get(base + page.path, headers={"Cookie": cookie} if cookie else {}, timeout=60)
        page.alone_ms.append((time.perf_counter() - before) * 1000)
    if statistics.median(page.alone_ms) > SLOW_SECONDS * 1000:
        return
    load(base + page.path, cookie, 1, args.connections)  # warm-up
    drain(base)
    for _ in range(args.runs):
        page.runs.append(load(base + page.path, cookie, args.seconds, args.connections))
        drain(base)
        page.hello.append(load(hello + "/", "", args.seconds, args.connections))


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    return f"{n / 1000:.0f} KB" if n >= 1000 else f"{n} B"


def duration(ms: float) -> str:
    if math.isnan(ms):  # nothing finished
        return "—"
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def table(pages: list[Page]) -> list[str]:
    lines = [
        "| page | req/s | p50 | p99 | ratio | body | SQL | Seq Scan on a big table |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for page in pages:
        scans = ", ".join(sorted({scan.split(":", 1)[0] for scan in page.seq_scans})) or "none"
        if page.statements is None:
            scans = "—"
        if not page.runs:
            alone = statistics.median(page.alone_ms)
            lines.append(
                f"| {page.label} | — | {duration(alone)} alone | — | — | {size(page.body_bytes)} "
                f"| {page.statements if page.statements is not None else '—'} | {scans} |"
            )
            continue
        rps = statistics.median(run.rps for run in page.runs)
        hello = statistics.median(run.rps for run in page.hello)
        p50 = statistics.median(run.p50_ms for run in page.runs)
        p99 = statistics.median(run.p99_ms for run in page.runs)
        lines.append(
            f"| {page.label} | {rps:.1f} | {duration(p50)} | {duration(p99)} | {100 * rps / hello:.1f} % "
            f"| {size(page.body_bytes)} | {page.statements if page.statements is not None else '—'} | {scans} |"
        )
    return lines


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the servers stop
    began = time.perf_counter()
    scale = QUICK if args.quick else FULL
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_pages_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        started = time.perf_counter()
        url, built = prepare(scale, args.reuse, scratch)
        verb = "built" if built else "reused"
        print(f"{machine()}; data set {verb} in {time.perf_counter() - started:.0f} s: database {scale.database}")
        for name, rows in table_sizes(url).items():
            print(f"  {name:<32} {rows:>10,}")

        ids = fill_paths(url)
        pages = [Page(label, who, path.format(**ids)) for label, who, path in PAGES]
        if args.app_tree is None:
            # Statements of a render: a page served from the cache runs none.
            app = make_app(url, MAIL_DIR=str(scratch / "mail"), PAGE_CACHE="off")
            statements = statements_per_page(app, pages)
            flagged = explain(url, statements)
            for page in pages:
                page.statements = len(statements[page.label])
                page.seq_scans = flagged[page.label]
            tree = PROJECT_ROOT
        else:
            tree = args.app_tree.resolve()
            print(f"serving the app of {tree.name} (statements and plans not counted)")

        base, hello, masters = serve_both(stack, url, scratch, redis_namespace(stack), tree)
        cookies = {None: "", RENDERED: RENDERED_COOKIE}
        for email in {page.who for page in pages} - {None, RENDERED}:
            visitor = Visitor(base)
            answer = visitor.log_in(email)
            if answer.status_code != 302:
                raise SystemExit(f"logging in as {email} failed: {answer.status_code}")
            cookies[email] = visitor.cookie_header
        tool = "wrk" if shutil.which("wrk") else "a threaded Python client (wrk is not installed)"
        print(
            f"\ngunicorn.conf.py, 2 sync workers, production settings; {tool}, {args.connections} connections, "
            f"{args.runs} runs of {args.seconds} s a page, each followed by hello-world Flask on the same settings; "
            f"load average at the start: {os.getloadavg()[0]:.1f}\n"
        )
        for page in pages:
            check = requests.get(base + page.path, headers={"Cookie": cookies[page.who]}, timeout=120)
            if check.status_code != 200:
                raise SystemExit(f"{page.path} answered {check.status_code} under gunicorn")
            page.body_bytes = len(check.content)
            measure(page, base, hello, cookies[page.who], args)
            last = page.runs[-1] if page.runs else None
            figures = f"{last.rps:.1f} req/s" if last else f"{statistics.median(page.alone_ms):.0f} ms alone"
            print(f"  measured {page.path} ({figures})", flush=True)

        print()
        print("\n".join(table(pages)))
        hello_rps = [run.rps for page in pages for run in page.hello]
        if hello_rps:
            print(f"\nhello-world: median {statistics.median(hello_rps):.0f} req/s over {len(hello_rps)} runs")
        errors = sum(run.errors for page in pages for run in page.runs)
        print(f"answers that were not 2xx/3xx or timed out during the page runs: {errors}")
        app_mb, hello_mb = worker_memory(masters[0]), worker_memory(masters[1])
        print(f"worker memory after the runs: app {app_mb} MB, hello-world {hello_mb} MB")
        scans = [(page.path, scan) for page in pages for scan in page.seq_scans]
        print(f"\nsequential scans of tables over {BIG_TABLE_ROWS:,} rows in the pages' plans: {len(scans)}")
        for path, scan in scans:
            print(f"  {path}  {scan}")
        print(f"load average of the machine at the end (1, 5, 15 min): {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
        print(f"\ntotal time: {time.perf_counter() - began:.0f} s (the data set stays in {scale.database})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the servers were stopped", file=sys.stderr)
        sys.exit(130)
