"""SQL for projects, API keys and dashboard sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.core.models import ApiKey, DashboardSession, Project, new_id


def get_or_create_project(session: Session, name: str) -> Project:
    """The project with this name, created if missing."""
    project = session.scalars(select(Project).where(Project.name == name)).first()
    if project is None:
        project = Project(id=new_id("prj"), name=name)
        session.add(project)
        session.flush()
    return project


def add_key(
    session: Session,
    *,
    project_id: str,
    name: str,
    key_hash: str,
    is_admin: bool,
    expires_at: datetime | None = None,
) -> ApiKey:
    """Store a new key's hash."""
    key = ApiKey(
        id=new_id("key"),
        project_id=project_id,
        name=name,
        key_hash=key_hash,
        is_admin=is_admin,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key


def _usable(now: datetime) -> ColumnElement[bool]:
    """Keys that are neither revoked nor expired at `now`."""
    return ApiKey.revoked_at.is_(None) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)


def find_active_key(session: Session, key_hash: str, now: datetime) -> ApiKey | None:
    """The unrevoked, unexpired key with this hash, if any."""
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash, _usable(now))).first()


def active_key(session: Session, key_id: str, now: datetime) -> ApiKey | None:
    """The unrevoked, unexpired key with this id, if any."""
    return session.scalars(select(ApiKey).where(ApiKey.id == key_id, _usable(now))).first()


def count_keys(session: Session) -> int:
    """How many keys exist (the first `serve` creates an admin key when there are none)."""
    return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)


def list_keys(session: Session, project_id: str | None) -> list[tuple[ApiKey, str]]:
    """Keys with their project's name, oldest first; every project's when `project_id` is None."""
    query = select(ApiKey, Project.name).join(Project, Project.id == ApiKey.project_id)
    if project_id is not None:
        query = query.where(ApiKey.project_id == project_id)
    rows = session.execute(query.order_by(ApiKey.created_at, ApiKey.id))
    return [(key, name) for key, name in rows]


def revoke_key(session: Session, key_id: str, project_id: str | None, now: datetime) -> bool:
    """Mark a key revoked (in `project_id` when given) and end its sessions; False if unknown."""
    query = select(ApiKey).where(ApiKey.id == key_id)
    if project_id is not None:
        query = query.where(ApiKey.project_id == project_id)
    key = session.scalars(query).first()
    if key is None:
        return False
    if key.revoked_at is None:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=now))
    session.execute(delete(DashboardSession).where(DashboardSession.key_id == key_id))
    return True


def add_session(session: Session, *, session_id: str, key_id: str, expires_at: datetime) -> None:
    """Record a dashboard login."""
    session.add(DashboardSession(id=session_id, key_id=key_id, expires_at=expires_at))
    session.flush()


def session_key(session: Session, session_id: str, now: datetime) -> ApiKey | None:
    """The usable key of a live dashboard session, if the session still exists."""
    query = (
        select(ApiKey)
        .join(DashboardSession, DashboardSession.key_id == ApiKey.id)
        .where(DashboardSession.id == session_id, DashboardSession.expires_at > now, _usable(now))
    )
    return session.scalars(query).first()


def delete_session(session: Session, session_id: str) -> None:
    """End one dashboard session (logout)."""
    session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))
