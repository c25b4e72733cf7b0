"""End-to-end fixtures: PostgreSQL databases and a clean Redis database for real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.service.conftest import (
    drop_postgres_database,
    fresh_postgres_database,
    postgres_available,
    require_service,
)

REDIS_URL = "redis://127.0.0.1:6379/13"


def redis_available() -> bool:
    """Whether the machine's Redis answers."""
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    require_service(postgres_available(), "PostgreSQL at 127.0.0.1:5432")
    url = fresh_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A flushed Redis database for one test."""
    require_service(redis_available(), "Redis at 127.0.0.1:6379")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
