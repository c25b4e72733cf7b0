"""`mesascope doctor`: check the configuration, database, schema, queue, workers and jobs, and
say in one screen what is wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import text

from service.core.db import alembic_config, engine_for, unit_of_work
from service.core.models import utcnow
from service.core.settings import Settings
from service.inferences import repository as inferences
from service.ops.heartbeat import workers_alive

Status = Literal["ok", "warning", "error"]
STALE_QUEUED = timedelta(minutes=5)
"""A job queued longer than this with live workers is worth a warning."""


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and what to do if it failed."""

    name: str
    status: Status
    detail: str
    hint: str = ""


def configuration(settings: Settings) -> Check:
    """Where data, jobs and the database live."""
    kind = "SQLite" if settings.is_sqlite else "PostgreSQL"
    queue = "Redis" if settings.queue_url.startswith(("redis://", "rediss://")) else "SQLite"
    where = f"{kind} database, {queue} queue, data in {settings.data_dir.resolve()}"
    if settings.is_sqlite and not settings.data_dir.exists():
        return Check(
            "configuration", "warning", f"{where} (not created yet)", "run `mesascope migrate`"
        )
    return Check("configuration", "ok", f"{settings.environment}: {where}")


def database(settings: Settings) -> Check:
    """The database answers."""
    try:
        with engine_for(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return Check(
            "database",
            "error",
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}",
            "check MESASCOPE_DATABASE_URL and that the database server is running",
        )
    return Check("database", "ok", _redacted(settings.database_url))


def schema(settings: Settings) -> Check:
    """The schema is at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    try:
        with engine_for(settings.database_url).connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        return Check("schema", "error", f"cannot read: {type(exc).__name__}", "see `database`")
    if current != head:
        return Check(
            "schema",
            "error",
            f"at {current or 'nothing'}, the code needs {head}",
            "run `mesascope migrate` (serve does it on start)",
        )
    return Check("schema", "ok", f"at {head}")


def queue(settings: Settings) -> Check:
    """The job queue answers."""
    from service.core.queue import make_huey

    try:
        pending = make_huey(settings).pending_count()
    except Exception as exc:
        return Check(
            "queue",
            "error",
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}",
            "check MESASCOPE_QUEUE_URL and that Redis is running (submitted jobs wait safely)",
        )
    return Check("queue", "ok", f"{_redacted(settings.queue_url)}, {pending} message(s) waiting")


def workers(settings: Settings) -> Check:
    """At least one job worker has a fresh heartbeat."""
    try:
        alive = workers_alive(settings)
    except Exception as exc:
        return Check("workers", "error", f"cannot read: {type(exc).__name__}", "see `schema`")
    if not alive:
        return Check(
            "workers",
            "error",
            f"no worker heartbeat in the last {settings.worker_stale_seconds:g} s",
            "start `mesascope serve` (it runs workers) or `mesascope worker`",
        )
    return Check("workers", "ok", f"{alive} alive")


def jobs(settings: Settings) -> Check:
    """No job is stuck: queued for long, or running on a lease nobody renews."""
    now = utcnow()
    try:
        with unit_of_work(settings) as uow:
            waiting = inferences.stale_queued(uow.session, now - STALE_QUEUED)
            lapsed = inferences.expired_leases(uow.session, now)
    except Exception as exc:
        return Check("jobs", "error", f"cannot read: {type(exc).__name__}", "see `schema`")
    problems = []
    if waiting:
        problems.append(f"{len(waiting)} queued for over {STALE_QUEUED.seconds // 60} min")
    if lapsed:
        problems.append(f"{len(lapsed)} running on an expired lease")
    if problems:
        return Check(
            "jobs",
            "warning",
            "; ".join(problems),
            "the reaper re-sends them while a worker or the API runs; see `workers`",
        )
    return Check("jobs", "ok", "none stuck")


CHECKS: tuple[Callable[[Settings], Check], ...] = (
    configuration,
    database,
    schema,
    queue,
    workers,
    jobs,
)


def diagnose(settings: Settings) -> list[Check]:
    """Every check, in order."""
    return [check(settings) for check in CHECKS]


def _redacted(url: str) -> str:
    """A URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url
