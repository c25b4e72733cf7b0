"""Engine, sessions and schema migration."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from service.core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL mode, a generous busy timeout and foreign keys for every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """Create an engine; SQLite gets WAL pragmas and its directory created."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@functools.cache
def _engine(database_url: str, pid: int) -> Engine:
    """One engine per database URL and process (pools must not cross a fork)."""
    return make_engine(database_url)


def engine_for(database_url: str) -> Engine:
    """This process's engine for the URL."""
    return _engine(database_url, os.getpid())


@functools.cache
def _session_factory(database_url: str, pid: int) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine(database_url, pid), expire_on_commit=False)


def session_factory(database_url: str) -> sessionmaker[Session]:
    """This process's session factory for the URL."""
    return _session_factory(database_url, os.getpid())


@dataclass
class UnitOfWork:
    """A session plus callbacks to run only once its transaction has committed."""

    session: Session
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[UnitOfWork]:
    """Commit on success, roll back on error, then run the after-commit callbacks."""
    session = session_factory(settings.database_url)()
    uow = UnitOfWork(session)
    try:
        yield uow
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    for callback in uow.after_commit:
        callback()


def alembic_config(database_url: str) -> Any:
    """An Alembic config pointing at the project's migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


MIGRATION_LOCK_ID = 0x6D657361
"""The PostgreSQL advisory lock key every mesascope process takes around `alembic upgrade`."""


@contextmanager
def migration_lock(database_url: str) -> Iterator[None]:
    """Hold the database-wide migration lock: a session advisory lock on PostgreSQL, an
    exclusive lock on a file beside the database on SQLite. Every caller waits its turn,
    so processes started together on a fresh database never race on `alembic_version`."""
    if database_url.startswith("sqlite"):
        with _file_lock(database_url):
            yield
        return
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID})
                conn.commit()
    finally:
        engine.dispose()


@contextmanager
def _file_lock(database_url: str) -> Iterator[None]:
    """An exclusive `flock` on `<database>.migrate.lock` (in-memory databases need none)."""
    import fcntl

    path = database_url.split("///", 1)[-1]
    if not path or path == ":memory:":
        yield
        return
    lock_path = Path(path + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(database_url: str) -> None:
    """Bring the schema up to date (`alembic upgrade head`) under the migration lock."""
    from alembic import command

    if database_url.startswith("sqlite"):
        make_engine(database_url).dispose()  # creates the directory
    with migration_lock(database_url):
        command.upgrade(alembic_config(database_url), "head")
