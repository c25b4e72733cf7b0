"""Request and response models for environments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

ENVIRONMENT_DESCRIPTION = (
    "A tabular MDP (`kind: tabular`, see API.md), a gymnasium id from the server's allow-list "
    '(`kind: gymnasium`), or a reference `{"id": "env_..."}` to a stored environment.'
)


class EnvironmentPublic(BaseModel):
    """A stored environment: its summary, and with `?include=spec` its full spec."""

    id: str
    name: str
    kind: str
    n_states: int | None = None
    n_actions: int | None = None
    horizon: int | None = None
    discount: float | None = None
    feature_names: list[str] | None = None
    has_reward: bool = False
    has_layout: bool = False
    created_at: datetime
    spec: dict[str, Any] | None = Field(default=None, description="The canonical spec.")


class EnvironmentList(BaseModel):
    """A page of environments, newest first."""

    items: list[EnvironmentPublic]
    next_cursor: str | None
