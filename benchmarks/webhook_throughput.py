"""How fast the running app absorbs Stripe's webhooks, duplicates included, and that it enrols each buyer once.

Run from the project root (PostgreSQL required):

    .venv/bin/python benchmarks/webhook_throughput.py                     # 10,000 events, 5,000 purchases
    .venv/bin/python benchmarks/webhook_throughput.py --events 20000 --purchases 8000 --clients 32

What it does, all on this machine and all thrown away at the end:

* creates a database `aqueduct_bench_<random>` on the PostgreSQL server of BENCH_DATABASE_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres) and builds it with the migrations;
* starts the fake Stripe API the tests use (loopback HTTP) and seeds one connected creator,
  10 offerings, one learner per purchase and a pending order per purchase, each with a
  Checkout Session that the fake then marks paid;
* starts the app under gunicorn (3 processes x 4 threads) in Stripe mode, pointed at the fake;
* posts the events, signed with the real algorithm, from `--clients` concurrent senders in a
  shuffled order: each purchase's `checkout.session.completed`, then redeliveries of the same
  event ids and `checkout.session.async_payment_succeeded` events with new ids for the same
  sessions, until `--events` in total;
* prints events per second, latency percentiles and the outcome counts, then checks that
  enrollments == distinct purchases and ledger rows == distinct event ids; exits 1 if not.

Each first delivery of a purchase makes the app ask the fake Stripe for the payment's fee
(one HTTP round trip on loopback) and write a receipt e-mail to a file, as in production.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import requests
import sqlalchemy as sa
import stripe
from bench_support import serve_under_gunicorn, throwaway_database  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform import create_app  # noqa: E402
from courseplatform.accounts.services import hash_password  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import (  # noqa: E402
    CreatorProfile,
    Enrollment,
    Offering,
    OfferingKind,
    OfferingStatus,
    Order,
    OrderStatus,
    PaymentProvider,
    ProviderEvent,
    User,
    utcnow,
)
from tests.fakes.stripe_api import FakeStripe  # noqa: E402

WEBHOOK_SECRET = "whsec_bench_" + secrets.token_hex(8)
SECRET_KEY = secrets.token_hex(32)
OFFERINGS = 10
PRICE = 4900


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=10_000, help="events to post in total (default 10,000)")
    parser.add_argument("--purchases", type=int, default=5_000, help="distinct paid checkouts (default 5,000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent senders (default 16)")
    args = parser.parse_args()
    if not 0 < args.purchases <= args.events:
        parser.error("--purchases must be between 1 and --events")
    return args


def seed(database_url: str, fake: FakeStripe, purchases: int, scratch: Path) -> list[dict]:
    """Schema, a connected creator, offerings, learners and paid Checkout Sessions; returns the sessions."""
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY, "MAIL_DIR": str(scratch)})
    with app.app_context():
        upgrade()
        account = fake.add_account()
        password = hash_password(secrets.token_urlsafe(12))
        owner = User(email="bench-creator@example.org", name="Bench Creator", password_hash=password)
        db.session.add(owner)
        db.session.flush()
        creator = CreatorProfile(
            user_id=owner.id,
            slug="bench-creator",
            display_name="Bench Creator",
            stripe_account_id=account["id"],
            stripe_charges_enabled=True,
        )
        db.session.add(creator)
        db.session.flush()
        offerings = [
            Offering(
                creator_id=creator.id,
                kind=OfferingKind.COURSE,
                title=f"Bench offering {i}",
                slug=f"bench-offering-{i}",
                price_cents=PRICE,
                status=OfferingStatus.PUBLISHED,
                published_at=utcnow(),
            )
            for i in range(OFFERINGS)
        ]
        db.session.add_all(offerings)
        db.session.flush()
        learners = [
            {"email": f"learner{i}@example.org", "name": f"Learner {i}", "password_hash": password}
            for i in range(purchases)
        ]
        learner_ids = db.session.scalars(sa.insert(User).returning(User.id), learners).all()
        orders = [
            {
                "learner_id": learner_id,
                "offering_id": offerings[i % OFFERINGS].id,
                "amount_cents": PRICE,
                "currency": "USD",
                "provider": PaymentProvider.STRIPE,
                "status": OrderStatus.PENDING,
                "platform_fee_cents": PRICE // 10,
                "net_cents": PRICE - PRICE // 10,
                "expires_at": utcnow().replace(microsecond=0) + timedelta(hours=1),
            }
            for i, learner_id in enumerate(learner_ids)
        ]
        order_ids = db.session.scalars(sa.insert(Order).returning(Order.id), orders).all()
        db.session.commit()

        client = stripe.StripeClient("sk_test_bench", base_addresses={"api": fake.url}, max_network_retries=0)
        expires = int(time.time()) + 3600

        def open_session(order_id: int) -> dict:
            session = client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "client_reference_id": str(order_id),
                    "metadata": {"order_id": str(order_id)},
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {"currency": "usd", "unit_amount": PRICE, "product_data": {"name": "Bench"}},
                        }
                    ],
                    "payment_intent_data": {
                        "application_fee_amount": PRICE // 10,
                        "transfer_data": {"destination": account["id"]},
                    },
                    "success_url": "http://127.0.0.1/checkout/success?session_id={CHECKOUT_SESSION_ID}",
                    "cancel_url": "http://127.0.0.1/checkout/cancel",
                    "expires_at": expires,
                }
            )
            return fake.complete_session(session["id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            sessions = list(pool.map(open_session, order_ids))
        db.session.execute(
            sa.update(Order),
            [{"id": int(s["client_reference_id"]), "checkout_id": s["id"]} for s in sessions],
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return sessions


def build_events(fake: FakeStripe, sessions: list[dict], total: int) -> tuple[list[dict], int]:
    """Each purchase's completion, then same-id redeliveries and new-id async successes; (events, distinct ids)."""
    rng = random.Random(20261124)
    firsts = [fake.event("checkout.session.completed", s) for s in sessions]
    events = list(firsts)
    distinct = len(firsts)
    while len(events) < total:
        if rng.random() < 0.7:
            events.append(rng.choice(firsts))  # the same event delivered again
        else:
            events.append(fake.event("checkout.session.async_payment_succeeded", rng.choice(sessions)))
            distinct += 1
    rng.shuffle(events)
    return events, distinct


def start_app(stack: ExitStack, database_url: str, fake: FakeStripe, scratch: Path) -> str:
    return serve_under_gunicorn(
        stack,
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_API_BASE": fake.url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(scratch / "mail"),
            "MEDIA_ROOT": str(scratch / "media"),
        },
    )


def post_all(url: str, fake: FakeStripe, events: list[dict], clients: int) -> tuple[float, list[float], Counter]:
    """Send every event from `clients` threads; (seconds, latencies in ms, outcomes)."""
    bodies = [fake.signed(event, WEBHOOK_SECRET) for event in events]
    local = threading.local()
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def send(item: tuple[bytes, dict]) -> float:
        body, headers = item
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.perf_counter()
        response = local.session.post(url + "/webhooks/stripe", data=body, headers=headers, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        outcome = response.json().get("outcome") if response.status_code == 200 else f"HTTP {response.status_code}"
        with lock:
            outcomes[outcome] += 1
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(send, bodies))
    return time.perf_counter() - started, latencies, outcomes


def count(database_url: str) -> tuple[int, int, int]:
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        enrollments = conn.scalar(sa.select(sa.func.count()).select_from(Enrollment))
        ledger = conn.scalar(sa.select(sa.func.count()).select_from(ProviderEvent))
        paid = conn.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.status == OrderStatus.PAID))
    engine.dispose()
    return enrollments, ledger, paid


def main() -> int:
    args = parse_args()
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_webhooks_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        fake = stack.enter_context(FakeStripe())
        print(f"database: {database}")
        started = time.perf_counter()
        sessions = seed(database_url, fake, args.purchases, scratch)
        print(f"seeded {args.purchases:,} paid checkouts in {time.perf_counter() - started:.1f} s")
        events, distinct = build_events(fake, sessions, args.events)
        url = start_app(stack, database_url, fake, scratch)
        seconds, latencies, outcomes = post_all(url, fake, events, args.clients)
        enrollments, ledger, paid = count(database_url)

        cuts = statistics.quantiles(latencies, n=100)
        print(f"events posted:        {len(events):,} ({distinct:,} distinct ids, {args.clients} concurrent senders)")
        print(f"time:                 {seconds:.1f} s")
        print(f"events per second:    {len(events) / seconds:,.0f}")
        print(f"latency ms:           p50 {cuts[49]:.1f} · p95 {cuts[94]:.1f} · p99 {cuts[98]:.1f}")
        print("outcomes:             " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
        print(f"distinct purchases:   {args.purchases:,}")
        print(f"enrollments:          {enrollments:,}")
        print(f"paid orders:          {paid:,}")
        print(f"ledger rows:          {ledger:,}")
        errors = sum(v for k, v in outcomes.items() if str(k).startswith("HTTP"))
        ok = enrollments == paid == args.purchases and ledger == distinct and errors == 0
        print("result:               " + ("OK: one enrollment per purchase" if ok else "MISMATCH"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
