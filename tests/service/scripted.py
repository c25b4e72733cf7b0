"""Scripted MiniGrid agents with a known goal, for probe tests in process and through a real
`mesascope serve`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np

from service.client.probe import Instance
from service.client.tabular import TabularView, minigrid_view


class SeeState(gym.ObservationWrapper):  # type: ignore[type-arg]
    """Observations are the environment itself (a scripted agent reads its state)."""

    def observation(self, observation: Any) -> Any:
        return self.env.unwrapped


class GoalSeeker:
    """Takes a shortest path to the nearest state with `feature` (the goal by default; scripted,
    from the tabular view of the instance)."""

    def __init__(self, feature: str = "goal") -> None:
        self.feature = feature
        self.cache: dict[bytes, tuple[TabularView, np.ndarray]] = {}

    def __call__(self, env: Any) -> int:
        view, distance = self.plan(env)
        state = view.state_of(env)
        rows = view.states == state
        ahead = distance[view.next_states[rows]]
        return int(view.actions[rows][np.argmin(ahead)])

    def plan(self, env: Any) -> tuple[TabularView, np.ndarray]:
        grid = env.grid.encode().tobytes()  # not id(): a freed grid's id is reused
        if grid not in self.cache:
            view = minigrid_view(env)
            distance = np.full(view.n_states, np.inf)
            distance[view.feature_column(self.feature) > 0] = 0
            for _ in range(view.n_states):
                step = distance[view.next_states] + 1
                best = np.full(view.n_states, np.inf)
                np.minimum.at(best, view.states, step)
                updated = np.minimum(distance, best)
                if np.array_equal(updated, distance):
                    break
                distance = updated
            self.cache[grid] = (view, distance)
        return self.cache[grid]


def scripted_instances(env_id: str, seeds: range, split: str) -> list[Instance]:
    """MiniGrid instances whose observation is the environment (for GoalSeeker)."""
    return [
        Instance(
            env_id,
            f"seed {seed}",
            split,
            lambda: SeeState(gym.make(env_id)),
            minigrid_view,
            seed,
        )
        for seed in seeds
    ]
