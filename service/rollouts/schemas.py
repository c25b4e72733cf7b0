"""Request and response models for rollout sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from irl.io.trajectories import MAX_JSON_TRAJECTORIES
from service.core.documents import EnvironmentField, RewardDocument, TrajectoryDocument
from service.core.types import Name, Text
from service.environments.schemas import ENVIRONMENT_DESCRIPTION

TRAJECTORY_DESCRIPTION = (
    "`obs` (len(acts)+1 state indices, or vectors), `acts`, optional `rews` (len(acts)) and "
    "`terminal`. Minari names (`observations`, `actions`, `rewards`, `terminations`, "
    "`truncations`) are accepted as aliases. In a pooled set, `environment` (an index into "
    "`environments`) names each trajectory's environment."
)
MAX_POOLED_ENVIRONMENTS = 1000
"""Environments in one pooled rollout set."""
ENVIRONMENTS_DESCRIPTION = (
    'A pooled rollout set: several tabular environments (inline or `{"id": ...}`) with the '
    "same feature names, horizon, discount and action count, instead of `environment`. Each "
    "trajectory names its own by index; one inference explains them all (docs/formats.md)."
)


class RolloutsMetadata(BaseModel):
    """Everything about a rollout set but its trajectories."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    environment: EnvironmentField | None = Field(
        default=None, description=ENVIRONMENT_DESCRIPTION + " Required unless `environments`."
    )
    environments: list[EnvironmentField] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_POOLED_ENVIRONMENTS,
        description=ENVIRONMENTS_DESCRIPTION,
    )
    training_reward: RewardDocument | None = Field(
        default=None, description="The reward the agent was trained on (a reward spec)."
    )
    split: Annotated[Text, Field(max_length=50)] | None = Field(
        default=None, description="e.g. `train` or `test`."
    )
    tags: dict[Annotated[Text, Field(max_length=100)], Annotated[Text, Field(max_length=200)]] = (
        Field(default_factory=dict, max_length=50)
    )


class RolloutsCreate(RolloutsMetadata):
    """A set of trajectories of one agent in one environment."""

    trajectories: list[TrajectoryDocument] = Field(
        min_length=1, max_length=MAX_JSON_TRAJECTORIES, description=TRAJECTORY_DESCRIPTION
    )


class RolloutsPublic(BaseModel):
    """A stored rollout set (its arrays are not echoed back)."""

    id: str
    name: str
    environment_id: str
    split: str | None
    tags: dict[str, str]
    training_reward: dict[str, Any] | None
    n_trajectories: int
    n_transitions: int
    statistics: dict[str, Any]
    identifiability: dict[str, Any] | None
    created_at: datetime


class RolloutsList(BaseModel):
    """A page of rollout sets, newest first."""

    items: list[RolloutsPublic]
    next_cursor: str | None
