"""SQL the dashboard needs beyond the domain repositories: joined, sorted, searchable lists."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, undefer

from irl.errors import Problem
from service.core.errors import UnprocessableError
from service.core.models import Environment, Inference, RolloutSet, RolloutTag

SORTS = ("newest", "oldest", "epic_asc", "epic_desc")


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


def encode_cursor(sort: str, row: Row[Any]) -> str:
    """An opaque cursor after `row` in `sort` order."""
    key = row.epic if sort.startswith("epic") else row.created_at.isoformat()
    raw = json.dumps([sort, key, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(sort: str, cursor: str) -> tuple[Any, str]:
    """The (sort key, id) a cursor points after; 422 for a cursor of another sort or garbage."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, key, row_id = json.loads(raw)
        if cursor_sort != sort:
            raise ValueError(sort)
        value = float(key) if sort.startswith("epic") else datetime.fromisoformat(key)
        return value, str(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise UnprocessableError(
            "invalid cursor", errors=[Problem("cursor", "not a cursor of this list and sort")]
        ) from exc


def _ordered(query: Select[Any], sort: str, cursor: str | None, limit: int) -> Select[Any]:
    """Keyset pagination on (created_at, id) or (epic, id), either direction."""
    column: Any = Inference.epic if sort.startswith("epic") else Inference.created_at
    descending = sort in ("newest", "epic_desc")
    if sort.startswith("epic"):
        query = query.where(Inference.epic.is_not(None))
    if cursor:
        key, row_id = _decode_cursor(sort, cursor)
        if descending:
            after = or_(column < key, and_(column == key, Inference.id < row_id))
        else:
            after = or_(column > key, and_(column == key, Inference.id > row_id))
        query = query.where(after)
    order = (column.desc(), Inference.id.desc()) if descending else (column, Inference.id)
    return query.order_by(*order).limit(limit + 1)


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
    return _ordered(query, filters.sort, cursor, limit)


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
    session: Session, project_id: str, cursor: tuple[datetime, str] | None, limit: int
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
    if cursor:
        created, row_id = cursor
        query = query.where(
            or_(
                RolloutSet.created_at < created,
                and_(RolloutSet.created_at == created, RolloutSet.id < row_id),
            )
        )
    order = (RolloutSet.created_at.desc(), RolloutSet.id.desc())
    return list(session.execute(query.order_by(*order).limit(limit + 1)))


def inferences_of_rollouts(
    session: Session, project_id: str, rollouts_id: str, limit: int = 50
) -> list[Row[Any]]:
    """The newest inferences of one rollout set."""
    filters = InferenceFilters(rollouts_id=rollouts_id)
    return list_inferences(session, project_id, filters, None, limit)[:limit]
