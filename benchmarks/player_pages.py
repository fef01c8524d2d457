"""How fast the learner's pages answer with a large catalogue, next to a hello-world page on the same server.

Run from the project root (PostgreSQL required):

    .venv/bin/python benchmarks/player_pages.py                       # 1,000,000 enrollments, 300 requests a page
    .venv/bin/python benchmarks/player_pages.py --enrollments 100000 --requests 100

What it does, all on this machine and all thrown away at the end (Ctrl+C included):

* creates a database `aqueduct_bench_<random>` on the PostgreSQL server of BENCH_DATABASE_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres) and builds it with the migrations;
* seeds it in bulk SQL: one creator; 10,000 published offerings of three text lessons; one big offering
  of 8 sections x 10 lessons (text, video with a ready file, a quiz of 10 questions x 4 choices, a live
  lesson and its session); `--enrollments` / 5 learners, each in the big offering (0-10 lessons done,
  half with a quiz attempt) and four others (a tenth with a certificate); and the learner measured:
  half the big offering done, two failed quiz attempts, twenty other offerings, one certificate;
* serves the app with gunicorn (3 processes x 4 threads) and logs the learner in through /login;
* requests each page `--requests` times in a row after 20 warm-up requests, and prints p50, p95,
  mean, requests per second, p50 as a multiple of /healthz's ("x hello"; /healthz runs `SELECT 1`)
  and the SQL statements the page runs (counted in-process on the same database, on a second visit).

The certificate check is rate-limited per address, so each request names another address in
X-Forwarded-For (the app trusting one proxy), as different people checking would. Timings say
how this machine did, client and loopback included, not how fast production is.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import requests
import sqlalchemy as sa
from bench_support import serve_under_gunicorn, throwaway_database  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform import create_app  # noqa: E402
from courseplatform.accounts.services import hash_password, start_login_session  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import (  # noqa: E402
    CreatorProfile,
    Lesson,
    LessonKind,
    LiveSession,
    MediaAsset,
    MediaStatus,
    Offering,
    OfferingKind,
    OfferingStatus,
    QuizChoice,
    QuizQuestion,
    Section,
    User,
    utcnow,
)

SECRET_KEY = secrets.token_hex(32)
PASSWORD = "bench-" + secrets.token_urlsafe(12)
EMAIL = "bench-learner@example.org"
CERTIFICATE = "AQ-BNCH-0000-0001"
OFFERINGS = 10_000
WARM_UP = 20
VIDEO = {"original_name": "talk.mp4", "content_type": "video/mp4", "size_bytes": 80_000_000, "duration_seconds": 600}
BODY = "\n\n".join(f"Paragraph {i}: *grounding* before **processing**, in the client's own words." for i in range(12))
# Bulk rows in SQL. :last is the learner measured; the crowd of learners are the users after them.
# :ordered is the big offering's lessons in outline order; :first the first small offering.
BULK = [
    """INSERT INTO courses (creator_id, kind, title, slug, status, price_cents, created_at, updated_at, published_at)
       SELECT :creator, 'course', 'Offering ' || g, 'offering-' || g, 'published', 4900, now(), now(),
              now() - g * interval '1 minute' FROM generate_series(1, :offerings) g""",
    "INSERT INTO sections (course_id, title, position) SELECT id, 'Part one', 0 FROM courses WHERE id <> :big",
    """INSERT INTO lessons (section_id, title, kind, position, body) SELECT s.id, 'Lesson ' || p, 'text', p, 'Text.'
       FROM sections s CROSS JOIN generate_series(1, 3) p WHERE s.course_id <> :big""",
    """INSERT INTO users (email, name, password_hash, created_at)
       SELECT 'learner' || g || '@example.org', 'Learner ' || g, :hash, now() FROM generate_series(1, :learners) g""",
    """INSERT INTO enrollments (user_id, course_id, source, status, enrolled_at)
       SELECT id, :big, 'import', 'active', now() - (id % 365) * interval '1 day' FROM users WHERE id > :last
       UNION ALL SELECT u.id, :first + (u.id + k * (:offerings / 4)) % :offerings, 'import', 'active', now()
       FROM users u CROSS JOIN generate_series(0, 3) k WHERE u.id > :last""",
    """INSERT INTO lesson_progress (enrollment_id, lesson_id, position_seconds, completed_at, updated_at)
       SELECT e.id, l.id, 0, now(), now() FROM enrollments e
       JOIN unnest(CAST(:ordered AS integer[])) WITH ORDINALITY l(id, n) ON l.n <= e.id % 11
       WHERE e.course_id = :big AND e.user_id > :last""",
    """INSERT INTO quiz_attempts (enrollment_id, lesson_id, attempt_number, answers, score_percent, passed,
                               submitted_at)
       SELECT id, :quiz, 1, '{}', 90, true, now() FROM enrollments
       WHERE course_id = :big AND user_id > :last AND id % 2 = 0""",
    """INSERT INTO certificates (number, enrollment_id, learner_name, course_title, creator_name, issued_at)
       SELECT format('AQ-%s-%s-%s', lpad((id / 100000000)::text, 4, '0'), lpad((id / 10000 % 10000)::text, 4, '0'),
              lpad((id % 10000)::text, 4, '0')), id, 'A learner', 'An offering', 'Bench Creator', now()
       FROM enrollments WHERE course_id <> :big AND user_id > :last AND id % 10 = 0""",
    # The learner measured: twenty small offerings (the first complete, with a certificate), half the big one
    # done, its video lesson half watched, and two failed attempts at its quiz (six, then seven right of ten).
    """INSERT INTO enrollments (user_id, course_id, source, status, enrolled_at, last_lesson_id)
       SELECT :last, id, 'import', 'active', now() - interval '30 days', NULL FROM courses
       WHERE id BETWEEN :first AND :first + 19 UNION ALL VALUES (:last, :big, 'purchase', 'active', now(), :video)""",
    "UPDATE enrollments SET completed_at = now() WHERE user_id = :last AND course_id = :first",
    """INSERT INTO certificates (number, enrollment_id, learner_name, course_title, creator_name, issued_at)
       SELECT :number, e.id, 'Bench Learner', 'Offering 1', 'Bench Creator', now() FROM enrollments e
       WHERE e.user_id = :last AND e.course_id = :first""",
    """INSERT INTO lesson_progress (enrollment_id, lesson_id, position_seconds, completed_at, updated_at)
       SELECT e.id, l.id, 0, now(), now() FROM enrollments e JOIN sections s ON s.course_id = e.course_id
       JOIN lessons l ON l.section_id = s.id WHERE e.user_id = :last AND e.course_id = :first
       UNION ALL SELECT e.id, l.id, CASE WHEN l.id = :video THEN 125 ELSE 0 END,
              CASE WHEN l.id = :video THEN NULL ELSE now() END, now() FROM enrollments e
       JOIN unnest(CAST(:ordered AS integer[])) WITH ORDINALITY l(id, n) ON l.n <= 40 OR l.id = :video
       WHERE e.user_id = :last AND e.course_id = :big""",
    """INSERT INTO quiz_attempts (enrollment_id, lesson_id, attempt_number, answers, score_percent, passed,
                               submitted_at)
       SELECT e.id, :quiz, a.n, (SELECT json_object_agg(q.id::text, json_build_array(c.id))
              FROM quiz_questions q JOIN quiz_choices c ON c.question_id = q.id
              AND c.position = CASE WHEN q.position < a.n + 5 THEN 0 ELSE 1 END WHERE q.lesson_id = :quiz),
              (a.n + 5) * 10, false, now() FROM enrollments e CROSS JOIN (VALUES (1), (2)) a(n)
       WHERE e.user_id = :last AND e.course_id = :big""",
]
TABLES = ["courses", "lessons", "users", "enrollments", "lesson_progress", "quiz_attempts", "certificates"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000, help="enrollments in all (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page (default 300)")
    args = parser.parse_args()
    if args.enrollments < 5 or args.requests < 2:
        parser.error("--enrollments must be at least 5 and --requests at least 2")
    return args


def big_offering(creator: CreatorProfile, owner: User) -> tuple[Offering, list[Lesson]]:
    """8 sections x 10 lessons: text and video in turn, a quiz opening section 6, a live lesson at the end."""
    now = utcnow()
    offering = Offering(
        creator=creator,
        kind=OfferingKind.COURSE,
        title="Working with grief",
        slug="working-with-grief",
        price_cents=19900,
        status=OfferingStatus.PUBLISHED,
        published_at=now,
        ce_minutes=360,
    )
    session = LiveSession(
        offering=offering, title="Live Q&A", starts_at=now + timedelta(days=2), time_zone="America/Chicago"
    )
    lessons = []
    for s in range(8):
        section = Section(offering=offering, title=f"Section {s + 1}", position=s)
        for p in range(10):
            lesson = Lesson(
                section=section, title=f"Lesson {s + 1}.{p + 1}", position=p, kind=LessonKind.TEXT, body=BODY
            )
            if (s, p) == (5, 0):
                lesson.kind, lesson.body, lesson.quiz_max_attempts = LessonKind.QUIZ, "", 3
                for q in range(10):
                    question = QuizQuestion(lesson=lesson, prompt=f"Question {q + 1}?", explanation="Why.", position=q)
                    for c in range(4):
                        QuizChoice(question=question, text=f"Answer {c + 1}", is_correct=c == 0, position=c)
            elif (s, p) == (7, 9):
                lesson.kind, lesson.live_session = LessonKind.LIVE, session
            elif p % 2:
                lesson.kind, lesson.duration_seconds = LessonKind.VIDEO, 600
                key = f"bench/video-{s}-{p}.mp4"
                lesson.media_asset = MediaAsset(owner=owner, storage_key=key, status=MediaStatus.READY, **VIDEO)
            lessons.append(lesson)
    return offering, lessons


def seed(app, learners: int) -> tuple[dict[str, str], dict[str, int]]:
    """Schema and data; returns the pages to measure {label: path} and the table sizes."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        password = hash_password(PASSWORD)
        owner = User(email="bench-creator@example.org", name="Bench Creator", password_hash=password)
        learner = User(email=EMAIL, name="Bench Learner", password_hash=password)
        creator = CreatorProfile(user=owner, slug="bench-creator", display_name="Bench Creator")
        offering, lessons = big_offering(creator, owner)
        db.session.add_all([owner, learner, creator, offering])
        db.session.flush()
        # Measured: lessons of section 5, which the learner has not reached; section 6's quiz; the live lesson.
        text, video, quiz, live = lessons[42], lessons[41], lessons[50], lessons[79]
        base = f"/learn/{offering.slug}"
        pages = {
            "hello world": "/healthz",
            "my offerings": "/learn",
            "outline": base,
            "text lesson": f"{base}/lessons/{text.id}",
            "video lesson": f"{base}/lessons/{video.id}",
            "quiz lesson": f"{base}/lessons/{quiz.id}",
            "live lesson": f"{base}/lessons/{live.id}",
            "certificate check": f"/certificates/{CERTIFICATE}",
        }
        binds = {
            "creator": creator.id, "big": offering.id, "last": learner.id, "quiz": quiz.id, "video": video.id,
            "ordered": [lesson.id for lesson in lessons], "offerings": OFFERINGS, "learners": learners,
            "hash": password, "number": CERTIFICATE,
        }  # fmt: skip
        db.session.execute(sa.text(BULK[0]), binds)
        binds["first"] = db.session.scalar(sa.text("SELECT min(id) FROM courses WHERE id <> :big"), binds)
        for statement in BULK[1:]:
            db.session.execute(sa.text(statement), binds)
        db.session.commit()
        sizes = {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in TABLES}  # noqa: S608
        sizes["enrollments in the big offering"] = db.session.scalar(
            sa.text("SELECT count(*) FROM enrollments WHERE course_id = :big"), binds
        )
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return pages, sizes


def query_counts(app, pages: dict[str, str]) -> dict[str, int]:
    """SQL statements per page, for the learner, each page's second request (the first may record the visit)."""
    counter = {"n": 0}

    def tick(*_args) -> None:
        counter["n"] += 1

    client = app.test_client()
    with app.app_context():
        learner = db.session.scalar(sa.select(User).where(User.email == EMAIL))
        start_login_session(learner)
        db.session.commit()
        user_id = learner.get_login_id()
        sa.event.listen(db.engine, "before_cursor_execute", tick)
        db.session.remove()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    counts = {}
    for label, path in pages.items():
        client.get(path)
        counter["n"] = 0
        status = client.get(path).status_code
        counts[label] = counter["n"] if status == 200 else -status
    with app.app_context():
        sa.event.remove(db.engine, "before_cursor_execute", tick)
        db.engine.dispose()
    return counts


def start_app(stack: ExitStack, database_url: str, scratch: Path) -> str:
    return serve_under_gunicorn(
        stack,
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "MAIL_DIR": str(scratch / "mail"),
            "MEDIA_ROOT": str(scratch / "media"),
            "TRUSTED_PROXY_HOPS": "1",
        },
    )


def log_in(url: str) -> requests.Session:
    """The learner logs in through the real form, CSRF token and all."""
    client = requests.Session()
    page = client.get(url + "/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if token is None:
        raise SystemExit("no CSRF token on /login")
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
    response = client.post(url + "/login", data=form, timeout=30)
    if not response.url.endswith("/learn"):
        raise SystemExit(f"logging in failed: landed on {response.url} ({response.status_code})")
    return client


def measure(client: requests.Session, url: str, requests_per_page: int) -> tuple[list[float], float, int]:
    """(latencies in ms, seconds for the timed requests, non-200 answers) for one page."""
    latencies, failures = [], 0
    started = 0.0
    for i in range(WARM_UP + requests_per_page):
        if i == WARM_UP:
            started = time.perf_counter()
        # Another "visitor" every time: the certificate check is rate-limited per address.
        headers = {"X-Forwarded-For": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
        before = time.perf_counter()
        response = client.get(url, headers=headers, timeout=60, allow_redirects=False)
        elapsed = (time.perf_counter() - before) * 1000
        if i >= WARM_UP:
            latencies.append(elapsed)
            failures += response.status_code != 200
    return latencies, time.perf_counter() - started, failures


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the cleanup below runs
    began = time.perf_counter()
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        scratch = Path(tempfile.mkdtemp(prefix="aqueduct_player_"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        print(f"database: {database}")
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY, "MAIL_DIR": str(scratch)})
        started = time.perf_counter()
        pages, sizes = seed(app, args.enrollments // 5)
        print(f"seeded in {time.perf_counter() - started:.0f} s:")
        for table, rows in sizes.items():
            print(f"  {table:<32} {rows:>10,}")
        queries = query_counts(app, pages)
        url = start_app(stack, database_url, scratch)
        client = log_in(url)
        print(f"\n{args.requests} sequential requests a page after {WARM_UP} warm-up, gunicorn 3 x 4 threads\n")
        print(f"{'page':<18} {'p50 ms':>7} {'p95 ms':>7} {'mean ms':>8} {'req/s':>7} {'x hello':>7} {'SQL':>4}  path")
        baseline, failures = None, 0
        for label, path in pages.items():
            latencies, seconds, failed = measure(client, url + path, args.requests)
            failures += failed
            p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[94]
            baseline = baseline or p50
            print(
                f"{label:<18} {p50:7.1f} {p95:7.1f} {statistics.fmean(latencies):8.1f} "
                f"{len(latencies) / seconds:7.0f} {p50 / baseline:6.1f}x {queries[label]:4}  {path}"
            )
        print(f"\ntotal time: {time.perf_counter() - began:.0f} s")
        if failures:
            print(f"{failures} answers were not 200 OK", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the database was dropped and the server stopped", file=sys.stderr)
        sys.exit(130)
