"""Engine, sessions and schema migration."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from service.core import generations  # noqa: F401 (every session bumps cache generations)
from service.core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


WRITE_OPTION = "mesascope_write"
"""Execution option marking a connection whose transactions write (SQLite: `BEGIN IMMEDIATE`)."""


@dataclass(frozen=True)
class PoolConfig:
    """Connections per process, the wait for one, and SQLite's wait for its write lock."""

    size: int = 34
    timeout: float = 1.0
    sqlite_busy: float = 30.0

    @classmethod
    def of(cls, settings: Settings) -> PoolConfig:
        """The pool the settings ask for."""
        return cls(
            settings.pool_size, settings.db_pool_timeout_seconds, settings.sqlite_busy_seconds
        )


def _sqlite_pragmas(busy_seconds: float) -> Callable[[Any, Any], None]:
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        """WAL mode, a busy timeout and foreign keys for every SQLite connection."""
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return set_pragmas


class Saturated(Exception):
    """No database connection (or SQLite write slot) became free in time: answer 503."""


def _serialise_sqlite_writes(engine: Engine, busy_seconds: float) -> None:
    """One writer per process at a time, and writers start with `BEGIN IMMEDIATE`.

    SQLite allows one writer. A deferred transaction that reads and then writes fails at once
    with `database is locked` when another writer committed in between; `BEGIN IMMEDIATE` takes
    the write lock first (waiting up to the busy timeout for other processes), and the
    in-process slot queues this process's writers instead of letting them poll the file lock.
    The slot is a semaphore, not a lock: a request may begin and commit on different threads.
    """
    slot = threading.BoundedSemaphore(1)

    def begin(conn: Connection) -> None:
        if not conn.get_execution_options().get(WRITE_OPTION):
            return
        if not slot.acquire(timeout=busy_seconds):
            raise Saturated("timed out waiting for the SQLite write slot")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            slot.release()
            raise
        conn.info["holds_write_slot"] = True

    def end(conn: Connection) -> None:
        if conn.info.pop("holds_write_slot", False):
            slot.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def make_engine(database_url: str, pool: PoolConfig | None = None) -> Engine:
    """Create an engine whose pool holds `pool.size` connections and waits `pool.timeout` s.

    The pool matches the serving threads (settings.pool_size), so a thread never waits for a
    connection unless the process is saturated, and then only briefly: the API answers 503.
    SQLite gets WAL pragmas, its directory created, and serialised writers.
    """
    pool = pool or PoolConfig()
    sizes = {"pool_size": pool.size, "max_overflow": 0, "pool_timeout": pool.timeout}
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": pool.sqlite_busy},
            **sizes,
        )
        event.listen(engine, "connect", _sqlite_pragmas(pool.sqlite_busy))
        _serialise_sqlite_writes(engine, pool.sqlite_busy)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **sizes)


@functools.cache
def _engine(database_url: str, pid: int, pool: PoolConfig) -> Engine:
    """One engine per database URL, pool shape and process (pools must not cross a fork)."""
    return make_engine(database_url, pool)


def engine_for(database_url: str, pool: PoolConfig | None = None) -> Engine:
    """This process's engine for the URL."""
    return _engine(database_url, os.getpid(), pool or PoolConfig())


@functools.cache
def _session_factory(
    database_url: str, pid: int, pool: PoolConfig, write: bool
) -> sessionmaker[Session]:
    engine = _engine(database_url, pid, pool)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def session_factory(settings: Settings, *, write: bool = False) -> sessionmaker[Session]:
    """This process's session factory for the settings' database (write: serialised writer)."""
    return _session_factory(settings.database_url, os.getpid(), PoolConfig.of(settings), write)


@dataclass
class UnitOfWork:
    """A session plus callbacks to run only once its transaction has committed."""

    session: Session
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@contextmanager
def unit_of_work(settings: Settings, *, write: bool = False) -> Iterator[UnitOfWork]:
    """Commit on success, roll back on error, then run the after-commit callbacks.

    The session takes a connection at its first query, not here. `write=True` marks a unit that
    will write (an API POST): on SQLite it queues for the process's write slot and begins with
    `BEGIN IMMEDIATE`, so `database is locked` cannot happen mid-transaction.
    """
    session = session_factory(settings, write=write)()
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
