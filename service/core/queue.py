"""The Huey queue: SQLite storage by default, Redis when MESASCOPE_QUEUE_URL says so."""

from __future__ import annotations

from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from redis import ConnectionPool

from service.core.settings import Settings, get_settings


def make_huey(settings: Settings) -> Huey:
    """A Huey instance for the configured queue URL (results are kept in the database)."""
    url = settings.queue_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("mesascope", filename=str(path), results=False, timeout=30)
    # Fail fast when Redis is down (a submit then answers 202 and the reaper re-sends);
    # the read timeout stays above Huey's 1 s blocking pop.
    pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    return RedisHuey("mesascope", connection_pool=pool, results=False)


huey = make_huey(get_settings())
