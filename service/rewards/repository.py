"""SQL for inferred rewards as other rewards refer to them (`{"kind": "inference", "id": ...}`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.models import Inference, InferredReward


def reward_artifact(session: Session, inference_id: str) -> str | None:
    """The artifact holding an inferred reward's weights, if it has one."""
    return session.scalar(
        select(InferredReward.artifact_id).where(InferredReward.inference_id == inference_id)
    )


def status_and_reward_spec(
    session: Session, project_id: str, inference_id: str
) -> tuple[str, dict[str, Any] | None] | None:
    """(status, stored reward spec or None) of the project's inference; None if it is unknown."""
    row = session.execute(
        select(Inference.status, InferredReward.spec)
        .join(InferredReward, InferredReward.inference_id == Inference.id, isouter=True)
        .where(Inference.id == inference_id, Inference.project_id == project_id)
    ).first()
    return None if row is None else (row.status, row.spec)
