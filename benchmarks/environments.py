"""Benchmark MiniGrid tabular views: time to build the view and to map recorded steps to
state indices, on grids of growing size.

For each environment the table gives the reachable states, the build time, the build time per
state-action divided by the time of one plain `env.step()` (the reference, measured in the same
run: the enumeration steps the real environment once per state-action), and the time
`view.state_of` takes to map --steps recorded steps (random actions in the real environment),
divided by the time of the `env.step()` calls that made them. Target: linear in reachable
states, 10^4 states in under 10 s.

    .venv/bin/python -m benchmarks.environments [--steps 100000]
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np

from service.client.tabular import minigrid_view

ENVIRONMENTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("MiniGrid-Empty-8x8-v0", {}),
    ("MiniGrid-FourRooms-v0", {}),
    ("MiniGrid-Empty-16x16-v0", {}),
    ("MiniGrid-DoorKey-6x6-v0", {}),
    ("MiniGrid-MultiRoom-N4-S5-v0", {}),
    ("MiniGrid-DoorKey-8x8-v0", {}),
    ("MiniGrid-Empty-16x16-v0", {"size": 100}),
)
"""(id, kwargs): the last is a 100 x 100 empty room (38,414 states)."""


def instance(env_id: str, kwargs: dict[str, Any]) -> Any:
    """The environment reset with seed 0."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    return env


def random_steps(env: Any, steps: int, view: Any, rng: np.random.Generator) -> tuple[float, float]:
    """Seconds spent in `env.step` and in `view.state_of` over `steps` random steps."""
    env.reset(seed=0)
    n_actions = env.action_space.n
    stepping = mapping = 0.0
    for _ in range(steps):
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
        middle = time.perf_counter()
        view.state_of(env)
        mapping += time.perf_counter() - middle
        stepping += middle - start
        if terminated or truncated:
            env.reset(seed=0)
    return stepping, mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}")
    header = (
        f"{'environment':36} {'states':>7} {'build s':>8} {'x step':>7} {'map s':>7} {'x step':>7}"
    )
    print(header)
    print("-" * len(header))
    for env_id, kwargs in ENVIRONMENTS:
        start = time.perf_counter()
        view = minigrid_view(instance(env_id, kwargs), max_states=100_000)
        build = time.perf_counter() - start
        stepping, mapping = random_steps(
            instance(env_id, kwargs), args.steps, view, np.random.default_rng(0)
        )
        label = env_id + "".join(f" {k}={v}" for k, v in kwargs.items())
        per_step = stepping / args.steps
        build_ratio = build / (view.n_states * view.n_actions * per_step)
        print(
            f"{label:36} {view.n_states:7d} {build:8.2f} {build_ratio:7.2f} "
            f"{mapping:7.2f} {mapping / stepping:7.2f}"
        )


if __name__ == "__main__":
    main()
