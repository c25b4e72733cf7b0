"""Pooled rollout sets: trajectories in several tabular environments, stored as one set in
their block-diagonal environment (irl.environments.pooled), with the members listed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from irl.environments import TabularMDP
from irl.environments.pooled import PooledMDP, pool, to_pooled_states
from irl.errors import InvalidInputError
from irl.io.environments import MAX_FEATURE_VALUES, MAX_GRID_SIDE, MAX_TRANSITIONS
from irl.trajectories import TrajectorySet
from service.core.models import Environment, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments

STATISTICS_KEY = "environments"
"""Where a pooled set's members are listed in its `statistics`."""


@dataclass(frozen=True, eq=False)
class PooledUpload:
    """A pooled upload resolved: the stored pooled environment, its MDP, the trajectories in
    pooled state indices, and the members as listed in the set's statistics."""

    row: Environment
    mdp: TabularMDP
    trajectories: TrajectorySet
    members: list[dict[str, Any]]


def resolve(
    session: Session,
    project_id: str,
    specs: Sequence[Mapping[str, Any]],
    trajectories: TrajectorySet,
    environment: np.ndarray,
    settings: Settings,
    *,
    loc: str,
) -> PooledUpload:
    """Resolve (and store inline) each member, pool them and store the pooled environment;
    InvalidInputError names the member or trajectory at fault."""
    mdps = []
    ids = []
    for k, spec in enumerate(specs):
        row, model = environments.resolve(
            session, project_id, spec, settings, loc=f"environments[{k}]"
        )
        if not isinstance(model, TabularMDP):
            raise InvalidInputError.at(
                f"environments[{k}]", "a pooled rollout set needs tabular environments"
            )
        mdps.append(model)
        ids.append(row.id)
    counts = np.bincount(environment, minlength=len(mdps))
    pooled = pool(mdps, counts, loc="environments")
    _check_size(pooled.mdp, settings)
    if pooled.mdp.layout is not None and pooled.mdp.layout.rows > MAX_GRID_SIDE:
        pooled = replace(pooled, mdp=replace(pooled.mdp, layout=None))  # too tall to draw
    shifted = to_pooled_states(trajectories, environment, pooled.offsets, loc=loc)
    members = [
        {
            "environment_id": env_id,
            "name": pooled.names[k],
            "n_states": pooled.block(k).n_states,
            "state_offset": int(pooled.offsets[k]),
            "n_trajectories": int(counts[k]),
        }
        for k, env_id in enumerate(ids)
    ]
    row = environments.create(session, project_id, pooled.mdp)
    return PooledUpload(row=row, mdp=pooled.mdp, trajectories=shifted, members=members)


def _check_size(mdp: TabularMDP, settings: Settings) -> None:
    """Refuse a pooled MDP that a stored environment could not hold (the limits each member
    was checked against, applied to their union)."""
    limits = [
        ("states", mdp.n_states, settings.max_states, "MESASCOPE_MAX_STATES"),
        ("transition rows", mdp.transitions.nnz, MAX_TRANSITIONS, "per environment"),
        ("feature values", mdp.features.size, MAX_FEATURE_VALUES, "per environment"),
    ]
    for what, value, limit, source in limits:
        if value > limit:
            raise InvalidInputError.at(
                "environments", f"{value} {what} in all, above the limit {limit} ({source})"
            )


def members_of(row: RolloutSet) -> list[dict[str, Any]] | None:
    """A pooled set's members as stored (None for a set of one environment)."""
    members = (row.statistics or {}).get(STATISTICS_KEY)
    return list(members) if members is not None else None


def load_pooled(
    session: Session, project_id: str, row: RolloutSet, settings: Settings
) -> PooledMDP | None:
    """The pooled MDP of a pooled rollout set, rebuilt from its stored members (None for a set
    of one environment)."""
    members = members_of(row)
    if members is None:
        return None
    mdps = []
    for member in members:
        env_row = environments.get_row(
            session, project_id, member["environment_id"], with_spec=True
        )
        model = environments.load(env_row, settings)
        assert isinstance(model, TabularMDP)
        mdps.append(model)
    return pool(mdps, [m["n_trajectories"] for m in members])
