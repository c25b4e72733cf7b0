"""SQL for inference jobs, including the lease protocol that makes workers safe to kill."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from service.core.models import (
    DivergenceReport,
    Inference,
    InferredReward,
    RolloutSet,
    RolloutTag,
    new_id,
    utcnow,
)
from service.core.pagination import newest_first, paginate


def add(session: Session, **fields: Any) -> Inference:
    """Store a queued job."""
    row = Inference(
        id=new_id("inf"),
        status="queued",
        progress=0.0,
        attempts=0,
        cancel_requested=False,
        enqueued_at=utcnow(),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, project_id: str, inference_id: str) -> Inference | None:
    """The project's inference with this id."""
    return session.scalars(
        select(Inference).where(Inference.id == inference_id, Inference.project_id == project_id)
    ).first()


def project_of(session: Session, inference_id: str) -> str:
    """The project an inference belongs to."""
    return session.get_one(Inference, inference_id).project_id


def get_any(session: Session, inference_id: str) -> Inference | None:
    """An inference by id, whatever its project (workers only)."""
    return session.get(Inference, inference_id)


def list_page(
    session: Session,
    project_id: str,
    *,
    filters: dict[str, Any],
    tag: tuple[str, str] | None,
    cursor: str | None,
    limit: int,
) -> list[Inference]:
    """A filtered page of the project's inferences (limit + 1 rows), newest first."""
    query = select(Inference).where(Inference.project_id == project_id)
    for column in ("status", "algorithm", "verdict", "environment_id", "rollouts_id"):
        if filters.get(column):
            query = query.where(getattr(Inference, column) == filters[column])
    if tag:
        query = query.join(RolloutTag, RolloutTag.rollouts_id == Inference.rollouts_id).where(
            RolloutTag.key == tag[0], RolloutTag.value == tag[1]
        )
    return list(
        session.scalars(
            paginate(
                query, newest_first(Inference.created_at, Inference.id), cursor=cursor, limit=limit
            )
        )
    )


def rewards_for(session: Session, inference_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Inferred reward specs by inference id."""
    if not inference_ids:
        return {}
    rows = session.execute(
        select(InferredReward.inference_id, InferredReward.spec).where(
            InferredReward.inference_id.in_(inference_ids)
        )
    )
    return {r.inference_id: dict(r.spec) for r in rows}


def rollouts_for(session: Session, inference: Inference) -> RolloutSet:
    """The rollout set an inference runs on."""
    return session.get_one(RolloutSet, inference.rollouts_id)


def report(session: Session, inference_id: str, against: str) -> DivergenceReport | None:
    """A stored divergence report."""
    return session.scalars(
        select(DivergenceReport).where(
            DivergenceReport.inference_id == inference_id, DivergenceReport.against == against
        )
    ).first()


def add_report(session: Session, inference_id: str, against: str, body: dict[str, Any]) -> None:
    """Store a divergence report."""
    session.add(
        DivergenceReport(id=new_id("div"), inference_id=inference_id, against=against, report=body)
    )
    session.flush()


def remove(session: Session, row: Inference) -> None:
    """Delete an inference with its reward and reports."""
    session.execute(delete(DivergenceReport).where(DivergenceReport.inference_id == row.id))
    session.execute(delete(InferredReward).where(InferredReward.inference_id == row.id))
    session.delete(row)
    session.flush()


def _update_one(session: Session, inference_id: str, *conditions: Any, **values: Any) -> bool:
    """Compare-and-set one job row: True when the row matched the conditions and was updated.

    Every state change of a job goes through this, so concurrent workers, reapers and API
    requests never overwrite each other's decisions.
    """
    result = session.execute(
        update(Inference).where(Inference.id == inference_id, *conditions).values(**values)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount) == 1


def cancel_queued(session: Session, inference_id: str) -> bool:
    """Cancel a job nobody has claimed; False if it is no longer queued."""
    return _update_one(
        session,
        inference_id,
        Inference.status == "queued",
        status="cancelled",
        cancel_requested=True,
        finished_at=utcnow(),
    )


def request_cancel(session: Session, inference_id: str) -> bool:
    """Flag a running job; its worker stops between iterations."""
    return _update_one(session, inference_id, Inference.status == "running", cancel_requested=True)


# --- lease protocol ----------------------------------------------------------------------


def claim(session: Session, inference_id: str, *, owner: str, token: str, lease: float) -> bool:
    """Atomically take a queued job; False if another worker has it or it is finished."""
    now = utcnow()
    return _update_one(
        session,
        inference_id,
        Inference.status == "queued",
        Inference.cancel_requested.is_(False),
        status="running",
        lease_owner=owner,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=lease),
        attempts=Inference.attempts + 1,
        started_at=now,
        progress=0.0,
    )


def renew(
    session: Session, inference_id: str, *, token: str, lease: float, progress: float
) -> tuple[bool, bool]:
    """Extend the lease and record progress; returns (still ours, cancel requested)."""
    held = _update_one(
        session,
        inference_id,
        Inference.lease_token == token,
        Inference.status == "running",
        lease_expires_at=utcnow() + timedelta(seconds=lease),
        progress=progress,
    )
    cancel = bool(
        session.scalar(select(Inference.cancel_requested).where(Inference.id == inference_id))
    )
    return held, cancel


def finish(session: Session, inference_id: str, *, token: str, status: str, **fields: Any) -> bool:
    """Write a final status if we still hold the lease; False means another worker owns it."""
    return _update_one(
        session,
        inference_id,
        Inference.lease_token == token,
        Inference.status == "running",
        status=status,
        finished_at=utcnow(),
        lease_token=None,
        lease_expires_at=None,
        **fields,
    )


def add_reward(
    session: Session,
    inference_id: str,
    *,
    kind: str,
    spec: dict[str, Any],
    artifact_id: str | None = None,
) -> None:
    """Store the inferred reward."""
    session.add(
        InferredReward(
            id=new_id("rew"),
            inference_id=inference_id,
            kind=kind,
            spec=spec,
            artifact_id=artifact_id,
        )
    )
    session.flush()


def expired_leases(session: Session, now: datetime) -> list[tuple[str, int, bool]]:
    """(id, attempts, cancel_requested) of running jobs whose lease has lapsed."""
    rows = session.execute(
        select(Inference.id, Inference.attempts, Inference.cancel_requested).where(
            Inference.status == "running", Inference.lease_expires_at < now
        )
    )
    return [(r.id, r.attempts, r.cancel_requested) for r in rows]


def release_expired(session: Session, inference_id: str, now: datetime, **values: Any) -> bool:
    """Move a job off an expired lease (back to the queue, or to a final status)."""
    return _update_one(
        session,
        inference_id,
        Inference.status == "running",
        Inference.lease_expires_at < now,
        lease_owner=None,
        lease_token=None,
        lease_expires_at=None,
        **values,
    )


def stale_queued(session: Session, before: datetime) -> list[str]:
    """Queued jobs whose queue message may have been lost (enqueued before `before`)."""
    return list(
        session.scalars(
            select(Inference.id).where(Inference.status == "queued", Inference.enqueued_at < before)
        )
    )


def mark_enqueued(session: Session, inference_id: str, before: datetime) -> bool:
    """Refresh `enqueued_at` of a stale queued job (only one reaper wins)."""
    return _update_one(
        session,
        inference_id,
        Inference.status == "queued",
        Inference.enqueued_at < before,
        enqueued_at=utcnow(),
    )
