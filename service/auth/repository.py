"""SQL for projects and API keys."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.models import ApiKey, Project, new_id


def get_or_create_project(session: Session, name: str) -> Project:
    """The project with this name, created if missing."""
    project = session.scalars(select(Project).where(Project.name == name)).first()
    if project is None:
        project = Project(id=new_id("prj"), name=name)
        session.add(project)
        session.flush()
    return project


def add_key(
    session: Session, *, project_id: str, name: str, key_hash: str, is_admin: bool
) -> ApiKey:
    """Store a new key's hash."""
    key = ApiKey(
        id=new_id("key"), project_id=project_id, name=name, key_hash=key_hash, is_admin=is_admin
    )
    session.add(key)
    session.flush()
    return key


def find_active_key(session: Session, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, if any."""
    return session.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()


def count_keys(session: Session) -> int:
    """How many keys exist (the first `serve` creates an admin key when there are none)."""
    return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)
