"""What a log-in costs in password hashing, and how 200 people logging in at once fare.

Run from the project root:

    .venv/bin/python benchmarks/password_hashing.py              # 200 logins at once
    .venv/bin/python benchmarks/password_hashing.py --logins 500 --workers 4

It compares argon2-cffi's default parameters (RFC 9106's low-memory profile: 3 passes over
64 MiB in 4 lanes, what Aqueduct used before) with the parameters Aqueduct uses now
(`courseplatform.accounts.services.PASSWORD_HASHING`, OWASP's first recommended Argon2id
setting: 2 passes over 19 MiB in 1 lane), in the same run:

* the time and CPU of one verification on an idle machine;
* `--logins` verifications arriving at once, served by `--workers` processes (as gunicorn's
  sync workers would), printing how long the last one waited and the p50/p95 wait.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from argon2 import PasswordHasher

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.accounts.services import PASSWORD_HASHING  # noqa: E402

PASSWORD = "calm river stones"  # noqa: S105 (a benchmark's own, hashed and thrown away)
BEFORE = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200, help="logins arriving at once (default 200)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes serving them")
    return parser.parse_args()


def _verify(parameters: dict, encoded: str) -> float:
    started = time.perf_counter()
    PasswordHasher(**parameters).verify(encoded, PASSWORD)
    return time.perf_counter() - started


def one(parameters: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one verification (the median of 15)."""
    hasher = PasswordHasher(**parameters)
    encoded = hasher.hash(PASSWORD)
    walls, cpus = [], []
    for _ in range(15):
        wall, cpu = time.perf_counter(), time.process_time()
        hasher.verify(encoded, PASSWORD)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def burst(parameters: dict, logins: int, workers: int) -> list[float]:
    """Each login's wait from the moment they all arrived until its verification finished."""
    encoded = PasswordHasher(**parameters).hash(PASSWORD)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_verify, [parameters] * workers, [encoded] * workers))  # warm the workers
        arrived = time.perf_counter()
        futures = [pool.submit(_verify, parameters, encoded) for _ in range(logins)]
        waits = []
        for future in futures:
            future.result()
            waits.append(time.perf_counter() - arrived)
    return sorted(waits)


def main() -> int:
    args = parse_args()
    print(f"machine: {os.cpu_count()} cores; {args.logins} logins at once, {args.workers} worker processes")
    rows = {}
    for name, parameters in (("before (argon2 defaults)", BEFORE), ("now (OWASP minimum)", PASSWORD_HASHING)):
        wall, cpu = one(parameters)
        waits = burst(parameters, args.logins, args.workers)
        p50, p95 = waits[len(waits) // 2], waits[int(len(waits) * 0.95) - 1]
        rows[name] = (wall, cpu, p50, p95, waits[-1])
        print(
            f"{name:26} t={parameters['time_cost']} m={parameters['memory_cost'] // 1024} MiB "
            f"p={parameters['parallelism']}: one {wall * 1000:6.1f} ms ({cpu * 1000:6.1f} ms CPU) · "
            f"burst p50 {p50:5.2f} s · p95 {p95:5.2f} s · last {waits[-1]:5.2f} s"
        )
    (b_wall, b_cpu, _, b_p95, b_last), (n_wall, n_cpu, _, n_p95, n_last) = rows.values()
    print(
        f"now vs before: one login {b_wall / n_wall:.1f}x faster ({b_cpu / n_cpu:.1f}x less CPU); "
        f"the burst's p95 {b_p95 / n_p95:.1f}x and its last login {b_last / n_last:.1f}x sooner"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
