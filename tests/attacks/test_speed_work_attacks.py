"""Attacks on this week's speed work (the shared page cache, the running totals) that found a defect,
each kept as its test.

The page cache runs in the local Redis as in production; the totals are compared with a recount
of the rows they follow, after the change a piece of code could make.
"""

from __future__ import annotations

import uuid

import pytest
import redis

from courseplatform.extensions import db
from courseplatform.models.base import utcnow

from ..catalog.test_page_cache import REDIS_URL
from ..factories import OfferingFactory, UserFactory
from ..test_running_totals import kept_totals, recounted_totals


@pytest.fixture
def redis_pages(app, monkeypatch):
    """The page cache in the local Redis under a prefix of this test's own, at most 64 KB."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at " + REDIS_URL)
    monkeypatch.setitem(app.config, "PAGE_CACHE", "redis")
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "PAGE_CACHE_PREFIX", prefix)
    monkeypatch.setitem(app.config, "PAGE_CACHE_MAX_BYTES", 64 * 1024)
    yield client
    # Only this test's keys: the app's clear() also reaches stores other tests pointed nowhere.
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


# ---------------------------------------------------------------------------
# Page cache: a visitor without an account decides which addresses are stored


def stored_bytes(redis, prefix: str) -> int:
    return sum(len(redis.get(key) or b"") for key in redis.scan_iter(match=f"{prefix}:pages:*"))


def test_query_strings_nobody_links_to_cannot_fill_the_redis_the_job_queue_lives_in(app, redis_pages):
    # The Redis of a deployment is shared with the job queue and runs `noeviction`: when it is
    # full, jobs can no longer be queued. A stranger asking for /courses/grounding?x=1, ?x=2, …
    # gets each answer rendered and stored for PAGE_CACHE_SECONDS.
    OfferingFactory(slug="grounding", title="Grounding Skills")
    db.session.commit()
    visitor = app.test_client()
    page_size = len(visitor.get("/courses/grounding").get_data())

    for n in range(3 * 64 * 1024 // page_size):
        assert visitor.get(f"/courses/grounding?x={n}").status_code == 200

    assert stored_bytes(redis_pages, app.config["PAGE_CACHE_PREFIX"]) <= 64 * 1024


# ---------------------------------------------------------------------------
# Running totals: an account let back in without its suspension read first


def test_letting_an_account_back_in_without_reading_it_first_moves_the_suspended_count(app):
    user = UserFactory(suspended_at=utcnow())
    db.session.commit()
    db.session.expire_all()  # as after any commit: the next write doesn't read the old value

    user.suspended_at = None
    db.session.commit()

    assert kept_totals()["platform_stats"] == recounted_totals()["platform_stats"]
