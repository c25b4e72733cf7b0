"""Response models for API keys (a key's secret is shown once, at creation, and never again)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class KeyPublic(BaseModel):
    """An API key's metadata: never its secret or hash."""

    id: str
    name: str
    project: str
    is_admin: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyList(BaseModel):
    """The keys of the caller's project, oldest first."""

    items: list[KeyPublic]
