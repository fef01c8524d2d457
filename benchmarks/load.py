"""Two hundred people using the app at once for a minute: browsing, logging in, learning, buying.

Run from the project root (PostgreSQL and Redis required):

    .venv/bin/python benchmarks/load.py --reuse            # on the data set benchmarks/pages.py built
    .venv/bin/python benchmarks/load.py --seconds 30 --users 100
    .venv/bin/python benchmarks/load.py --quick            # pages.py's small data set: a smoke run

What it does, all on this machine (loopback only) and bounded in time:

* takes the data set of benchmarks/pages.py (building it unless --reuse finds it built) and copies it
  into a database of its own, dropped at the end, so the purchases made here never reach the cached one
  (PostgreSQL copies only a database nobody is connected to: not while pages.py runs);
* serves the app as pages.py does (gunicorn.conf.py, 2 sync workers, production settings);
* runs --users simulated learners, each a thread with its own cookies and address (X-Forwarded-For,
  the app trusting one proxy, as visitors behind a load balancer), starting spread over --ramp
  seconds: each logs in through the form, then until --seconds have passed picks an action —
  browse the catalogue (45 %), open a lesson of the big offering (25 %), record progress on it
  (20 %: the player's position, or Mark complete), buy an offering through the test-mode checkout
  (5 %), log out and in again (5 %) — and pauses a random 0 to 2 x --think seconds between
  actions. --creators adds creators opening their studio meanwhile;
* prints throughput, p50/p95/p99 per action and overall, and the answers by class (5xx, 4xx, failed);
* checks the database afterwards: every paid order has exactly one enrollment, no learner is enrolled
  twice in an offering, no enrollment hangs on an order that was never paid.

Each user stops starting actions at the deadline; a request gets 30 s (gunicorn's timeout); the whole
run is over by --seconds + 90 s whatever the server does. Timings include the client, which shares the
machine's cores with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, suppress
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from bench_support import machine, redis_namespace  # this script's folder is on sys.path
from scale_data import (
    BIG_SLUG,
    CREATOR,
    CSRF_RE,
    FULL,
    META_CSRF_RE,
    PROJECT_ROOT,
    QUICK,
    TOPICS,
    Visitor,
    clone,
    gunicorn,
    prepare,
    production_env,
    worker_memory,
)

# action: (share of the choices in %, the User method that does it)
ACTIONS = {
    "browse": (45, "browse"),
    "lesson": (25, "lesson"),
    "progress": (20, "progress"),
    "purchase": (5, "purchase"),
    "log in": (5, "sign_in"),
}
GRACE_SECONDS = 90


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="pages.py's small data set, for a smoke run")
    parser.add_argument("--reuse", action="store_true", help="use the data set pages.py built, if it matches")
    parser.add_argument("--users", type=int, default=200, help="simulated learners (default 200)")
    parser.add_argument("--seconds", type=int, default=60, help="how long they keep going (default 60)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between actions, s (default 1)")
    parser.add_argument("--ramp", type=float, default=10, help="users start spread over this many s (default 10)")
    parser.add_argument("--creators", type=int, default=0, help="creators opening /studio meanwhile (default 0)")
    parser.add_argument("--seed", type=int, default=17, help="random seed of the users' choices")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn sync workers (default 2; production runs 2 a core + 1)"
    )
    parser.add_argument(
        "--app-tree", type=Path, help="serve the app from this checkout (an earlier commit) for a before/after"
    )
    args = parser.parse_args()
    if not 1 <= args.workers <= 32:
        parser.error("--workers from 1 to 32")
    if not 1 <= args.users <= 1000 or not 5 <= args.seconds <= 600 or not 0 <= args.think <= 30:
        parser.error("--users from 1 to 1000, --seconds from 5 to 600, --think from 0 to 30")
    if not 0 <= args.creators <= 10 or not 0 <= args.ramp < args.seconds:
        parser.error("--creators from 0 to 10, --ramp from 0 to less than --seconds")
    return args


class Recorder:
    """Every request's action, status and time, from all threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[str, int, float]] = []
        self.purchases = 0
        self.last: float | None = None

    def add(self, action: str, status: int, ms: float) -> None:
        now = time.monotonic()
        with self.lock:
            self.rows.append((action, status, ms))
            self.last = now


class User(Visitor):
    """One learner: logs in, then picks actions until the deadline."""

    def __init__(self, number: int, base: str, world: dict, recorder: Recorder, rng: random.Random) -> None:
        super().__init__(base, address=f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}", timeout=30)
        self.email = f"learner{number}@example.org"
        self.world = world
        self.recorder = recorder
        self.rng = rng
        self.action = "log in"
        self.lesson_token = ""
        self.last_lesson = world["lessons"][0]

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        before = time.perf_counter()
        try:
            response = super().request(method, path, **kwargs)
        except requests.RequestException:
            self.recorder.add(self.action, 0, (time.perf_counter() - before) * 1000)
            raise
        self.recorder.add(self.action, response.status_code, (time.perf_counter() - before) * 1000)
        return response

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow redirects as a browser would (a GET each), each request recorded."""
        for _ in range(5):
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            location = urlsplit(response.headers["Location"])
            response = self.get(location.path + (f"?{location.query}" if location.query else ""))
        return response

    def run(self, deadline: float, think: float, delay: float) -> None:
        time.sleep(delay)
        with suppress(requests.RequestException, RuntimeError):
            self.sign_in()
        choices, weights = list(ACTIONS), [share for share, _ in ACTIONS.values()]
        while time.monotonic() < deadline:
            self.action = self.rng.choices(choices, weights)[0]
            with suppress(requests.RequestException, RuntimeError):  # recorded as it failed; carry on
                getattr(self, ACTIONS[self.action][1])()
            pause = self.rng.uniform(0, 2 * think)
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    def sign_in(self) -> None:
        self.action = "log in"
        self.cookies.clear()
        self.lesson_token = ""  # the old session's: a new one comes with the next lesson page
        self.follow(self.log_in(self.email))

    def browse(self) -> None:
        pick = self.rng.random()
        if pick < 0.2:
            self.get("/")
        elif pick < 0.45:
            self.get(f"/courses?page={self.rng.randint(1, 5)}")
        elif pick < 0.6:
            word = self.rng.choice(TOPICS).split()[-1]
            self.get(f"/courses?q={word}")
        elif pick < 0.95:
            self.get(f"/courses/offering-{self.rng.randint(1, self.world['offerings'])}")
        else:
            self.get(f"/courses/{BIG_SLUG}")

    def lesson(self) -> None:
        lesson = self.rng.choice(self.world["lessons"])
        page = self.get(f"/learn/{BIG_SLUG}/lessons/{lesson}")
        token = META_CSRF_RE.search(page.text)
        if token:
            self.lesson_token = token.group(1)
            self.last_lesson = lesson

    def progress(self) -> None:
        if not self.lesson_token:
            self.lesson()
        path = f"/learn/{BIG_SLUG}/lessons/{self.last_lesson}"
        if self.rng.random() < 0.7:
            self.post(
                path + "/position",
                data=json.dumps({"seconds": self.rng.randint(0, 600)}),
                headers={"Content-Type": "application/json", "X-CSRFToken": self.lesson_token},
            )
        else:
            self.follow(self.post(path + "/complete", data={"csrf_token": self.lesson_token}))

    def purchase(self) -> None:
        """Buy a paid offering in test mode: its page, Buy, the checkout page, Pay, back to the offering."""
        number = self.rng.randint(1, self.world["offerings"])
        if number % 10 == 1:  # a free one
            number += 1
        slug = f"offering-{number}"
        page = self.get(f"/courses/{slug}")
        token = CSRF_RE.search(page.text)
        if token is None:
            return
        answer = self.post(f"/courses/{slug}/checkout", data={"csrf_token": token.group(1)})
        target = urlsplit(answer.headers.get("Location", "")).path
        if answer.status_code != 303 or not target.startswith("/checkout/test/"):
            self.follow(answer)  # already enrolled, or told why not
            return
        checkout = self.get(target)
        token = CSRF_RE.search(checkout.text)
        if token is None:
            return
        done = self.follow(self.post(f"{target}/pay", data={"csrf_token": token.group(1)}))
        if done.status_code == 200:
            with self.recorder.lock:
                self.recorder.purchases += 1


class Creator(User):
    """A creator who keeps opening the studio's dashboard and revenue."""

    def __init__(self, number: int, base: str, world: dict, recorder: Recorder, rng: random.Random) -> None:
        super().__init__(number, base, world, recorder, rng)
        self.email = CREATOR
        self.address = f"10.255.0.{number}"

    def run(self, deadline: float, think: float, delay: float) -> None:
        time.sleep(delay)
        with suppress(requests.RequestException, RuntimeError):
            self.sign_in()
        while time.monotonic() < deadline:
            self.action = "studio"
            with suppress(requests.RequestException):
                self.get(self.rng.choice(["/studio", "/studio/revenue"]))
            time.sleep(max(0.0, min(self.rng.uniform(0, 2 * think), deadline - time.monotonic())))


def world_of(url: str) -> dict:
    """What the users need to know of the data set: the big offering's lessons, how many offerings."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        lessons = conn.scalars(
            sa.text(
                "SELECT l.id FROM lessons l JOIN sections s ON s.id = l.section_id "
                "JOIN courses c ON c.id = s.course_id WHERE c.slug = :slug ORDER BY s.position, l.position"
            ),
            {"slug": BIG_SLUG},
        ).all()
        offerings = conn.scalar(sa.text("SELECT count(*) FROM courses WHERE slug LIKE 'offering-%'"))
        started = conn.scalar(sa.text("SELECT max(id) FROM orders"))
    engine.dispose()
    return {"lessons": lessons, "offerings": offerings, "orders_before": started or 0}


def consistency(url: str, orders_before: int) -> dict[str, int]:
    """The database after the run: what must be zero, and what the run bought."""
    checks = {
        "paid orders without exactly one enrollment": """
            SELECT count(*) FROM orders o WHERE o.status IN ('paid', 'partially_refunded', 'refunded', 'disputed')
            AND (SELECT count(*) FROM enrollments e WHERE e.order_id = o.id) <> 1""",
        "learners enrolled twice in an offering": """
            SELECT count(*) FROM (SELECT 1 FROM enrollments GROUP BY user_id, course_id HAVING count(*) > 1) d""",
        "enrollments tied to an order never paid": """
            SELECT count(*) FROM enrollments e JOIN orders o ON o.id = e.order_id
            WHERE o.status NOT IN ('paid', 'partially_refunded', 'refunded', 'disputed')""",
        "orders made during the run": "SELECT count(*) FROM orders WHERE id > :before",
        "of which paid": """
            SELECT count(*) FROM orders WHERE id > :before
            AND status IN ('paid', 'partially_refunded', 'refunded', 'disputed')""",
    }
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = {name: conn.scalar(sa.text(sql), {"before": orders_before}) for name, sql in checks.items()}
    engine.dispose()
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(recorder: Recorder, seconds: float) -> int:
    """Print the figures; the number of 5xx answers."""
    by_action: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for action, status, ms in recorder.rows:
        by_action[action].append((status, ms))
    print("| action | requests | req/s | p50 | p95 | p99 | 5xx | 4xx | failed |\n|---|---|---|---|---|---|---|---|---|")
    everything = [(status, ms) for rows in by_action.values() for status, ms in rows]
    for action, rows in [*sorted(by_action.items()), ("all", everything)]:
        times = [ms for _, ms in rows]
        statuses = [status for status, _ in rows]
        print(
            f"| {action} | {len(rows)} | {len(rows) / seconds:.1f} | {statistics.median(times):.0f} ms "
            f"| {percentile(times, 0.95):.0f} ms | {percentile(times, 0.99):.0f} ms "
            f"| {sum(s >= 500 for s in statuses)} | {sum(400 <= s < 500 for s in statuses)} "
            f"| {sum(s == 0 for s in statuses)} |"
        )
    return sum(status >= 500 for status, _ in everything)


def server_time(log: str) -> None:
    """Where the workers' time went, from the app's own request log (time inside the app, queueing excluded)."""
    spent: dict[str, list[float]] = defaultdict(list)
    refused: dict[str, int] = defaultdict(int)
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or "duration_ms" not in entry:
            continue
        path = re.sub(r"/\d+", "/<id>", re.sub(r"offering-\d+", "offering-<n>", entry.get("path", "")))
        name = f"{entry.get('method', '')} {path}"
        spent[name].append(float(entry["duration_ms"]))
        if int(entry.get("status") or 0) >= 400:
            refused[f"{name} {entry['status']}"] += 1
    total = sum(sum(times) for times in spent.values()) / 1000
    print(f"\ntime inside the app: {total:.1f} worker-seconds; the requests that took most of it:")
    print("| request | count | p50 in the app | share of the workers' time |\n|---|---|---|---|")
    for name, times in sorted(spent.items(), key=lambda item: -sum(item[1]))[:8]:
        share = sum(times) / 1000 / total if total else 0
        print(f"| {name} | {len(times)} | {statistics.median(times):.0f} ms | {100 * share:.0f} % |")
    print("answers of 400 and over:", ", ".join(f"{name} x {n}" for name, n in sorted(refused.items())) or "none")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the server stops and the copy is dropped
    began = time.perf_counter()
    scale = QUICK if args.quick else FULL
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_load_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        _, built = prepare(scale, args.reuse, scratch)
        url = clone(stack, scale.database, f"{scale.database}_load")
        verb = "built" if built else "reused"
        print(f"{machine()}; data set {verb} and copied in {time.perf_counter() - began:.0f} s")
        world = world_of(url)
        if args.users > scale.learners:
            raise SystemExit(f"--users can't exceed the data set's {scale.learners:,} learners")
        env = production_env(url, scratch, redis_namespace(stack))
        env["WEB_CONCURRENCY"] = str(args.workers)
        tree = PROJECT_ROOT
        if args.app_tree is not None:
            tree = args.app_tree.resolve()
            env["PYTHONPATH"] = str(tree)  # its package first, not the one installed from this checkout
            print(f"serving the app of {tree.name}")
        base, master = gunicorn(stack, env, "wsgi:app", tree, scratch / "app.log")
        rng = random.Random(args.seed)
        recorder = Recorder()
        people = [User(n + 1, base, world, recorder, random.Random(rng.random())) for n in range(args.users)]
        people += [Creator(n + 1, base, world, recorder, random.Random(rng.random())) for n in range(args.creators)]
        print(
            f"{args.users} learners and {args.creators} creators for {args.seconds} s, "
            f"starting over {args.ramp:g} s, pauses of 0-{2 * args.think:g} s, "
            f"against gunicorn.conf.py with {args.workers} sync workers (production settings); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        cpu_before = os.times()
        start = time.monotonic()
        deadline = start + args.seconds
        threads = [
            threading.Thread(target=person.run, args=(deadline, args.think, args.ramp * n / len(people)), daemon=True)
            for n, person in enumerate(people)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline + GRACE_SECONDS - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in threads)
        elapsed = (recorder.last or time.monotonic()) - start
        cpu = os.times()
        client_cpu = (cpu.user - cpu_before.user) + (cpu.system - cpu_before.system)

        print(f"\n{len(recorder.rows)} requests in {elapsed:.1f} s: {len(recorder.rows) / elapsed:.1f} req/s\n")
        server_errors = report(recorder, elapsed)
        print(f"\npurchases completed: {recorder.purchases}; users still in a request at the end: {stuck}")
        print(f"client CPU: {client_cpu:.1f} s ({100 * client_cpu / elapsed / os.cpu_count():.0f} % of the machine)")
        print(f"worker memory after the run: {worker_memory(master)} MB")
        checks = consistency(url, world["orders_before"])
        print("\ndatabase afterwards:")
        for name, count in checks.items():
            print(f"  {name:<48} {count:>7,}")
        problems = sum(count for name, count in checks.items() if not name.startswith(("orders", "of which")))
        log = (scratch / "app.log").read_text(errors="replace")
        print(f"server log: {len(log.splitlines()):,} lines, {len(re.findall(r'Traceback', log))} tracebacks")
        server_time(log)
        print(f"\ntotal time: {time.perf_counter() - began:.0f} s (the copy of the data set is dropped)")
        return 1 if server_errors or problems or stuck else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the server was stopped and the copy dropped", file=sys.stderr)
        sys.exit(130)
