"""How fast the public pages answer a visitor without an account with the page cache on and off,
next to a hello-world Flask app on the same server settings.

Run from the project root (PostgreSQL required, Redis for the "redis" column):

    .venv/bin/python benchmarks/page_cache.py                 # 3 rounds of 5 s a page and setting
    .venv/bin/python benchmarks/page_cache.py --seconds 3 --rounds 1

What it does, all on this machine and all thrown away at the end (Ctrl+C included):

* creates a database `aqueduct_bench_<random>` (BENCH_DATABASE_URL, default the local PostgreSQL)
  and seeds one creator with 120 published offerings (topics, three lessons each), one offering of
  8 sections x 10 lessons and a live workshop of four sessions with seats;
* serves the app with gunicorn, 2 sync workers, three times: PAGE_CACHE=off, memory and redis
  (BENCH_REDIS_URL, keys under a prefix of their own, deleted at exit), and a hello-world Flask
  app the same way;
* loads each page with 16 connections for `--seconds` (wrk when installed, else a threaded
  Python client), hello-world first and then each setting, in turn, `--rounds` times; prints the
  median req/s and p50, and the ratio to hello-world's req/s in the same round;
* last, the same for a browser that has the page already (If-None-Match: its ETag, answered 304).

Figures say how this machine did, load generator included, not how fast production is.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import requests
from bench_support import (  # this script's folder is on sys.path
    BENCH_REDIS_URL,
    deployment_env,
    free_port,
    machine,
    migrated,
    redis_namespace,
    throwaway_database,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import (  # noqa: E402
    CreatorProfile,
    Lesson,
    LessonKind,
    LiveSession,
    Offering,
    OfferingKind,
    OfferingStatus,
    Section,
    Topic,
    User,
    utcnow,
)

CONNECTIONS = 16
OFFERINGS = 120
SETTINGS = ("off", "memory", "redis")
PAGES = {
    "home": "/",
    "catalog": "/courses",
    "search": "/courses?q=grounding",
    "offering (big)": "/courses/big-offering",
    "workshop": "/courses/evening-circle",
    "storefront": "/t/maya",
}
HELLO = """from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="load per page and setting (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians printed (default 3)")
    return parser.parse_args()


def seed(app) -> None:
    """The catalogue the pages show: enough to be real pages, small enough to build in seconds."""
    with app.app_context():
        # No password: nobody logs in, the pages are the anonymous ones.
        owner = User(name="Maya Chen", email="maya@example.org", password_hash="!", time_zone="America/New_York")  # noqa: S106
        maya = CreatorProfile(
            user=owner, slug="maya", display_name="Maya Chen", credentials="LCSW", bio="I teach *grounding*."
        )
        topics = [Topic(name=name, slug=name.lower()) for name in ("Grounding", "Grief", "Trauma", "Couples")]
        published = utcnow() - timedelta(days=1)
        for n in range(OFFERINGS):
            offering = Offering(
                creator=maya,
                kind=OfferingKind.COURSE,
                title=f"{('Grounding', 'Grief', 'Trauma', 'Couples')[n % 4]} skills {n}",
                slug=f"offering-{n}",
                subtitle="A practical course for clinicians.",
                description="Learn something useful, in **small** steps.",
                price_cents=4900 + n,
                currency="USD",
                status=OfferingStatus.PUBLISHED,
                published_at=published - timedelta(minutes=n),
                topics=[topics[n % 4]],
            )
            section = Section(offering=offering, title="Start here", position=0)
            for p in range(3):
                Lesson(section=section, title=f"Lesson {p}", kind=LessonKind.TEXT, body="Words.", position=p)
        big = Offering(
            creator=maya,
            kind=OfferingKind.COURSE,
            title="Grounding, the long course",
            slug="big-offering",
            description="\n\n".join(f"Paragraph {i}: *grounding* before **processing**." for i in range(12)),
            price_cents=19900,
            currency="USD",
            status=OfferingStatus.PUBLISHED,
            published_at=published,
            topics=topics[:2],
        )
        for s in range(8):
            section = Section(offering=big, title=f"Part {s + 1}", position=s)
            for p in range(10):
                Lesson(section=section, title=f"Lesson {s}.{p}", kind=LessonKind.TEXT, body="Words.", position=p)
            section.lessons[0].is_preview = True
        circle = Offering(
            creator=maya,
            kind=OfferingKind.LIVE_WORKSHOP,
            title="Evening circle",
            slug="evening-circle",
            price_cents=2500,
            currency="USD",
            status=OfferingStatus.PUBLISHED,
            published_at=published,
        )
        for week in range(4):
            db.session.add(
                LiveSession(
                    offering=circle,
                    title=f"Evening {week + 1}",
                    starts_at=utcnow() + timedelta(days=7 * (week + 1)),
                    time_zone="America/New_York",
                    duration_minutes=90,
                    capacity=20,
                    join_url="https://meet.example.com/room",
                )
            )
        db.session.add_all([maya, big, circle])
        db.session.commit()


def serve(stack: ExitStack, env: dict[str, str], target: str, cwd: Path) -> str:
    """`target` under gunicorn, 2 sync workers, on a free port; stopped at exit."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    argv = [str(gunicorn), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", target]
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603

    def stop() -> None:
        process.terminate()
        process.wait(timeout=20)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/", timeout=5)
            return url
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{target} did not start under gunicorn")


def load(url: str, seconds: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """Requests per second and p50 in ms for `url` under CONNECTIONS connections."""
    if shutil.which("wrk"):
        return _wrk(url, seconds, headers or {})
    return _threaded(url, seconds, headers or {})


def _wrk(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float]:
    argv = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups()
    p50 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx or 3xx responses" in out:
        raise SystemExit(f"{url} answered errors under load:\n{out}")
    return rate, p50


def _threaded(url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        client = requests.Session()
        mine = []
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            client.get(url, headers=headers, timeout=30).raise_for_status()
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / seconds, statistics.median(latencies)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the cleanup below runs
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_page_cache_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        print(f"database: {database}\nmachine: {machine()}\nload: {'wrk' if shutil.which('wrk') else 'Python'}")
        seed(migrated(database_url))
        prefix = redis_namespace(stack)
        servers = {}
        for setting in SETTINGS:
            env = deployment_env(database_url, prefix, scratch, PAGE_CACHE=setting, PAGE_CACHE_PREFIX=prefix)
            if setting != "redis":
                env.pop("REDIS_URL")  # as a deployment without Redis: limits and jobs in the process
                env["JOB_RUNNER"] = "thread"
            servers[setting] = serve(stack, env, "wsgi:app", PROJECT_ROOT)
        (scratch / "hello.py").write_text(HELLO)
        hello = serve(stack, deployment_env(database_url, prefix, scratch), "hello:app", scratch)
        print(f"redis: {BENCH_REDIS_URL} (keys under {prefix}:)")
        print(f"\ngunicorn 2 sync workers each, {CONNECTIONS} connections, {args.seconds} s a run", end="")
        print(f", median of {args.rounds}; ratio = req/s / hello-world's in the same round")
        columns = " ".join(f"{s + ' req/s':>12} {'p50':>7} {'ratio':>6}" for s in SETTINGS)
        print(f"\n{'page':<16} {'hello req/s':>11} {columns}")
        for label, path in PAGES.items():
            report(label, path, hello, servers, args)
        print("\nIf-None-Match (a browser that has the page: 304, no body)")
        for label in ("offering (big)", "storefront"):
            path = PAGES[label]
            etag = requests.get(servers["redis"] + path, timeout=10).headers["ETag"]
            report(label, path, hello, {"redis": servers["redis"]}, args, {"If-None-Match": etag})
    return 0


def report(label: str, path: str, hello: str, servers: dict[str, str], args, headers=None) -> None:
    """One line: hello-world's req/s, then each setting's req/s, p50 and ratio, interleaved by round."""
    runs: dict[str, list[tuple[float, float, float]]] = {setting: [] for setting in servers}
    hellos = []
    for url in servers.values():
        requests.get(url + path, headers=headers, timeout=30).raise_for_status()  # warm: the first render
    for _ in range(args.rounds):
        hello_rate, _ = load(hello + "/", args.seconds)
        hellos.append(hello_rate)
        for setting, url in servers.items():
            rate, p50 = load(url + path, args.seconds, headers)
            runs[setting].append((rate, p50, rate / hello_rate))
    cells = []
    for setting in SETTINGS:
        if setting not in runs:
            cells.append(f"{'':>12} {'':>7} {'':>6}")
            continue
        rate, p50, ratio = (statistics.median(run[i] for run in runs[setting]) for i in range(3))
        cells.append(f"{rate:12.0f} {p50:5.1f}ms {ratio:6.1%}")
    print(f"{label:<16} {statistics.median(hellos):11.0f} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the database was dropped and the servers stopped", file=sys.stderr)
        sys.exit(130)
