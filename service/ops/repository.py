"""SQL for worker heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.core.models import WorkerHeartbeat, utcnow


def beat(session: Session, worker_id: str, *, hostname: str, pid: int, concurrency: int) -> None:
    """Record that the worker is alive now (one row per worker process)."""
    now = utcnow()
    updated = session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id).values(beat_at=now)
    )
    if not getattr(updated, "rowcount", 0):
        session.add(
            WorkerHeartbeat(
                id=worker_id, hostname=hostname, pid=pid, concurrency=concurrency, beat_at=now
            )
        )


def forget(session: Session, worker_id: str) -> None:
    """Remove a worker's row when it stops cleanly."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id))


def prune(session: Session, before: datetime) -> None:
    """Drop rows of workers silent since `before` (killed, or machines gone)."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < before))


def count_alive(session: Session, since: datetime) -> int:
    """Workers whose last heartbeat is at or after `since`."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkerHeartbeat)
            .where(WorkerHeartbeat.beat_at >= since)
        )
        or 0
    )
