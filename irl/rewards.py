"""Reward representations (the API's reward specs as values) and their dense (S, A, S) arrays."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from irl.arrays import read_only
from irl.errors import InvalidInputError
from irl.trajectories import TrajectorySet


class FeaturedMDP(Protocol):
    """What a reward needs of an environment: its sizes and state features."""

    @property
    def n_states(self) -> int:
        """Number of states S."""

    @property
    def n_actions(self) -> int:
        """Number of actions A."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the F state features."""

    @property
    def features(self) -> np.ndarray:
        """(S, F) float64 state features."""


@dataclass(frozen=True, eq=False)
class TabularReward:
    """A reward given per state, per (state, action) or per transition."""

    values: np.ndarray
    """(S,), (S, A) or (S, A, S) float64; 1-D values[s] means R(s, a, s') = values[s]."""

    def __post_init__(self) -> None:
        """Store a read-only float64 copy; refuse shapes that are not rewards."""
        values = np.array(self.values, dtype=np.float64)
        if values.ndim not in (1, 2, 3) or values.size == 0:
            raise InvalidInputError.at("values", f"shape {list(values.shape)} is not a reward")
        object.__setattr__(self, "values", read_only(values))


@dataclass(frozen=True)
class LinearReward:
    """R(s, a, s') = bias + sum_f weights[f] * features[s, f]; features not named weigh 0."""

    weights: Mapping[str, float] = field(hash=False)
    bias: float = 0.0

    def __post_init__(self) -> None:
        """Store an immutable copy of the weights."""
        weights = {str(k): float(v) for k, v in self.weights.items()}
        object.__setattr__(self, "weights", MappingProxyType(weights))
        object.__setattr__(self, "bias", float(self.bias))


@dataclass(frozen=True)
class ObservedReward:
    """The rewards recorded with the trajectories (`rews`)."""


@dataclass(frozen=True)
class EnvironmentReward:
    """The environment's own reward."""


@dataclass(frozen=True)
class InferenceReward:
    """The reward inferred by a finished inference (resolved by the service)."""

    id: str


RewardSpec = TabularReward | LinearReward | ObservedReward | EnvironmentReward | InferenceReward


def reward_to_spec(reward: RewardSpec) -> dict[str, Any]:
    """The canonical JSON-able reward spec (irl.io.rewards.parse_reward_spec inverts it)."""
    if isinstance(reward, TabularReward):
        return {"kind": "tabular", "values": reward.values.tolist()}
    if isinstance(reward, LinearReward):
        return {"kind": "linear", "weights": dict(reward.weights), "bias": reward.bias}
    if isinstance(reward, InferenceReward):
        return {"kind": "inference", "id": reward.id}
    return {"kind": "observed" if isinstance(reward, ObservedReward) else "environment"}


def reward_array(reward: TabularReward | LinearReward, mdp: FeaturedMDP) -> np.ndarray:
    """Dense R(s, a, s'), shape (S, A, S) float64, for planning and reward comparison.

    Raises ValueError when the reward does not fit the MDP (irl.io.rewards locates the problem).
    """
    shape = (mdp.n_states, mdp.n_actions, mdp.n_states)
    if isinstance(reward, LinearReward):
        state_values = linear_state_values(reward, mdp.feature_names, mdp.features)
        return np.broadcast_to(state_values[:, None, None], shape).copy()
    values = reward.values
    if values.shape != shape[: values.ndim]:
        raise ValueError(f"reward shape {list(values.shape)} does not fit an MDP of shape {shape}")
    expanded = values.reshape(values.shape + (1,) * (3 - values.ndim))
    return np.broadcast_to(expanded, shape).copy()


def linear_state_values(
    reward: LinearReward, feature_names: Sequence[str], features: np.ndarray
) -> np.ndarray:
    """bias + features @ w, shape (S,) float64, with w looked up by feature name.

    Raises ValueError for a weight on a feature not in `feature_names`.
    """
    index = {name: i for i, name in enumerate(feature_names)}
    unknown = [name for name in reward.weights if name not in index]
    if unknown:
        raise ValueError(f"weights for unknown features: {', '.join(unknown[:10])}")
    w = np.zeros(len(feature_names))
    for name, weight in reward.weights.items():
        w[index[name]] = weight
    return np.asarray(features @ w + reward.bias, dtype=np.float64)


MAX_OBSERVED_ENTRIES = 20_000_000
"""Largest S*A*S for which an observed reward keeps its next-state dependence (160 MB)."""


def observed_reward(mdp: FeaturedMDP, trajectories: TrajectorySet) -> TabularReward:
    """Recorded `rews` averaged per visited (s, a, s'); unvisited ones get the overall mean.
    Beyond MAX_OBSERVED_ENTRIES the average is per (s, a) (exact for deterministic dynamics).

    Raises ValueError when the trajectories recorded no rewards.
    """
    if trajectories.rews is None:
        raise ValueError("the trajectories recorded no rewards")
    s, a, s_next = trajectories.transitions()
    full = mdp.n_states * mdp.n_actions * mdp.n_states <= MAX_OBSERVED_ENTRIES
    shape = (mdp.n_states, mdp.n_actions) + ((mdp.n_states,) if full else ())
    flat = s * mdp.n_actions + a
    if full:
        flat = flat * mdp.n_states + s_next
    size = int(np.prod(shape))
    totals = np.bincount(flat, weights=trajectories.rews, minlength=size)
    counts = np.bincount(flat, minlength=size)
    values = np.full(size, float(trajectories.rews.mean()))
    seen = counts > 0
    values[seen] = totals[seen] / counts[seen]
    return TabularReward(values.reshape(shape))
