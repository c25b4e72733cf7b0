"""Pieces several pages draw: a rollout set's environment with its stored summary, and reward
heatmaps on the environment's grid. Nothing here decodes trajectory arrays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


MARK_COLOURS = {"red": charts.OKABE_ITO[4], "blue": charts.OKABE_ITO[0]}
"""Outline colours of squares marked by a colour-named feature (Okabe–Ito vermillion, blue)."""


def grid_marks(mdp: TabularMDP) -> list[charts.Mark]:
    """What a person needs to read a grid: the start square and the few squares each indicator
    feature marks (a maze's door and coloured squares); one-hot state features mark nothing."""
    marks = []
    start = np.flatnonzero(mdp.initial_state_dist > 0)
    if 0 < len(start) <= 3:
        marks.append(charts.Mark("S", "start", "#fff", tuple(int(s) for s in start)))
    features = np.asarray(mdp.features)
    if features.shape[1] >= mdp.n_states:
        return marks
    limit = max(3, mdp.n_states // 10)
    used = {"S"}
    for j, name in enumerate(mdp.feature_names):
        column = features[:, j]
        on = np.flatnonzero(column == 1)
        indicator = bool(np.all((column == 0) | (column == 1)))
        if not indicator or not 0 < len(on) <= limit:
            continue
        letter = next(
            (name[:k].upper() for k in range(1, len(name) + 1) if name[:k].upper() not in used),
            name.upper(),
        )
        used.add(letter)
        colour = MARK_COLOURS.get(name, "#fff")
        marks.append(charts.Mark(letter, name, colour, tuple(int(s) for s in on)))
    return marks


def heatmap_for(
    env: EnvView,
    spec: Mapping[str, Any] | None,
    title: str,
    *,
    overlay: bool = True,
    scale: tuple[float, float] | None = None,
    normalise: bool = False,
) -> Markup | None:
    """A reward heatmap on the environment's grid, or None without a layout or tabular reward.

    `normalise` divides the values by their largest |value| and `scale` fixes the colour range,
    so that several heatmaps share one scale.
    """
    values = grid_values(env, spec, normalise=normalise)
    if env.mdp is None or env.mdp.layout is None or values is None:
        return None
    layout = env.mdp.layout
    return charts.heatmap(
        values,
        layout.cells,
        layout.rows,
        layout.cols,
        title=title,
        unit="reward ÷ largest |reward| (unitless)" if normalise else "reward (reward units)",
        visits=env.visits if overlay else None,
        paths=env.paths if overlay else (),
        marks=grid_marks(env.mdp),
        scale=scale,
    )


def grid_values(
    env: EnvView, spec: Mapping[str, Any] | None, *, normalise: bool = False
) -> np.ndarray | None:
    """(S,) values of a reward on a grid environment, or None without a layout or values."""
    if env.mdp is None or env.mdp.layout is None:
        return None
    values = state_values(spec, env.mdp)
    return normalised(values) if normalise else values


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
        marks=grid_marks(env.mdp),
    )


def value_range(arrays: Sequence[np.ndarray | None]) -> tuple[float, float] | None:
    """The smallest and largest value over several per-state arrays (one shared colour scale)."""
    present = [a for a in arrays if a is not None and a.size]
    if not present:
        return None
    return min(float(a.min()) for a in present), max(float(a.max()) for a in present)


def normalised(values: np.ndarray | None) -> np.ndarray | None:
    """Values divided by their largest |value| (rewards are defined up to positive scale)."""
    if values is None:
        return None
    peak = float(np.abs(values).max()) if values.size else 0.0
    return values / peak if peak > 0 else values
