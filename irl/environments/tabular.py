"""Tabular MDPs with known sparse dynamics, and references to gymnasium environments."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse

from irl.errors import InvalidInputError, Problem
from irl.rewards import LinearReward, TabularReward, reward_to_spec

PROBABILITY_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Layout:
    """Grid position of each state, used to draw heatmaps."""

    rows: int
    cols: int
    cells: np.ndarray
    """(S, 2) int64: (row, col) of each state."""


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite-horizon MDP with known sparse dynamics and state features."""

    name: str
    n_states: int
    n_actions: int
    transitions: scipy.sparse.csr_array
    """(S*A, S) float64: row s*A + a holds T(. | s, a); every row sums to 1."""
    initial_state_dist: np.ndarray
    """(S,) float64, sums to 1."""
    horizon: int
    discount: float
    feature_names: tuple[str, ...]
    features: np.ndarray
    """(S, F) float64; by default one-hot state indicators named "s0".."s{S-1}"."""
    reward: TabularReward | LinearReward | None = None
    layout: Layout | None = None

    def __post_init__(self) -> None:
        """Refuse inconsistent shapes (irl.io.environments locates problems in user input)."""
        s, a = self.n_states, self.n_actions
        expected = {
            "transitions": ((s * a, s), self.transitions.shape),
            "initial_state_dist": ((s,), self.initial_state_dist.shape),
            "features": ((s, len(self.feature_names)), self.features.shape),
        }
        problems = [
            Problem(name, f"shape {list(got)}, expected {list(want)}")
            for name, (want, got) in expected.items()
            if tuple(want) != tuple(got)
        ]
        if self.horizon < 1 or not 0.0 < self.discount <= 1.0:
            problems.append(Problem("horizon", "horizon must be >= 1 and discount in (0, 1]"))
        if problems:
            raise InvalidInputError(problems)

    def dense_transitions(self) -> np.ndarray:
        """T[s, a, s'], shape (S, A, S) float64 (for algorithms that need dense dynamics)."""
        dense = self.transitions.toarray()
        return np.asarray(dense).reshape(self.n_states, self.n_actions, self.n_states)

    def is_absorbing(self) -> np.ndarray:
        """(S,) bool: states where every action self-loops with probability 1."""
        coo = self.transitions.tocoo()
        own = coo.col == coo.row // self.n_actions
        stay = np.bincount(coo.row[own], weights=coo.data[own], minlength=self.transitions.shape[0])
        return np.asarray(
            (stay >= 1.0 - PROBABILITY_TOLERANCE).reshape(self.n_states, self.n_actions).all(axis=1)
        )

    def to_spec(self) -> dict[str, Any]:
        """Canonical JSON-able spec; irl.io.environments.parse_tabular_mdp inverts it."""
        coo = self.transitions.tocoo()
        order = np.lexsort((coo.col, coo.row))
        rows, cols, probs = coo.row[order], coo.col[order], coo.data[order]
        states, actions = rows // self.n_actions, rows % self.n_actions
        spec: dict[str, Any] = {
            "kind": "tabular",
            "name": self.name,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "transitions": [
                [s, a, t, p]
                for s, a, t, p in zip(
                    states.tolist(), actions.tolist(), cols.tolist(), probs.tolist(), strict=True
                )
            ],
            "initial_state_dist": self.initial_state_dist.tolist(),
            "horizon": self.horizon,
            "discount": self.discount,
            "features": {"names": list(self.feature_names), "values": self.features.tolist()},
        }
        if self.reward is not None:
            spec["reward"] = reward_to_spec(self.reward)
        if self.layout is not None:
            spec["layout"] = {
                "rows": self.layout.rows,
                "cols": self.layout.cols,
                "cells": self.layout.cells.tolist(),
            }
        return spec


@dataclass(frozen=True)
class GymnasiumEnvSpec:
    """A gymnasium environment by registered id (instantiated only by workers)."""

    id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_spec(self) -> dict[str, Any]:
        """Canonical JSON-able spec."""
        kwargs = json.loads(json.dumps(dict(self.kwargs)))
        return {"kind": "gymnasium", "id": self.id, "kwargs": kwargs}
