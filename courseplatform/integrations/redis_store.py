"""The Redis client (REDIS_URL): one connection pool per URL and process, with short timeouts."""

from __future__ import annotations

from functools import lru_cache

import redis

# A health check must answer well inside a load balancer's own timeout.
TIMEOUT_SECONDS = 2


class RedisUnavailable(RuntimeError):
    """Raised when Redis can't be reached or doesn't answer."""


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """A client for URL, shared by every request of this process."""
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)


def ping(url: str) -> None:
    """Raise RedisUnavailable unless the Redis at URL answers PING."""
    try:
        redis_client(url).ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise RedisUnavailable(str(exc) or type(exc).__name__) from exc
