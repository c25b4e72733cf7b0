"""SQL for environments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from service.core.models import Environment, new_id
from service.core.pagination import newest_first, paginate


def add(
    session: Session,
    *,
    project_id: str,
    name: str,
    kind: str,
    spec: dict[str, Any],
    summary: dict[str, Any],
) -> Environment:
    """Store a validated, canonical environment spec."""
    env = Environment(
        id=new_id("env"), project_id=project_id, name=name, kind=kind, spec=spec, summary=summary
    )
    session.add(env)
    session.flush()
    return env


def get(
    session: Session, project_id: str, env_id: str, *, with_spec: bool = False
) -> Environment | None:
    """The project's environment with this id."""
    query = select(Environment).where(
        Environment.id == env_id, Environment.project_id == project_id
    )
    if with_spec:
        query = query.options(undefer(Environment.spec))
    return session.scalars(query).first()


def list_page(
    session: Session, project_id: str, *, cursor: str | None, limit: int
) -> list[Environment]:
    """A page of the project's environments, newest first (limit + 1 rows)."""
    query = paginate(
        select(Environment).where(Environment.project_id == project_id),
        newest_first(Environment.created_at, Environment.id),
        cursor=cursor,
        limit=limit,
    )
    return list(session.scalars(query))
