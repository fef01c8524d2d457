"""A reminder run while the mail server is down: every reminder arrives once after it comes back, and when.

Run from the project root (PostgreSQL and Redis required; takes about 8 minutes with the defaults):

    .venv/bin/python benchmarks/mail_outage.py                       # 100 learners, 2 minutes down
    .venv/bin/python benchmarks/mail_outage.py --learners 500 --down 300 --sweep-seconds 10

What it does, all on this machine and all thrown away at the end:

* a database built by the migrations with a live workshop starting in three hours and
  `--learners` active learners; Redis keys under a prefix of their own (BENCH_REDIS_URL);
* a Celery worker and beat (the sweeper every `--sweep-seconds`, default 30 as deployed), and
  a real SMTP server on loopback taking `--smtp-ms` (150) a message;
* closes the SMTP port (senders get "connection refused"), runs the reminders task as beat
  does, keeps the port closed for `--down` seconds from then, opens it again, and waits;
* prints when the reminders were written, how many delivery attempts failed, and how long
  after the mail server came back the first and the last reminder arrived; checks every
  learner got exactly one, and exits 1 if not.

Messages the server refused are tried again 1, 5, 15 and 60 minutes after each failure
(integrations/mail.py RETRY_DELAYS), by the sweeper once the wait is over.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from bench_support import (  # this script's folder is on sys.path
    deployment_env,
    machine,
    migrated,
    redis_namespace,
    throwaway_database,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform.accounts.services import hash_password  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import (  # noqa: E402
    CreatorProfile,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LiveSession,
    Offering,
    OfferingKind,
    OfferingStatus,
    OutgoingMail,
    User,
    utcnow,
)
from tests.servers import Fleet, SlowSmtp  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--learners", type=int, default=100, help="learners to remind (default 100)")
    parser.add_argument("--down", type=int, default=120, help="seconds the mail server is down (default 120)")
    parser.add_argument("--sweep-seconds", type=int, default=30, help="beat's sweeper cadence (default 30)")
    parser.add_argument("--smtp-ms", type=int, default=150, help="the SMTP server's time per message (default 150)")
    return parser.parse_args()


def seed(app, learners: int) -> None:
    """A creator, a live workshop starting in three hours, and its active learners."""
    with app.app_context():
        password = hash_password("unused bench password")
        owner = User(email="bench-creator@example.org", name="Bench Creator", password_hash=password)
        db.session.add(owner)
        db.session.flush()
        creator = CreatorProfile(user_id=owner.id, slug="bench-creator", display_name="Bench Creator")
        db.session.add(creator)
        db.session.flush()
        offering = Offering(
            creator_id=creator.id,
            kind=OfferingKind.LIVE_WORKSHOP,
            title="Bench live workshop",
            slug="bench-live",
            price_cents=0,
            status=OfferingStatus.PUBLISHED,
            published_at=utcnow(),
        )
        db.session.add(offering)
        db.session.flush()
        db.session.add(LiveSession(offering_id=offering.id, starts_at=utcnow() + timedelta(hours=3), time_zone="UTC"))
        rows = [
            {"email": f"learner{i}@outage.example.org", "name": f"Learner {i}", "password_hash": password}
            for i in range(learners)
        ]
        ids = db.session.scalars(sa.insert(User).returning(User.id), rows).all()
        db.session.add_all(
            Enrollment(user_id=i, offering_id=offering.id, source=EnrollmentSource.FREE, status=EnrollmentStatus.ACTIVE)
            for i in ids
        )
        db.session.commit()
        db.session.remove()


def outbox(engine) -> tuple[int, Counter, int]:
    """(reminders written, their statuses, failed delivery attempts so far)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(OutgoingMail.status, OutgoingMail.attempts)).all()
    return len(rows), Counter(status.value for status, _ in rows), sum(attempts for _, attempts in rows)


def main() -> int:
    args = parse_args()
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_mail_outage_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        prefix = redis_namespace(stack)
        smtp = stack.enter_context(SlowSmtp(delay=args.smtp_ms / 1000))
        app = migrated(database_url, JOB_RUNNER="inline")
        seed(app, args.learners)
        engine = sa.create_engine(database_url)
        stack.callback(engine.dispose)
        env = deployment_env(
            database_url, prefix, scratch, JOB_RUNNER="celery", SWEEP_SECONDS=str(args.sweep_seconds), **smtp.settings
        )
        fleet = Fleet(stack, env, scratch / "logs")
        fleet.worker("worker", concurrency=2)
        fleet.beat("beat", scratch / "beat-schedule")
        time.sleep(5)  # worker and beat are up
        print(f"machine:  {machine()}")
        print(f"database: {database}; {args.learners} learners; sweeper every {args.sweep_seconds} s")

        smtp.stop()
        started = time.monotonic()
        celery = str(Path(sys.executable).with_name("celery"))
        subprocess.run(  # noqa: S603 - beat's task, sent by hand
            [celery, "-A", "courseplatform.jobs.worker", "call", "aqueduct.send_reminders"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        while outbox(engine)[0] < args.learners and time.monotonic() - started < 60:
            time.sleep(0.1)
        written = time.monotonic() - started
        print(f"mail server down; the reminder run wrote {outbox(engine)[0]} reminders in {written:.1f} s")
        time.sleep(max(0.0, args.down - (time.monotonic() - started)))
        _, statuses, failed = outbox(engine)
        print(f"after {args.down} s down: {failed} delivery attempts refused; {dict(statuses)}")

        smtp.start()
        back = time.monotonic()
        print("mail server back")
        deadline = back + 3 * 3600
        while len({m.to for m in smtp.messages()}) < args.learners and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(max(5, args.sweep_seconds + 2))  # a repeat would arrive by now
        received = smtp.messages()
        _, statuses, failed = outbox(engine)
        per_person = Counter(m.to for m in received)
        first = min(m.at for m in received) - back if received else float("nan")
        last = max(m.at for m in received) - back if received else float("nan")
        print(f"first reminder arrived {first:.1f} s after the mail server came back")
        print(f"last reminder arrived  {last:.1f} s after the mail server came back ({last / 60:.1f} min)")
        print(f"reminders received:    {len(received)} by {len(per_person)} learners; {dict(statuses)}")
        print(f"delivery attempts refused while down: {failed}")
        ok = len(per_person) == args.learners and set(per_person.values()) == {1}
        print("result: " + ("OK: every learner got one reminder" if ok else "MISMATCH"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
