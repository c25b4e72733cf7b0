"""SQL for rollout sets and their tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.core.models import (
    Inference,
    RolloutChunk,
    RolloutSet,
    RolloutTag,
    new_id,
    utcnow,
)
from service.core.pagination import newest_first, paginate


def add(session: Session, *, tags: dict[str, str], **fields: Any) -> RolloutSet:
    """Store a rollout set row and its tags."""
    row = RolloutSet(id=new_id("ro"), tags=tags, **fields)
    session.add(row)
    session.add_all(RolloutTag(rollouts_id=row.id, key=k, value=v) for k, v in tags.items())
    session.flush()
    return row


def claim_chunk_position(session: Session, rollouts_id: str) -> int | None:
    """The next chunk number of an unsealed set, taken by incrementing its count; None when the
    set is sealed. The UPDATE row-locks the set until commit, so concurrent appends (and a
    concurrent seal) wait for each other and get consecutive numbers."""
    count = session.execute(
        update(RolloutSet)
        .where(RolloutSet.id == rollouts_id, RolloutSet.sealed_at.is_(None))
        .values(n_chunks=RolloutSet.n_chunks + 1)
        .returning(RolloutSet.n_chunks)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return None if count is None else int(count) - 1


def seal(session: Session, row: RolloutSet) -> int:
    """Seal the set against appends (waiting for appends in flight, which hold its row lock)
    and return how many chunks it holds from now on."""
    session.execute(
        update(RolloutSet)
        .where(RolloutSet.id == row.id, RolloutSet.sealed_at.is_(None))
        .values(sealed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return row.n_chunks


def add_chunk(
    session: Session,
    rollouts_id: str,
    *,
    position: int,
    artifact_id: str,
    n_trajectories: int,
    n_transitions: int,
) -> RolloutChunk:
    """Store chunk number `position` of a rollout set (see `claim_chunk_position`)."""
    chunk = RolloutChunk(
        rollouts_id=rollouts_id,
        position=position,
        artifact_id=artifact_id,
        n_trajectories=n_trajectories,
        n_transitions=n_transitions,
    )
    session.add(chunk)
    session.flush()
    return chunk


def chunk_artifacts(session: Session, rollouts_id: str) -> list[str]:
    """Artifact ids of a rollout set's chunks, in upload order."""
    return list(
        session.scalars(
            select(RolloutChunk.artifact_id)
            .where(RolloutChunk.rollouts_id == rollouts_id)
            .order_by(RolloutChunk.position)
        )
    )


def get(session: Session, project_id: str, rollouts_id: str) -> RolloutSet | None:
    """The project's rollout set with this id."""
    return session.scalars(
        select(RolloutSet).where(RolloutSet.id == rollouts_id, RolloutSet.project_id == project_id)
    ).first()


def list_page(
    session: Session,
    project_id: str,
    *,
    environment_id: str | None,
    split: str | None,
    tag: tuple[str, str] | None,
    cursor: str | None,
    limit: int,
) -> list[RolloutSet]:
    """A filtered page of the project's rollout sets (limit + 1 rows)."""
    query = select(RolloutSet).where(RolloutSet.project_id == project_id)
    if environment_id:
        query = query.where(RolloutSet.environment_id == environment_id)
    if split:
        query = query.where(RolloutSet.split == split)
    if tag:
        query = query.join(RolloutTag, RolloutTag.rollouts_id == RolloutSet.id).where(
            RolloutTag.key == tag[0], RolloutTag.value == tag[1]
        )
    return list(
        session.scalars(
            paginate(
                query,
                newest_first(RolloutSet.created_at, RolloutSet.id),
                cursor=cursor,
                limit=limit,
            )
        )
    )


def set_summary(session: Session, row: RolloutSet, summary: dict[str, Any]) -> None:
    """Store the summary of a rollout set's arrays."""
    row.summary = summary
    session.flush()


def count_inferences(session: Session, rollouts_id: str) -> int:
    """How many inferences use this rollout set."""
    return int(
        session.scalar(
            select(func.count()).select_from(Inference).where(Inference.rollouts_id == rollouts_id)
        )
        or 0
    )


def remove(session: Session, row: RolloutSet) -> None:
    """Delete a rollout set with its tags and chunk rows (not the chunks' artifacts)."""
    session.execute(delete(RolloutTag).where(RolloutTag.rollouts_id == row.id))
    session.execute(delete(RolloutChunk).where(RolloutChunk.rollouts_id == row.id))
    session.delete(row)
    session.flush()
