"""Small test MDPs in the API's tabular environment format, and soft-optimal demonstrations.

Reusable from any test suite (no pytest imports): `gridworld_spec(...)` and `two_state_spec()`
return JSON-able spec dicts; `sample_trajectories(spec, n=..., rng=...)` returns API trajectory
dicts.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from irl.io.environments import parse_tabular_mdp
from irl.planning import soft_optimal_policy
from irl.rewards import LinearReward, reward_array

Cell = tuple[int, int]
ACTIONS = ("stay", "up", "down", "left", "right")
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
FEATURE_NAMES = ("door", "red", "blue")
DEFAULT_REWARD = {"door": 3.0}


def gridworld_spec(
    *,
    rows: int = 7,
    cols: int = 7,
    door: Sequence[Cell] | None = None,
    red: Sequence[Cell] | None = None,
    blue: Sequence[Cell] | None = None,
    start: Cell | None = None,
    slip: float = 0.0,
    horizon: int | None = None,
    discount: float = 1.0,
    reward: Mapping[str, float] | None = None,
    absorbing_door: bool = False,
    name: str = "gridworld",
) -> dict[str, Any]:
    """A rows x cols grid with actions stay/up/down/left/right and features door, red, blue.

    Moves into a wall stay put. With `slip` > 0 the action is replaced, with that probability,
    by a uniformly random one. `start=None` starts uniformly anywhere. The reward defaults to
    {"door": 3.0} (strong enough that a soft-optimal expert clearly seeks the door); the horizon
    to rows + cols. A red door is `red` containing a `door` cell.
    Default cells: the door in the bottom-right corner, red and blue cells spread elsewhere.
    """
    door = door if door is not None else ((rows - 1, cols - 1),)
    red = red if red is not None else ((1, cols - 2), (rows // 2, cols // 2), (rows - 2, 1))
    blue = blue if blue is not None else ((1, 1), (rows - 2, cols - 2))
    outside = [
        cell for cell in (*door, *red, *blue) if not (0 <= cell[0] < rows and 0 <= cell[1] < cols)
    ]
    if outside:
        raise ValueError(f"cells {outside} are outside the {rows}x{cols} grid")
    n_states = rows * cols
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    features = np.zeros((n_states, len(FEATURE_NAMES)))
    for column, group in enumerate((door, red, blue)):
        for r, c in group:
            features[r * cols + c, column] = 1.0
    absorbing = {r * cols + c for r, c in door} if absorbing_door else set()
    transitions: list[list[float]] = []
    for s, (r, c) in enumerate(cells):
        for a in range(len(ACTIONS)):
            outcomes: dict[int, float] = {}
            for b, (dr, dc) in enumerate(MOVES):
                p = (1.0 - slip) * (a == b) + slip / len(MOVES)
                target = s if s in absorbing else _move(r, c, dr, dc, rows, cols)
                outcomes[target] = outcomes.get(target, 0.0) + p
            transitions.extend([s, a, t, p] for t, p in sorted(outcomes.items()) if p > 0)
    initial = np.full(n_states, 1.0 / n_states)
    if start is not None:
        initial = np.zeros(n_states)
        initial[start[0] * cols + start[1]] = 1.0
    return {
        "kind": "tabular",
        "name": name,
        "n_states": n_states,
        "n_actions": len(ACTIONS),
        "transitions": transitions,
        "initial_state_dist": initial.tolist(),
        "horizon": horizon if horizon is not None else rows + cols,
        "discount": discount,
        "features": {"names": list(FEATURE_NAMES), "values": features.tolist()},
        "reward": {"kind": "linear", "weights": dict(reward or DEFAULT_REWARD)},
        "layout": {"rows": rows, "cols": cols, "cells": [list(cell) for cell in cells]},
    }


def sample_trajectories(
    spec: Mapping[str, Any],
    *,
    n: int,
    rng: np.random.Generator,
    reward: Mapping[str, float] | None = None,
    temperature: float = 1.0,
    stop_when_absorbed: bool = False,
) -> list[dict[str, Any]]:
    """n full-horizon trajectories of the soft-optimal (MaxEnt) policy for a linear reward.

    The reward defaults to the spec's own; `rews` hold it. With `stop_when_absorbed`, a
    trajectory ends (terminal) on entering an absorbing state.
    """
    mdp = parse_tabular_mdp(spec)
    weights = reward if reward is not None else spec["reward"]["weights"]
    rewards = reward_array(LinearReward(weights), mdp)
    policy = soft_optimal_policy(mdp, rewards, temperature=temperature)
    dynamics = mdp.dense_transitions()
    absorbing = mdp.is_absorbing()
    states = _sample(rng, np.broadcast_to(mdp.initial_state_dist, (n, mdp.n_states)))
    obs, acts = [states], []
    for t in range(mdp.horizon):
        actions = _sample(rng, policy[t, obs[-1]])
        acts.append(actions)
        obs.append(_sample(rng, dynamics[obs[-1], actions]))
    obs_matrix, acts_matrix = np.stack(obs, axis=1), np.stack(acts, axis=1)
    trajectories = []
    for i in range(n):
        length = mdp.horizon
        if stop_when_absorbed:
            hits = np.flatnonzero(absorbing[obs_matrix[i, 1:]])
            length = int(hits[0]) + 1 if hits.size else mdp.horizon
        s, a = obs_matrix[i, : length + 1], acts_matrix[i, :length]
        trajectories.append(
            {
                "obs": s.tolist(),
                "acts": a.tolist(),
                "rews": rewards[s[:-1], a, s[1:]].tolist(),
                "terminal": bool(stop_when_absorbed and length < mdp.horizon),
            }
        )
    return trajectories


def two_state_spec(**overrides: Any) -> dict[str, Any]:
    """States 0, 1; action 0 stays, action 1 switches; start in 0; R = [0, 1] by state."""
    spec: dict[str, Any] = {
        "kind": "tabular",
        "name": "two-state",
        "n_states": 2,
        "n_actions": 2,
        "transitions": [[0, 0, 0, 1.0], [0, 1, 1, 1.0], [1, 0, 1, 1.0], [1, 1, 0, 1.0]],
        "initial_state_dist": [1.0, 0.0],
        "horizon": 2,
        "discount": 0.5,
        "reward": {"kind": "tabular", "values": [0.0, 1.0]},
    }
    spec.update(overrides)
    return spec


def _move(r: int, c: int, dr: int, dc: int, rows: int, cols: int) -> int:
    """State index after a move (walls block)."""
    nr, nc = r + dr, c + dc
    if not (0 <= nr < rows and 0 <= nc < cols):
        nr, nc = r, c
    return nr * cols + nc


def _sample(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One index per row of an (n, k) probability matrix, by inverse CDF."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), probabilities.shape[1] - 1)
