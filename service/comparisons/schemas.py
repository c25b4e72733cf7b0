"""Request and response models for reward comparisons."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from service.core.documents import EnvironmentField, RewardDocument
from service.core.types import ResourceId, distance_fields
from service.environments.schemas import ENVIRONMENT_DESCRIPTION


class RolloutsCoverage(BaseModel):
    """Weight transitions by how often a rollout set visited them."""

    model_config = ConfigDict(extra="forbid")
    rollouts_id: ResourceId


class ComparisonCreate(BaseModel):
    """Two reward specs to compare in one environment (in a gymnasium environment:
    `environment` or network `inference` rewards)."""

    model_config = ConfigDict(extra="forbid")

    environment: EnvironmentField = Field(description=ENVIRONMENT_DESCRIPTION)
    a: RewardDocument = Field(description="A reward spec.")
    b: RewardDocument = Field(description="A reward spec.")
    discount: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Defaults to the environment's discount (0.95, the deep IRL default, for "
        "gymnasium environments).",
    )
    coverage: Literal["uniform", "transitions"] | RolloutsCoverage = Field(
        default="uniform",
        description="`uniform` over S×A×S, `transitions` (uniform (s, a), then s' ~ T), or "
        '`{"rollouts_id": ...}` (the visited transitions). Gymnasium environments need '
        "rollouts: their distances are sampled (EPIC; DARD where the dynamics are known).",
    )


class ComparisonBase(BaseModel):
    """What every comparison reports besides the distances."""

    discount: float
    coverage: str


ComparisonPublic = create_model(
    "ComparisonPublic",
    __base__=ComparisonBase,
    __doc__="Distances in [0, 1] (docs/metrics.md) between `a` and `b`; a metric that does "
    "not apply is null. Regret is that of optimising `b` when `a` is the true reward.",
    **distance_fields(required=True),
)
"""One field per registered distance (irl.divergence.DISTANCES), plus discount and coverage."""
