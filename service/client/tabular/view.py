"""A tabular view of an environment the user has: the API's tabular environment spec plus the
map from a live environment to its state index (see docs/environments.md).

Built by `toy_text_view`, `minigrid_view` or `tabularise`; `to_spec()` is exactly the wire
format of docs/formats.md (`irl.io.environments.parse_tabular_mdp` accepts it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class TabulariseError(ValueError):
    """An environment has no tabular view here: too many states, not deterministic under copy,
    an unsupported space, or a live state the view does not know."""


@dataclass(frozen=True, eq=False)
class Layout:
    """Grid position of each state, for the dashboard's heatmaps."""

    rows: int
    cols: int
    cells: np.ndarray
    """(S, 2) int64: (row, col) of each state; several states may share a cell."""


@dataclass(frozen=True, eq=False)
class TabularView:
    """A finite MDP equal to an environment on its reachable states, with named features."""

    name: str
    n_actions: int
    states: np.ndarray
    """(T,) int64: the state of each transition row."""
    actions: np.ndarray
    """(T,) int64: the action of each transition row."""
    next_states: np.ndarray
    """(T,) int64: the next state of each transition row."""
    probs: np.ndarray
    """(T,) float64: T(next | state, action); every (state, action) sums to 1."""
    initial: np.ndarray
    """(S,) float64: the initial state distribution."""
    terminal: np.ndarray
    """(S,) bool: states where the environment terminates (absorbing here)."""
    horizon: int
    discount: float
    feature_names: tuple[str, ...]
    features: np.ndarray
    """(S, F) float64."""
    reward: Mapping[str, Any] | None
    """The training reward as an API reward spec (the environment's reward unless overridden)."""
    keys: tuple[Hashable, ...]
    """The state key of each state index (what `key_of` returns for a live environment)."""
    key_of: Callable[[Any], Hashable] = field(repr=False)
    """A live environment's state key (of `env.unwrapped`)."""
    layout: Layout | None = None
    action_names: tuple[str, ...] = ()
    env_reward: np.ndarray | None = field(default=None, repr=False)
    """(S, A) float64 expected environment reward, when known (for checks and summaries)."""
    _index: dict[Hashable, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update((key, i) for i, key in enumerate(self.keys))

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.keys)

    def index(self, key: Hashable) -> int:
        """The state index of a state key; TabulariseError when the view does not have it."""
        try:
            return self._index[key]
        except KeyError:
            raise TabulariseError(
                f"state {key!r} is not in the tabular view {self.name!r} ({self.n_states} "
                "states reachable from its initial states): the environment is not the "
                "instance the view was built from, or not in a reachable state"
            ) from None

    def state_of(self, env: Any) -> int:
        """The state index of a live environment (wrappers are looked through)."""
        return self.index(self.key_of(getattr(env, "unwrapped", env)))

    def feature_column(self, name: str) -> np.ndarray:
        """(S,) float64 values of one feature."""
        return np.asarray(self.features[:, self.feature_names.index(name)])

    def to_spec(self) -> dict[str, Any]:
        """The API's tabular environment spec (docs/formats.md)."""
        order = np.lexsort((self.next_states, self.actions, self.states))
        rows = np.column_stack(
            [self.states[order], self.actions[order], self.next_states[order]]
        ).tolist()
        probs = self.probs[order].tolist()
        spec: dict[str, Any] = {
            "kind": "tabular",
            "name": self.name,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "transitions": [[*row, p] for row, p in zip(rows, probs, strict=True)],
            "initial_state_dist": self.initial.tolist(),
            "horizon": self.horizon,
            "discount": self.discount,
        }
        if self.feature_names:
            spec["features"] = {
                "names": list(self.feature_names),
                "values": self.features.tolist(),
            }
        if self.reward is not None:
            spec["reward"] = dict(self.reward)
        if self.layout is not None:
            spec["layout"] = {
                "rows": self.layout.rows,
                "cols": self.layout.cols,
                "cells": self.layout.cells.tolist(),
            }
        return spec

    def with_features(self, names: Sequence[str]) -> TabularView:
        """The view with exactly these feature columns, in this order (absent ones are zero),
        so every instance of a family shares one feature vocabulary."""
        columns = [
            self.feature_column(n) if n in self.feature_names else np.zeros(self.n_states)
            for n in names
        ]
        features = np.column_stack(columns) if columns else np.zeros((self.n_states, 0))
        return replaced(self, feature_names=tuple(names), features=features)

    def with_reward(self, reward: Mapping[str, Any] | None) -> TabularView:
        """The view with another training reward (an API reward spec)."""
        return replaced(self, reward=reward)


def replaced(view: TabularView, **changes: Any) -> TabularView:
    """dataclasses.replace for a view (its index is rebuilt from `keys`)."""
    fields = {
        name: getattr(view, name)
        for name in view.__dataclass_fields__
        if view.__dataclass_fields__[name].init
    }
    return TabularView(**{**fields, **changes})


def check_transitions(
    n_states: int, n_actions: int, states: np.ndarray, actions: np.ndarray, probs: np.ndarray
) -> None:
    """Refuse dynamics where some (state, action) probabilities do not sum to 1."""
    sums = np.bincount(states * n_actions + actions, weights=probs, minlength=n_states * n_actions)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-9)
    if bad.size:
        s, a = divmod(int(bad[0]), n_actions)
        raise TabulariseError(
            f"{bad.size} (state, action) pairs have probabilities that do not sum to 1, "
            f"e.g. state {s}, action {a}: {sums[bad[0]]:.6g}"
        )


def tabular_reward(
    n_states: int,
    n_actions: int,
    states: np.ndarray,
    actions: np.ndarray,
    next_states: np.ndarray,
    probs: np.ndarray,
    rewards: np.ndarray,
    *,
    max_values: int = 5_000_000,
) -> tuple[dict[str, Any], np.ndarray]:
    """The reward of each transition row as an API tabular reward spec: (S, A) values when the
    reward depends only on (state, action) on the support of the dynamics (exact there), else
    dense (S, A, S) values. Also returns the (S, A) expected reward."""
    pair = states * n_actions + actions
    size = n_states * n_actions
    expected = np.bincount(pair, weights=probs * rewards, minlength=size)
    lowest = np.full(size, np.inf)
    highest = np.full(size, -np.inf)
    np.minimum.at(lowest, pair, rewards)
    np.maximum.at(highest, pair, rewards)
    per_pair = expected.reshape(n_states, n_actions)
    if np.all(highest - lowest <= 1e-12):
        return {"kind": "tabular", "values": per_pair.tolist()}, per_pair
    if size * n_states > max_values:
        raise TabulariseError(
            f"the environment's reward depends on the next state, and {n_states} states x "
            f"{n_actions} actions x {n_states} next states = {size * n_states} values exceed "
            f"{max_values}; pass reward= a reward spec (e.g. a linear reward over the features)"
        )
    dense = np.zeros((n_states, n_actions, n_states))
    dense[states, actions, next_states] = rewards
    return {"kind": "tabular", "values": dense.tolist()}, per_pair
