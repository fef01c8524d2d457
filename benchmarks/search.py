"""How fast a catalog search is at 10,000 and 100,000 published offerings: LIKE before, full-text search now.

Run from the project root (PostgreSQL required):

    .venv/bin/python benchmarks/search.py                          # 10,000 then 100,000 offerings
    .venv/bin/python benchmarks/search.py --scales 10000 --rounds 3

What it does, all on this machine and all thrown away at the end (Ctrl+C included):

* creates a database `aqueduct_bench_<random>` on the PostgreSQL server of BENCH_DATABASE_URL
  (default postgresql://postgres@127.0.0.1:5432/postgres) and builds it with the migrations;
* seeds 500 therapists and, in bulk SQL, published offerings with therapy-course titles, subtitles
  and descriptions (about 90 words) put together from a vocabulary of topics, approaches and
  audiences; the migration's trigger builds each one's search vector as the app's writes would;
* for each scale, times in this process the two queries a search page runs (the count and a page of
  12), over the same list of searches, common and rare words, phrases, exclusions, partly typed words:
  the former `ILIKE '%word%'` over title, subtitle, description and creator name (newest first)
  against the full-text search (best match first, then newest first), p50 and p95 of every search
  run `--rounds` times after a warm-up; then prints the plan of one search.

Timings say how this machine did, not how fast production is. Target: full-text p50 < 30 ms at both scales.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from bench_support import throwaway_database  # this script's folder is on sys.path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from flask_sqlalchemy.pagination import Pagination  # noqa: E402
from sqlalchemy.orm import contains_eager  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from courseplatform import create_app  # noqa: E402
from courseplatform.catalog.forms import OfferingSearchForm  # noqa: E402
from courseplatform.catalog.search import like_pattern  # noqa: E402
from courseplatform.catalog.services import PER_PAGE, catalog_statement, search_offerings  # noqa: E402
from courseplatform.extensions import db  # noqa: E402
from courseplatform.models import CreatorProfile, Offering  # noqa: E402

SECRET_KEY = secrets.token_hex(32)
CREATORS = 500
SEARCHES = [
    "grief",
    "trauma",
    "couples therapy",
    "anxiety in teens",
    "emdr",
    "mindf",
    "attachm",
    "burnout -supervision",
    '"internal family systems"',
    "sleep or insomnia",
    "somatic",
    "perinatal",
    "shame in couples",
    "ruiz",
    "eating disorders",
    "ethics",
]
TOPICS = [
    "Grief", "Trauma", "Anxiety", "Depression", "Couples Therapy", "Attachment", "Burnout", "Shame",
    "Perinatal Mental Health", "Eating Disorders", "Insomnia", "Self-Compassion", "Chronic Pain",
    "Addiction", "Suicide Prevention", "Play Therapy", "Group Facilitation", "Clinical Supervision",
    "Ethics", "Family Systems", "Dissociation", "OCD", "ADHD", "Autism", "Gender-Affirming Care",
    "Racial Trauma", "Men's Mental Health", "Loneliness", "Anger", "Panic",
]  # fmt: skip
APPROACHES = [
    "EMDR", "Internal Family Systems", "Somatic Experiencing", "CBT", "DBT", "ACT", "Mindfulness",
    "Narrative Therapy", "Gottman Method", "Emotionally Focused Therapy", "Psychodynamic Practice",
    "Motivational Interviewing", "Schema Therapy", "Polyvagal-Informed Care", "Compassion-Focused Therapy",
]  # fmt: skip
AUDIENCES = [
    "Teens", "Children", "Couples", "Veterans", "New Parents", "Older Adults", "Clinicians", "Students",
    "First Responders", "LGBTQ+ Clients", "Families", "Groups", "Healthcare Workers", "Athletes", "Refugees",
]  # fmt: skip
SENTENCES = [
    "Through case vignettes and live demonstrations you will practise the core interventions step by step.",
    "We look at assessment, formulation and treatment planning, and at what to do when progress stalls.",
    "Each module ends with a short reflection exercise and a worksheet you can use with clients the next day.",
    "The course draws on current research and on twenty years of clinical experience in community settings.",
    "You will learn how to pace sessions so that clients feel safe enough to approach difficult material.",
    "Special attention goes to cultural humility, power in the therapy room and working across difference.",
    "Recorded role plays show how to repair ruptures in the therapeutic alliance without losing the thread.",
    "Handouts cover psychoeducation scripts, grounding techniques and relapse prevention plans.",
    "Participants often tell us the material changed how they listen, not only what they do in session.",
    "We discuss documentation, informed consent and the ethical questions that come up in private practice.",
    "Bring your own cases: the last hour of each live meeting is consultation in small groups.",
    "No prior training in the model is needed; experienced practitioners will find advanced material too.",
]
FIRST_NAMES = ["Ana", "Sam", "Priya", "Jonas", "Maya", "Tomás", "Leila", "Chen", "Grace", "Omar", "Ruth", "Kwame"]
LAST_NAMES = ["Ruiz", "Okafor", "Lindqvist", "Patel", "Moreau", "Nakamura", "Byrne", "Haddad", "Silva", "Kowalski"]


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


CREATORS_SQL = f"""
    WITH people AS (
        INSERT INTO users (email, name, password_hash, created_at)
        SELECT 'therapist' || g || '@example.org',
               ({sql_array(FIRST_NAMES)})[g % {len(FIRST_NAMES)} + 1] || ' '
               || ({sql_array(LAST_NAMES)})[g / {len(FIRST_NAMES)} % {len(LAST_NAMES)} + 1],
               '!', now()
        FROM generate_series(1, CAST(:creators AS integer)) g
        RETURNING id, name
    )
    INSERT INTO creator_profiles (user_id, slug, display_name, created_at)
    SELECT id, 'therapist-' || id, name, now() FROM people
"""  # noqa: S608 (the vocabulary is this file's own)

# Offering n: a topic, an approach and an audience picked by n with different strides, so the
# combinations spread; four of the twelve sentences; a creator picked by n; published n hours ago.
OFFERINGS_SQL = f"""
    INSERT INTO courses (creator_id, kind, title, slug, subtitle, description, description_html, price_cents,
                         currency, status, published_at, created_at, updated_at)
    SELECT (SELECT min(id) FROM creator_profiles) + n % :creators,
           (ARRAY['course', 'recorded_workshop', 'live_workshop'])[n % 3 + 1],
           topic || ': ' || approach || ' for ' || audience,
           'offering-' || n,
           'A practical ' || (ARRAY['course', 'workshop', 'training'])[n % 3 + 1] || ' in ' || approach
               || ' for clinicians working with ' || lower(audience),
           'This offering brings ' || approach || ' to work with ' || lower(topic) || ' among '
               || lower(audience) || '. ' || s1 || ' ' || s2 || ' ' || s3 || ' ' || s4,
           '<p>This offering brings ' || approach || ' to work with ' || lower(topic) || ' among '
               || lower(audience) || '.</p><p>' || s1 || ' ' || s2 || '</p><p>' || s3 || ' ' || s4 || '</p>',
           (n % 20) * 1000, 'USD', 'published',
           now() - n * interval '1 hour', now(), now()
    FROM (
        SELECT n,
               ({sql_array(TOPICS)})[n % {len(TOPICS)} + 1] AS topic,
               ({sql_array(APPROACHES)})[n / 7 % {len(APPROACHES)} + 1] AS approach,
               ({sql_array(AUDIENCES)})[n / 3 % {len(AUDIENCES)} + 1] AS audience,
               ({sql_array(SENTENCES)})[n % 12 + 1] AS s1,
               ({sql_array(SENTENCES)})[(n / 5 + 3) % 12 + 1] AS s2,
               ({sql_array(SENTENCES)})[(n / 11 + 6) % 12 + 1] AS s3,
               ({sql_array(SENTENCES)})[(n / 13 + 9) % 12 + 1] AS s4
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) n
    ) picked
"""  # noqa: S608


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000], help="offerings, ascending")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of every search at each scale")
    args = parser.parse_args()
    if args.scales != sorted(args.scales) or args.scales[0] < 1:
        parser.error("--scales must be positive and ascending")
    return args


def grow_to(offerings: int, have: int) -> None:
    """Adds offerings have+1 … offerings, and lets PostgreSQL tidy the index and statistics as autovacuum would."""
    db.session.execute(sa.text(OFFERINGS_SQL), {"first": have + 1, "last": offerings, "creators": CREATORS})
    db.session.commit()
    db.session.remove()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # every table: the plan joins creators too


def former_search(words: str) -> Pagination:
    """The catalog search this one replaced: every word `ILIKE '%word%'` in one of four fields, newest first."""
    query = (
        sa.select(Offering).join(Offering.creator).where(Offering.is_listed).options(contains_eager(Offering.creator))
    )
    for term in words.split()[:8]:
        pattern = like_pattern(term)
        fields = (Offering.title, Offering.subtitle, Offering.description, CreatorProfile.display_name)
        query = query.where(sa.or_(*(field.ilike(pattern, escape="\\") for field in fields)))
    query = query.order_by(Offering.published_at.desc(), Offering.id.desc())
    return db.paginate(query, page=1, per_page=PER_PAGE, error_out=False)


def full_text_search(words: str, sort: str | None = None) -> Pagination:
    """The catalog's search as the /courses page runs it (one query: the page with the number of matches)."""
    args = MultiDict({"q": words, **({"sort": sort} if sort else {})})
    return search_offerings(OfferingSearchForm(args, topics=[]), page=1)


def timed(search, rounds: int) -> tuple[list[float], dict[str, int]]:
    """Milliseconds of every run of every search (after one warm-up run each), and each search's total."""
    totals = {words: search(words).total for words in SEARCHES}
    times = []
    for _ in range(rounds):
        for words in SEARCHES:
            started = time.perf_counter()
            search(words)
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    return times, totals


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def explain(words: str) -> str:
    form = OfferingSearchForm(MultiDict({"q": words}), topics=[])
    statement = catalog_statement(form).add_columns(sa.func.count().over()).limit(PER_PAGE)  # as CountedPage runs it
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    return "\n".join(db.session.scalars(sa.text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")))


def main() -> int:
    from flask_migrate import upgrade

    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the cleanup below runs
    with ExitStack() as stack:
        database_url, database = throwaway_database(stack)
        if not database_url.startswith("postgresql"):
            print("This benchmark needs PostgreSQL (set BENCH_DATABASE_URL).", file=sys.stderr)
            return 2
        print(f"database: {database}")
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY})
        rows = []
        with app.app_context():
            upgrade()
            db.session.execute(sa.text(CREATORS_SQL), {"creators": CREATORS})
            db.session.commit()
            have = 0
            for scale in args.scales:
                started = time.perf_counter()
                grow_to(scale, have)
                have = scale
                seconds = time.perf_counter() - started
                print(f"{scale:,} offerings seeded (with their search vectors) in {seconds:.1f} s")
                former, former_totals = timed(former_search, args.rounds)
                best, totals = timed(full_text_search, args.rounds)
                newest, _ = timed(lambda words: full_text_search(words, "newest"), args.rounds)
                rows.append((scale, "ILIKE, newest first (before)", *percentiles(former)))
                rows.append((scale, "full text, best match first", *percentiles(best)))
                rows.append((scale, "full text, newest first", *percentiles(newest)))
                print("  matches per search (ILIKE / full text):")
                for words in SEARCHES:
                    print(f"    {words:<28} {former_totals[words]:>8,} {totals[words]:>8,}")
            plan = explain("grief")

        print()
        print(f"{'offerings':>10}  {'search (page of 12 and count)':<32} {'p50 ms':>8} {'p95 ms':>8} {'p50 ratio':>10}")
        for scale, label, p50, p95 in rows:
            before = next(r[2] for r in rows if r[0] == scale)
            print(f"{scale:>10,}  {label:<32} {p50:8.1f} {p95:8.1f} {before / p50:9.1f}x")
        print(f"\nplan of the page query for 'grief' at {args.scales[-1]:,} offerings:\n{plan}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
