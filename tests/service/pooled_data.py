"""A pooled rollout set for service tests: two small gridworlds of different sizes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from tests.irl.gridworld import gridworld_spec, sample_trajectories


def grid_spec(rows: int, cols: int, **overrides: Any) -> dict[str, Any]:
    """A door-seeking gridworld with horizon 8, starting in the top-left corner."""
    spec = gridworld_spec(rows=rows, cols=cols, start=(0, 0), horizon=8, name=f"grid-{rows}x{cols}")
    spec.update(overrides)
    return spec


def pooled_rollouts(**overrides: Any) -> dict[str, Any]:
    """A 2x3 and a 3x3 gridworld, 6 and 10 expert trajectories naming their environment."""
    environments = [grid_spec(2, 3), grid_spec(3, 3)]
    trajectories = []
    for k, (spec, n) in enumerate(zip(environments, (6, 10), strict=True)):
        for item in sample_trajectories(spec, n=n, rng=np.random.default_rng(k)):
            trajectories.append({**item, "environment": k})
    body = {
        "name": "pooled grids",
        "environments": environments,
        "training_reward": {"kind": "linear", "weights": {"door": 3.0}},
        "trajectories": trajectories,
    }
    body.update(overrides)
    return body


def pooled_npz(body: dict[str, Any]) -> bytes:
    """The body's trajectories as an .npz archive with its `environment` member."""
    items = body["trajectories"]
    arrays = {
        "obs": np.concatenate([t["obs"] for t in items]).astype(np.int64),
        "acts": np.concatenate([t["acts"] for t in items]).astype(np.int64),
        "terminal": np.array([t["terminal"] for t in items], dtype=bool),
        "lengths": np.array([len(t["acts"]) for t in items], dtype=np.int64),
        "environment": np.array([t["environment"] for t in items], dtype=np.int64),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
