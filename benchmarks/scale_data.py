"""The issue-17 data set (10,000 offerings, 1,000,000 enrollments, 100,000 orders) and the servers that face it.

`pages.py` and `load.py` share it: one cached PostgreSQL database built in bulk SQL, the app under
gunicorn as production runs it (gunicorn.conf.py, 2 sync workers) and a hello-world Flask app under
the same settings, and logging in through the real form. Production marks cookies Secure, which
an HTTP client keeps to itself on plain http, so the cookies travel in a header set by hand here.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
from bench_support import BENCH_REDIS_URL, DEFAULT_POSTGRES, free_port  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from courseplatform import create_app, stats  # noqa: E402
from courseplatform.extensions import db  # noqa: E402

PASSWORD = "bench-password-0f3a9c"  # noqa: S105 (every account of the throw-away data set shares it)
LEARNER = "bench-learner@example.org"
CREATOR = "bench-creator@example.org"
ADMIN = "bench-admin@example.org"
CREATOR_SLUG = "bench-creator"
BIG_SLUG = "working-with-grief-together"
SMALL_SLUG = "offering-20"  # one of a small creator's offerings, with about 80 learners
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
EXPIRED_RE = re.compile(r"max-age=0|expires=[^;]*1970", re.IGNORECASE)
META_CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# Offering titles cycle through these, so one in eight matches a search for "grief".
TOPICS = [
    "Working with grief",
    "Trauma-informed practice",
    "Couples therapy basics",
    "Mindfulness for clinicians",
    "Ethics and boundaries",
    "Somatic approaches",
    "Supervision skills",
    "Anxiety in adolescents",
]
DESCRIPTION = "\n\n".join(
    f"Part {i}: how to hold *grounding* and **processing** together, with case examples." for i in range(6)
)
LESSON_BODY = "\n\n".join(f"Paragraph {i}: notice the client's *own words* before naming a pattern." for i in range(12))


@dataclass(frozen=True)
class Scale:
    """The shape of the data set: `offerings` in all, `learners` each in the big offering and four others."""

    name: str
    offerings: int
    learners: int
    orders: int
    small_creators: int = 50

    @property
    def database(self) -> str:
        return "aqueduct_bench_pages" if self.name == "full" else f"aqueduct_bench_pages_{self.name}"

    @property
    def signature(self) -> str:
        return f"offerings={self.offerings} learners={self.learners} orders={self.orders} totals=1"


FULL = Scale("full", offerings=10_000, learners=200_000, orders=100_000)
QUICK = Scale("quick", offerings=500, learners=2_000, orders=1_000)

# In bulk SQL. :creator is the big creator's profile, :big the big offering, :small_first the first small
# creator's profile; :first the first of the other offerings (made by the first statement), :m how many.
# One offering in twenty belongs to a small creator: the big creator has 95 % of them.
BULK = [
    """INSERT INTO users (email, name, password_hash, created_at)
       SELECT 'creator' || g || '@example.org', 'Creator ' || g, :hash, now() FROM generate_series(1, :small) g""",
    """INSERT INTO creator_profiles (user_id, slug, display_name, bio, bio_html, created_at)
       SELECT id, 'creator-' || substr(email, 8, strpos(email, '@') - 8), name, :bio, :bio_html, now()
       FROM users WHERE email LIKE 'creator%@example.org' ORDER BY id""",
    """INSERT INTO courses (creator_id, kind, title, slug, subtitle, description, description_html, status,
                           price_cents, created_at, updated_at, published_at)
       SELECT CASE WHEN g % 20 = 0 THEN :small_first + (g / 20) % :small ELSE :creator END, 'course',
              (CAST(:topics AS text[]))[g % 8 + 1] || ', part ' || g, 'offering-' || g,
              'A self-paced offering for practitioners', :description, :description_html, 'published',
              CASE WHEN g % 10 = 1 THEN 0 ELSE 4900 + (g % 5) * 1000 END, now(), now(),
              now() - g * interval '1 minute'
       FROM generate_series(1, :m) g""",
    "INSERT INTO sections (course_id, title, position) SELECT id, 'Part one', 0 FROM courses WHERE id <> :big",
    """INSERT INTO lessons (section_id, title, kind, position, body, body_html)
       SELECT s.id, 'Lesson ' || p, 'text', p, 'Text.', '<p>Text.</p>'
       FROM sections s CROSS JOIN generate_series(1, 3) p WHERE s.course_id <> :big""",
    """INSERT INTO users (email, name, password_hash, created_at)
       SELECT 'learner' || g || '@example.org', 'Learner ' || g, :hash, now() - g * interval '1 minute'
       FROM generate_series(1, :learners) g""",
    # Everyone in the big offering (over the past year) and in four others.
    """INSERT INTO enrollments (user_id, course_id, source, reason, status, enrolled_at)
       SELECT id, :big, 'import', 'import', 'active', now() - (id % 525600) * interval '1 minute'
       FROM users WHERE email LIKE 'learner%@example.org'
       UNION ALL SELECT u.id, :first + (u.id + k * (:m / 4)) % :m, 'import', 'import', 'active',
              now() - (u.id % 1000) * interval '1 hour'
       FROM users u CROSS JOIN generate_series(0, 3) k WHERE u.email LIKE 'learner%@example.org'""",
    # The orders: one enrollment in nine of a paid offering was bought, its enrollment tied to the order.
    """WITH picked AS (
           SELECT e.user_id, e.course_id, e.enrolled_at, e.id, c.price_cents FROM enrollments e
           JOIN courses c ON c.id = e.course_id WHERE c.price_cents > 0 AND e.id % 9 = 0 ORDER BY e.id LIMIT :orders
       ), made AS (
           INSERT INTO orders (learner_id, course_id, amount_cents, currency, provider, checkout_id,
                               payment_intent_id, status, processor_fee_cents, platform_fee_cents, net_cents,
                               created_at, updated_at, paid_at)
           SELECT user_id, course_id, price_cents, 'USD', 'test', 'bench_' || id, 'bench_intent_' || id, 'paid',
                  price_cents * 29 / 1000 + 30, price_cents / 10,
                  price_cents - (price_cents * 29 / 1000 + 30) - price_cents / 10, enrolled_at, enrolled_at,
                  enrolled_at
           FROM picked RETURNING id, learner_id, course_id
       )
       UPDATE enrollments e SET order_id = made.id, source = 'purchase', reason = 'purchase'
       FROM made WHERE e.user_id = made.learner_id AND e.course_id = made.course_id""",
    # Progress in the big offering: 0 to 5 of its lessons done.
    """INSERT INTO lesson_progress (enrollment_id, lesson_id, position_seconds, completed_at, updated_at)
       SELECT e.id, l.id, 0, now(), now() FROM enrollments e
       JOIN unnest(CAST(:ordered AS integer[])) WITH ORDINALITY l(id, n) ON l.n <= e.id % 6
       WHERE e.course_id = :big""",
    # The learner measured: half the big offering done.
    """INSERT INTO enrollments (user_id, course_id, source, reason, status, enrolled_at, last_lesson_id)
       VALUES (:learner, :big, 'import', 'import', 'active', now() - interval '30 days', :lesson)""",
    """INSERT INTO lesson_progress (enrollment_id, lesson_id, position_seconds, completed_at, updated_at)
       SELECT e.id, l.id, 0, now(), now() FROM enrollments e
       JOIN unnest(CAST(:ordered AS integer[])) WITH ORDINALITY l(id, n) ON l.n <= 40
       WHERE e.user_id = :learner AND e.course_id = :big""",
]
TABLES = ["users", "creator_profiles", "courses", "lessons", "enrollments", "orders", "lesson_progress"]


def admin_engine() -> sa.Engine:
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def database_url(name: str) -> str:
    return str(admin_engine().url.set(database=name).render_as_string(hide_password=False))


def cached_signature(name: str) -> str | None:
    """The shape a built database was seeded with (kept as its comment), or None when there is none."""
    engine = admin_engine()
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"),
            {"name": name},
        ).first()
    engine.dispose()
    return None if found is None else (found[0] or "")


def recreate(name: str) -> None:
    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def mark_built(name: str, signature: str) -> None:
    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f"COMMENT ON DATABASE \"{name}\" IS '{signature}'"))
    engine.dispose()


def make_app(url: str, **config):
    """The app on `url` in-process (seeding, counting statements), its schema brought up to date."""
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(32), **config})
    with app.app_context():
        upgrade()
    return app


def prepare(scale: Scale, reuse: bool, scratch: Path) -> tuple[str, bool]:
    """The data set's database URL, built unless `reuse` finds it built at this scale; (url, was it built now)."""
    url = database_url(scale.database)
    if reuse and cached_signature(scale.database) == scale.signature:
        app = make_app(url, MAIL_DIR=str(scratch / "mail"))  # migrations added since it was built
        with app.app_context():
            db.engine.dispose()
        return url, False
    recreate(scale.database)
    app = make_app(url, MAIL_DIR=str(scratch / "mail"))
    seed(app, scale)
    mark_built(scale.database, scale.signature)
    return url, True


def seed(app, scale: Scale) -> None:
    """The accounts and the big offering through the models (Markdown rendered), everything else in bulk SQL."""
    from courseplatform.accounts.services import hash_password
    from courseplatform.markdown_render import render_markdown
    from courseplatform.models import (
        CreatorProfile,
        Lesson,
        LessonKind,
        Offering,
        OfferingKind,
        OfferingStatus,
        Section,
        User,
        utcnow,
    )

    with app.app_context():
        password = hash_password(PASSWORD)
        owner = User(email=CREATOR, name="Bench Creator", password_hash=password)
        learner = User(email=LEARNER, name="Bench Learner", password_hash=password)
        admin = User(email=ADMIN, name="Bench Operator", password_hash=password, is_admin=True)
        creator = CreatorProfile(user=owner, slug=CREATOR_SLUG, display_name="Bench Creator", bio=DESCRIPTION)
        big = Offering(
            creator=creator,
            kind=OfferingKind.COURSE,
            title="Working with grief, together",
            slug=BIG_SLUG,
            subtitle="The offering two hundred thousand learners took",
            description=DESCRIPTION,
            price_cents=19900,
            status=OfferingStatus.PUBLISHED,
            published_at=utcnow(),
            ce_minutes=360,
        )
        lessons = []
        for s in range(8):
            section = Section(offering=big, title=f"Section {s + 1}", position=s)
            for p in range(10):
                lesson = Lesson(section=section, title=f"Lesson {s + 1}.{p + 1}", position=p, kind=LessonKind.TEXT)
                lesson.body = LESSON_BODY
                lessons.append(lesson)
        db.session.add_all([owner, learner, admin, creator, big])
        db.session.flush()
        binds = {
            "creator": creator.id, "big": big.id, "learner": learner.id, "lesson": lessons[42].id,
            "ordered": [lesson.id for lesson in lessons], "m": scale.offerings - 1, "learners": scale.learners,
            "orders": scale.orders, "small": scale.small_creators, "hash": password, "topics": TOPICS,
            "description": DESCRIPTION, "description_html": str(render_markdown(DESCRIPTION)),
            "bio": DESCRIPTION, "bio_html": str(render_markdown(DESCRIPTION)),
        }  # fmt: skip
        for number, statement in enumerate(BULK):
            if number == 2:
                others = "SELECT min(id) FROM creator_profiles WHERE id <> :creator"
                binds["small_first"] = db.session.scalar(sa.text(others), binds)
            if number == 3:
                binds["first"] = db.session.scalar(sa.text("SELECT min(id) FROM courses WHERE id <> :big"), binds)
            db.session.execute(sa.text(statement), binds)
        # Bulk SQL goes around the session events that keep the running totals: recount them, as an
        # operator would after a bulk load (`flask rebuild-stats`).
        stats.rebuild()
        db.session.commit()
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        db.engine.dispose()


def table_sizes(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        sizes = {table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in TABLES}  # noqa: S608
        sizes["learners of the big offering"] = conn.scalar(
            sa.text("SELECT count(*) FROM enrollments e JOIN courses c ON c.id = e.course_id WHERE c.slug = :slug"),
            {"slug": BIG_SLUG},
        )
        sizes["offerings of the big creator"] = conn.scalar(
            sa.text("SELECT count(*) FROM courses c JOIN creator_profiles p ON p.id = c.creator_id WHERE p.slug = :s"),
            {"s": CREATOR_SLUG},
        )
    engine.dispose()
    return sizes


def clone(stack: ExitStack, source: str, name: str) -> str:
    """A copy of the database `source` (PostgreSQL's template copy: seconds), dropped at exit."""
    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    stack.callback(drop)
    return database_url(name)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

HELLO_APP = '''"""Hello-world Flask: the ceiling any page of the app is compared with."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
'''


def production_env(url: str, scratch: Path, prefix: str) -> dict[str, str]:
    """Production settings, allowing by name only what a single benchmark machine can't have."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AQUEDUCT_", "FLASK_", "STRIPE_", "SMTP_", "S3_", "REDIS", "DATABASE", "JOB_", "WEB_"))
    }
    env.update(
        {
            "AQUEDUCT_ENV": "production",
            # The test-mode checkout (load.py buys with it), mail to files, media on disk, an http address,
            # and background jobs in a thread of the web process.
            "AQUEDUCT_ALLOW_UNSAFE": "free-test-checkout,file-mail,local-media,local-base-url,in-process-jobs",
            "JOB_RUNNER": "thread",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": url,
            "REDIS_URL": BENCH_REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
            "CELERY_QUEUE": prefix,
            "BASE_URL": "http://127.0.0.1",
            "MAIL_DIR": str(scratch / "mail"),
            "MEDIA_ROOT": str(scratch / "media"),
            "STATIC_BUILD_DIR": str(scratch / "static"),
            # Each simulated visitor names its own address (X-Forwarded-For), as visitors behind a proxy would.
            "TRUSTED_PROXY_HOPS": "1",
            "WEB_CONCURRENCY": "2",
            "HOST": "127.0.0.1",
        }
    )
    return env


def gunicorn(stack: ExitStack, env: dict[str, str], app: str, cwd: Path, log: Path) -> tuple[str, int]:
    """`app` under gunicorn.conf.py (2 sync workers from WEB_CONCURRENCY) on a free port: (URL, master pid)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", str(PROJECT_ROOT / "gunicorn.conf.py"), app]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=cwd, env={**env, "PORT": str(port)}, stdout=out, stderr=out)  # noqa: S603

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn ({app}) exited at start; its log: {log}")
        try:
            requests.get(url + "/", timeout=5)
            return url, process.pid
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn ({app}) did not answer; its log: {log}")


def serve_both(
    stack: ExitStack, url: str, scratch: Path, prefix: str, app_tree: Path = PROJECT_ROOT
) -> tuple[str, str, list[int]]:
    """The app (of `app_tree`, a checkout of another commit for a before/after) and hello-world under the
    same gunicorn settings: (app URL, hello URL, their master pids)."""
    env = production_env(url, scratch, prefix)
    if app_tree != PROJECT_ROOT:
        env["PYTHONPATH"] = str(app_tree)  # its package first, not the one installed from this checkout
    hello_dir = scratch / "hello"
    hello_dir.mkdir(exist_ok=True)
    (hello_dir / "hello_world.py").write_text(HELLO_APP)
    app_url, app_pid = gunicorn(stack, env, "wsgi:app", app_tree, scratch / "app.log")
    hello_url, hello_pid = gunicorn(stack, env, "hello_world:app", hello_dir, scratch / "hello.log")
    return app_url, hello_url, [app_pid, hello_pid]


def worker_memory(master: int) -> list[int]:
    """Resident memory of a gunicorn master's workers, in MB."""
    sizes = []
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return sizes
    for child in children:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            sizes.append(int(found.group(1)) // 1024)
    return sizes


# ---------------------------------------------------------------------------
# A visitor: cookies by hand, logging in through the form
# ---------------------------------------------------------------------------


class Visitor:
    """One browser: its own cookies (sent on plain http though production marks them Secure) and address."""

    def __init__(self, base: str, address: str = "127.0.0.1", timeout: float = 30) -> None:
        self.base = base
        self.address = address
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.http = requests.Session()
        self.http.trust_env = False

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Forwarded-For": self.address, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = self.cookie_header
        response = self.http.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=self.timeout, **kwargs
        )
        self.http.cookies.clear()  # only ours travel
        for line in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = line.partition("=")
            value, _, attributes = rest.partition(";")
            if value and not EXPIRED_RE.search(attributes):
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def log_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        """The log-in form, CSRF token and all; the answer to the POST (a redirect when it worked)."""
        page = self.get("/login")
        token = CSRF_RE.search(page.text)
        if token is None:
            raise RuntimeError(f"no CSRF token on /login ({page.status_code})")
        return self.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1)})


def relative(location: str, base: str) -> str:
    """A redirect's Location as a path on this server."""
    return location[len(base) :] if location.startswith(base) else location
