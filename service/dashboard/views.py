"""Pieces several pages draw: a rollout set's environment with its stored summary, and reward
heatmaps on the environment's grid. Nothing here decodes trajectory arrays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from markupsafe import Markup
from sqlalchemy.orm import Session

from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from irl.rewards import LinearReward, TabularReward, linear_state_values
from service.core.models import Environment, RolloutSet
from service.core.settings import Settings
from service.dashboard import charts
from service.environments import service as environments
from service.rollouts import service as rollouts
from service.rollouts.summary import RolloutSummary


def state_values(spec: Mapping[str, Any] | None, mdp: TabularMDP) -> np.ndarray | None:
    """(S,) reward per state of a stored linear or tabular reward spec (mean over a and s'),
    or None for other rewards and specs that do not fit the MDP."""
    if not spec:
        return None
    try:
        if spec.get("kind") == "linear":
            reward = LinearReward(spec.get("weights", {}), spec.get("bias", 0.0))
            return linear_state_values(reward, mdp.feature_names, mdp.features)
        if spec.get("kind") == "tabular":
            values = TabularReward(np.asarray(spec.get("values"))).values
            if values.shape[0] == mdp.n_states:
                return np.asarray(values.reshape(mdp.n_states, -1).mean(axis=1))
    except InvalidInputError:
        return None
    return None


@dataclass
class EnvView:
    """The environment of a rollout set: row, parsed MDP (tabular only), and the set's summary."""

    row: Environment
    mdp: TabularMDP | None
    summary: RolloutSummary

    @property
    def visits(self) -> np.ndarray | None:
        """(S,) state visit counts of the trajectories, if tabular."""
        if self.mdp is None or self.summary.visits is None:
            return None
        return np.asarray(self.summary.visits, dtype=np.int64)

    @property
    def paths(self) -> list[list[int]]:
        """The first few trajectories as state sequences."""
        return self.summary.paths if self.mdp is not None else []


def env_view(session: Session, project_id: str, ro: RolloutSet, settings: Settings) -> EnvView:
    """Load the rollout set's environment and stored summary."""
    row = environments.get_row(session, project_id, ro.environment_id, with_spec=True)
    model = environments.load(row, settings)
    mdp = model if isinstance(model, TabularMDP) else None
    return EnvView(row, mdp, rollouts.summary_of(session, project_id, ro, settings))


def heatmap_for(
    env: EnvView, spec: Mapping[str, Any] | None, title: str, *, overlay: bool = True
) -> Markup | None:
    """A reward heatmap on the environment's grid, or None without a layout or tabular reward."""
    if env.mdp is None or env.mdp.layout is None:
        return None
    values = state_values(spec, env.mdp)
    if values is None:
        return None
    layout = env.mdp.layout
    return charts.heatmap(
        values,
        layout.cells,
        layout.rows,
        layout.cols,
        title=title,
        unit="reward (reward units)",
        visits=env.visits if overlay else None,
        paths=env.paths if overlay else (),
    )


def visits_heatmap(env: EnvView) -> Markup | None:
    """How often the trajectories visit each cell, with sample trajectories on top."""
    if env.mdp is None or env.mdp.layout is None or env.visits is None:
        return None
    layout = env.mdp.layout
    return charts.heatmap(
        env.visits.astype(np.float64),
        layout.cells,
        layout.rows,
        layout.cols,
        title="State visits of the trajectories",
        unit="visits (count)",
        paths=env.paths,
    )
