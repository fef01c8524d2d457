"""Stripe's webhooks with the receipts going through the job queue, against receipts sent inside the request.

Run from the project root (PostgreSQL and Redis required):

    .venv/bin/python benchmarks/webhook_queue.py                          # 10,000 events, 5,000 purchases
    .venv/bin/python benchmarks/webhook_queue.py --events 4000 --purchases 2000 --clients 16

The same load as webhook_throughput.py (whose seeding, events and sender it reuses), twice in one
run, each on a fresh database seeded the same way:

* baseline: JOB_RUNNER=inline, as before the queue: each first delivery writes its receipt and
  sends it (file mail backend) before the request answers;
* queued: JOB_RUNNER=celery with a Celery worker (`--worker-concurrency`, default 2) and beat:
  the request writes the receipt to the outbox, hands it to Redis and answers; the worker sends it.

For each it prints events/s and latency percentiles, and for the queued run how long after the
last event the worker had sent every receipt; it checks one enrollment, one paid order and one
receipt per purchase, and exits 1 if not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from bench_support import (  # this script's folder is on sys.path
    BENCH_REDIS_URL,
    machine,
    redis_namespace,
    serve_under_gunicorn,
    throwaway_database,
)
from webhook_throughput import SECRET_KEY, WEBHOOK_SECRET, build_events, count, post_all, seed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.models import MailStatus, OutgoingMail  # noqa: E402
from tests.fakes.stripe_api import FakeStripe  # noqa: E402
from tests.servers import Fleet  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=10_000, help="events to post in each run (default 10,000)")
    parser.add_argument("--purchases", type=int, default=5_000, help="distinct paid checkouts (default 5,000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent senders (default 16)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    args = parser.parse_args()
    if not 0 < args.purchases <= args.events:
        parser.error("--purchases must be between 1 and --events")
    return args


def receipts_sent(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        sent = conn.scalar(
            sa.select(sa.func.count(OutgoingMail.id)).where(
                OutgoingMail.status == MailStatus.SENT, OutgoingMail.subject.like("Your receipt%")
            )
        )
    engine.dispose()
    return sent


def one_run(label: str, args, runner: str) -> dict:
    with ExitStack() as stack:
        database_url, _ = throwaway_database(stack)
        scratch = Path(tempfile.mkdtemp(prefix=f"aqueduct_webhooks_{label}_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        fake = stack.enter_context(FakeStripe())
        sessions = seed(database_url, fake, args.purchases, scratch)
        events, distinct = build_events(fake, sessions, args.events)
        settings = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_API_BASE": fake.url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(scratch / "mail"),
            "MEDIA_ROOT": str(scratch / "media"),
            "JOB_RUNNER": runner,
        }
        if runner == "celery":
            prefix = redis_namespace(stack)
            settings.update(REDIS_URL=BENCH_REDIS_URL, CELERY_QUEUE=prefix, RATELIMIT_KEY_PREFIX=prefix)
            inherited = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
            fleet = Fleet(stack, {**inherited, **settings}, scratch / "logs")
            fleet.worker("worker", concurrency=args.worker_concurrency)
            fleet.beat("beat", scratch / "beat-schedule")
        url = serve_under_gunicorn(stack, settings)
        seconds, latencies, outcomes = post_all(url, fake, events, args.clients)
        posted_at = time.monotonic()
        drained = None
        while time.monotonic() - posted_at < 600:
            if receipts_sent(database_url) >= args.purchases:
                drained = time.monotonic() - posted_at
                break
            time.sleep(0.1)
        enrollments, ledger, paid = count(database_url)
        receipts = receipts_sent(database_url)
    cuts = statistics.quantiles(latencies, n=100)
    errors = sum(v for k, v in outcomes.items() if str(k).startswith("HTTP"))
    return {
        "label": label,
        "rate": len(events) / seconds,
        "seconds": seconds,
        "p50": cuts[49],
        "p95": cuts[94],
        "p99": cuts[98],
        "drained": drained,
        "ok": enrollments == paid == receipts == args.purchases and ledger == distinct and errors == 0,
        "counts": f"{enrollments:,} enrollments, {paid:,} paid, {receipts:,} receipts sent, {errors} HTTP errors",
    }


def main() -> int:
    args = parse_args()
    print(f"machine: {machine()}")
    print(f"load:    {args.events:,} events, {args.purchases:,} purchases, {args.clients} senders; gunicorn 3 x 4")
    results = [
        one_run("inline", args, "inline"),
        one_run("celery", args, "celery"),
    ]
    for r in results:
        drained = "in the request" if r["label"] == "inline" else f"{r['drained']:.1f} s after the last event"
        if r["drained"] is None:
            drained = "not within 10 minutes"
        print(
            f"{r['label'] + ':':<8} {r['rate']:6,.0f} events/s · p50 {r['p50']:.1f} ms · p95 {r['p95']:.1f} ms · "
            f"p99 {r['p99']:.1f} ms · all receipts sent {drained} · {r['counts']}"
        )
    inline, queued = results
    print(f"queued / inline: {queued['rate'] / inline['rate']:.2f}x events/s, p95 {queued['p95'] / inline['p95']:.2f}x")
    ok = all(r["ok"] for r in results)
    print("result: " + ("OK: one enrollment and one receipt per purchase" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
