"""Pooled environments: several tabular MDPs with the same features as the blocks of one MDP.

One linear reward fitted to trajectories from many environments (50 test mazes of one
distribution) is one MCE IRL fit on their disconnected union: states are offset per environment,
features stacked, and the initial distribution is each environment's own, weighted by its share
of the trajectories. With those weights the pooled fit maximises the likelihood of all
trajectories, each in its own environment (docs/formats.md derives it); one environment pools to
itself.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse

from irl.arrays import read_only
from irl.environments.tabular import Layout, TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.rewards import LinearReward
from irl.trajectories import TrajectorySet
from irl.uncertainty import select


@dataclass(frozen=True, eq=False)
class PooledMDP:
    """The block-diagonal MDP of several environments and where each block starts."""

    mdp: TabularMDP
    offsets: np.ndarray
    """(K + 1,) int64: environment k owns pooled states offsets[k] .. offsets[k + 1] - 1."""
    members: tuple[TabularMDP, ...]
    """Each environment on its own (features in the pooled order)."""

    @property
    def n_environments(self) -> int:
        """Number of pooled environments K."""
        return len(self.members)

    @property
    def names(self) -> tuple[str, ...]:
        """Each environment's name."""
        return tuple(member.name for member in self.members)

    def block(self, k: int) -> TabularMDP:
        """Environment k as its own MDP (its own initial distribution, pooled feature order)."""
        return self.members[k]

    def environment_of(self, trajectories: TrajectorySet) -> np.ndarray:
        """(n_traj,) int64: the environment of each trajectory (the block of its first state)."""
        first = trajectories.obs[trajectories.obs_starts]
        return np.searchsorted(self.offsets, first, side="right") - 1


def pool(
    mdps: Sequence[TabularMDP],
    counts: Sequence[int] | np.ndarray,
    *,
    name: str | None = None,
    loc: str = "environments",
) -> PooledMDP:
    """The block-diagonal MDP of `mdps`; `counts[k]` trajectories come from environment k.

    Horizon, discount, action count and feature names (in any order) must agree: otherwise an
    InvalidInputError locates the first environment that differs (`environments[3].discount`).
    """
    weights = _weights(counts, len(mdps), loc)
    first = mdps[0]
    problems = [p for k, mdp in enumerate(mdps[1:], 1) for p in _mismatches(first, mdp, k, loc)]
    if problems:
        raise InvalidInputError(problems)
    sizes = np.array([mdp.n_states for mdp in mdps], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    transitions = scipy.sparse.block_diag([mdp.transitions for mdp in mdps], format="csr")
    initial = np.concatenate(
        [w * mdp.initial_state_dist for w, mdp in zip(weights, mdps, strict=True)]
    )
    features = np.concatenate([_columns(mdp, first.feature_names) for mdp in mdps])
    names = tuple(mdp.name for mdp in mdps)
    members = tuple(
        replace(mdp, feature_names=first.feature_names, features=read_only(columns))
        for mdp, columns in zip(mdps, np.split(features, offsets[1:-1]), strict=True)
    )
    pooled = TabularMDP(
        name=name or _pooled_name(names),
        n_states=int(offsets[-1]),
        n_actions=first.n_actions,
        transitions=scipy.sparse.csr_array(transitions),
        initial_state_dist=read_only(initial),
        horizon=first.horizon,
        discount=first.discount,
        feature_names=first.feature_names,
        features=read_only(features),
        reward=_shared_reward(mdps),
        layout=_stacked_layout(mdps),
    )
    return PooledMDP(mdp=pooled, offsets=read_only(offsets), members=members)


def to_pooled_states(
    trajectories: TrajectorySet,
    environment: np.ndarray,
    offsets: np.ndarray,
    *,
    loc: str = "trajectories",
) -> TrajectorySet:
    """The trajectories with each one's states (indices in its own environment) offset into
    the pooled MDP; `environment` is (n_traj,) int64, the environment of each trajectory.

    A state index outside its own environment is refused (it would land in another block).
    """
    if trajectories.obs.ndim != 1:
        raise InvalidInputError.at(loc, "pooled environments are tabular: obs must be indices")
    per_obs = np.repeat(environment, trajectories.lengths + 1)
    sizes = np.diff(offsets)
    bad = (trajectories.obs < 0) | (trajectories.obs >= sizes[per_obs])
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(trajectories.obs_starts, index, side="right")) - 1
        k = int(environment[i])
        raise InvalidInputError.at(
            f"{loc}[{i}].obs[{index - int(trajectories.obs_starts[i])}]",
            f"state index {trajectories.obs[index]} out of range [0, {sizes[k]}) of its "
            f"environment {k}",
        )
    return TrajectorySet(
        obs=trajectories.obs + offsets[per_obs],
        acts=trajectories.acts,
        rews=trajectories.rews,
        terminal=trajectories.terminal,
        lengths=trajectories.lengths,
    )


def split_trajectories(
    pooled: PooledMDP, trajectories: TrajectorySet
) -> list[TrajectorySet | None]:
    """Each environment's trajectories in its own state indices (None: it has none)."""
    environment = pooled.environment_of(trajectories)
    parts: list[TrajectorySet | None] = []
    for k in range(pooled.n_environments):
        indices = np.flatnonzero(environment == k)
        if not len(indices):
            parts.append(None)
            continue
        own = select(trajectories, indices)
        parts.append(
            TrajectorySet(
                obs=own.obs - pooled.offsets[k],
                acts=own.acts,
                rews=own.rews,
                terminal=own.terminal,
                lengths=own.lengths,
            )
        )
    return parts


def _pooled_name(names: tuple[str, ...]) -> str:
    """E.g. "pooled: maze-test-5x5-seed100 + 49 more" (at most 200 characters)."""
    more = f" + {len(names) - 1} more" if len(names) > 1 else ""
    return f"pooled: {names[0][: 200 - len('pooled: ') - len(more)]}{more}"


def _weights(counts: Sequence[int] | np.ndarray, n_environments: int, loc: str) -> np.ndarray:
    """(K,) float64 trajectory shares of the environments."""
    array = np.asarray(counts, dtype=np.float64)
    if n_environments < 1:
        raise InvalidInputError.at(loc, "at least one environment is required")
    if array.shape != (n_environments,) or (array < 0).any() or array.sum() <= 0:
        raise InvalidInputError.at(
            loc, "every environment needs a trajectory count >= 0, not all 0"
        )
    return array / array.sum()


def _mismatches(first: TabularMDP, mdp: TabularMDP, k: int, loc: str) -> list[Problem]:
    """How environment k differs from environment 0 where pooled environments must agree."""
    checks = [
        ("n_actions", mdp.n_actions == first.n_actions, f"{mdp.n_actions} vs {first.n_actions}"),
        ("horizon", mdp.horizon == first.horizon, f"{mdp.horizon} vs {first.horizon}"),
        ("discount", mdp.discount == first.discount, f"{mdp.discount} vs {first.discount}"),
        (
            "features.names",
            sorted(mdp.feature_names) == sorted(first.feature_names),
            f"{list(mdp.feature_names)} vs {list(first.feature_names)}",
        ),
    ]
    return [
        Problem(f"{loc}[{k}].{field}", f"must equal {loc}[0]'s: {detail}")
        for field, ok, detail in checks
        if not ok
    ]


def _columns(mdp: TabularMDP, names: tuple[str, ...]) -> np.ndarray:
    """(S, F) features of `mdp` in the order of `names`."""
    index = {name: i for i, name in enumerate(mdp.feature_names)}
    return mdp.features[:, [index[name] for name in names]]


def _shared_reward(mdps: Sequence[TabularMDP]) -> LinearReward | None:
    """The environments' own reward when all have the same linear one (else none)."""
    first = mdps[0].reward
    if not isinstance(first, LinearReward):
        return None
    same = all(
        isinstance(m.reward, LinearReward)
        and dict(m.reward.weights) == dict(first.weights)
        and m.reward.bias == first.bias
        for m in mdps
    )
    return first if same else None


def _stacked_layout(mdps: Sequence[TabularMDP]) -> Layout | None:
    """The environments' grids one below the other, a blank row apart (all need a layout)."""
    layouts = [m.layout for m in mdps]
    if any(layout is None for layout in layouts):
        return None
    cells, row = [], 0
    for layout in layouts:
        assert layout is not None
        cells.append(layout.cells + np.array([row, 0], dtype=np.int64))
        row += layout.rows + 1
    return Layout(
        rows=row - 1,
        cols=max(layout.cols for layout in layouts if layout is not None),
        cells=read_only(np.concatenate(cells)),
    )
