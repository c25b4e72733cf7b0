"""Request bodies for service tests, built from the README's corridor example."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "corridor"


def corridor_environment() -> dict[str, Any]:
    """The corridor MDP spec (7 states, 3 actions, features goal/lamp)."""
    env: dict[str, Any] = json.loads((EXAMPLE / "environment.json").read_text())
    return env


def corridor_rollouts(
    environment: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """The corridor rollouts body, with an inline environment unless one is given."""
    body: dict[str, Any] = json.loads((EXAMPLE / "rollouts.json").read_text())
    body["environment"] = environment if environment is not None else corridor_environment()
    body.update(overrides)
    return copy.deepcopy(body)


def imitation_trajectories(items: list[dict[str, Any]]) -> list[Any]:
    """API trajectory dicts (with `rews`) as imitation TrajectoryWithRew objects."""
    import numpy as np
    from imitation.data.types import TrajectoryWithRew

    return [
        TrajectoryWithRew(
            obs=np.asarray(t["obs"]),
            acts=np.asarray(t["acts"]),
            infos=None,
            terminal=t["terminal"],
            rews=np.asarray(t["rews"], dtype=np.float32),
        )
        for t in items
    ]
