"""SQL the dashboard needs beyond the domain repositories: joined, sorted, searchable lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, exists, func, or_, select
from sqlalchemy.orm import Session, undefer

from service.core.models import Environment, Inference, Project, RolloutSet, RolloutTag
from service.core.pagination import Keyset, newest_first, paginate

ORDERS = {
    order.name: order
    for order in (
        Keyset("newest", Inference.created_at, Inference.id),
        Keyset("oldest", Inference.created_at, Inference.id, descending=False),
        Keyset("epic_asc", Inference.epic, Inference.id, descending=False, parse=float),
        Keyset("epic_desc", Inference.epic, Inference.id, parse=float),
    )
}
SORTS = tuple(ORDERS)
ROLLOUTS_ORDER = newest_first(RolloutSet.created_at, RolloutSet.id)


@dataclass(frozen=True)
class InferenceFilters:
    """What the inferences list shows: filters, free text on names, and the sort order."""

    status: str | None = None
    verdict: str | None = None
    algorithm: str | None = None
    environment_id: str | None = None
    rollouts_id: str | None = None
    tag: tuple[str, str] | None = None
    q: str | None = None
    sort: str = "newest"


LIST_COLUMNS = (
    Inference.id,
    Inference.status,
    Inference.progress,
    Inference.algorithm,
    Inference.reward_model,
    Inference.seed,
    Inference.verdict,
    Inference.epic,
    Inference.created_at,
    Inference.cancel_requested,
    Inference.rollouts_id,
    Inference.environment_id,
    RolloutSet.name.label("rollouts_name"),
    RolloutSet.split.label("split"),
    RolloutSet.tags.label("tags"),
    Environment.name.label("environment_name"),
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_query(project_id: str, filters: InferenceFilters, cursor: str | None, limit: int) -> Any:
    """The list page's statement (also shown by the benchmark's query plan)."""
    query = (
        select(*LIST_COLUMNS)
        .join(RolloutSet, RolloutSet.id == Inference.rollouts_id)
        .join(Environment, Environment.id == Inference.environment_id)
        .where(Inference.project_id == project_id)
    )
    for name in ("status", "verdict", "algorithm", "environment_id", "rollouts_id"):
        value = getattr(filters, name)
        if value:
            query = query.where(getattr(Inference, name) == value)
    if filters.tag:
        query = query.where(
            exists().where(
                RolloutTag.rollouts_id == Inference.rollouts_id,
                RolloutTag.key == filters.tag[0],
                RolloutTag.value == filters.tag[1],
            )
        )
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        query = query.where(
            or_(
                func.lower(RolloutSet.name).like(pattern, escape="\\"),
                func.lower(Environment.name).like(pattern, escape="\\"),
                func.lower(Inference.id).like(pattern, escape="\\"),
            )
        )
    if filters.sort.startswith("epic"):
        query = query.where(Inference.epic.is_not(None))
    return paginate(query, ORDERS[filters.sort], cursor=cursor, limit=limit)


def list_inferences(
    session: Session, project_id: str, filters: InferenceFilters, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """One page (limit + 1 rows) of the project's inferences with rollouts and environment names."""
    return list(session.execute(list_query(project_id, filters, cursor, limit)))


def live_rows(session: Session, project_id: str, ids: Sequence[str]) -> list[Row[Any]]:
    """Status and progress of some of the project's inferences (the polling endpoint)."""
    if not ids:
        return []
    return list(
        session.execute(
            select(
                Inference.id,
                Inference.status,
                Inference.progress,
                Inference.verdict,
                Inference.epic,
                Inference.cancel_requested,
            ).where(Inference.project_id == project_id, Inference.id.in_(ids))
        )
    )


def environments(session: Session, project_id: str, limit: int = 200) -> list[Row[Any]]:
    """(id, name, kind) of the project's environments, newest first, for filter menus."""
    return list(
        session.execute(
            select(Environment.id, Environment.name, Environment.kind)
            .where(Environment.project_id == project_id)
            .order_by(Environment.created_at.desc())
            .limit(limit)
        )
    )


def inference_with_log(session: Session, project_id: str, inference_id: str) -> Inference | None:
    """The project's inference with its deferred curve and log loaded in the same query."""
    return session.scalars(
        select(Inference)
        .options(undefer(Inference.curve), undefer(Inference.log))
        .where(Inference.id == inference_id, Inference.project_id == project_id)
    ).first()


def rollouts_page(
    session: Session, project_id: str, cursor: str | None, limit: int
) -> list[Row[Any]]:
    """A page (limit + 1 rows) of the project's rollout sets with environment names."""
    query = (
        select(
            RolloutSet.id,
            RolloutSet.name,
            RolloutSet.split,
            RolloutSet.tags,
            RolloutSet.n_trajectories,
            RolloutSet.n_transitions,
            RolloutSet.created_at,
            RolloutSet.environment_id,
            Environment.name.label("environment_name"),
        )
        .join(Environment, Environment.id == RolloutSet.environment_id)
        .where(RolloutSet.project_id == project_id)
    )
    return list(session.execute(paginate(query, ROLLOUTS_ORDER, cursor=cursor, limit=limit)))


def inferences_of_rollouts(
    session: Session, project_id: str, rollouts_id: str, limit: int = 50
) -> list[Row[Any]]:
    """The newest inferences of one rollout set."""
    filters = InferenceFilters(rollouts_id=rollouts_id)
    return list_inferences(session, project_id, filters, None, limit)[:limit]


def project_name(session: Session, project_id: str) -> str | None:
    """The project's name, for the page header."""
    return session.scalar(select(Project.name).where(Project.id == project_id))
