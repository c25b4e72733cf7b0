"""Recording episodes in an environment as state indices of its tabular view.

A policy is any callable from the environment's observation to an action (an SB3 model's
`predict` is wrapped by `service.client.probe.sb3_policy`). Episodes stop at the view's
horizon, so each one either ends terminal in an absorbing state or lasts the horizon, as
MCE IRL needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from service.client.arrays import TrajectoryArrays, to_arrays
from service.client.tabular.view import TabulariseError, TabularView

Policy = Callable[[Any], Any]
"""observation -> action."""


def record_episodes(
    view: TabularView,
    make_env: Callable[[], Any],
    policy: Policy,
    episodes: int,
    *,
    seed: int,
    reset_seed: int | None = None,
) -> TrajectoryArrays:
    """Roll `policy` out for `episodes` episodes in fresh resets of `make_env()` and return them
    as tabular trajectories (`obs` are state indices of `view`).

    `reset_seed` is the seed that makes the view's instance (MiniGrid: the grid); without it
    the environment is reset with `seed + episode` (toy-text: the start state is drawn).
    The environment's own rewards are recorded as `rews`.
    """
    env = make_env()
    items = []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=reset_seed if reset_seed is not None else seed + episode)
            _seed_action_space(env, seed + episode)
            items.append(_episode(view, env, policy, obs))
    finally:
        env.close()
    return to_arrays(items)


def _episode(view: TabularView, env: Any, policy: Policy, obs: Any) -> dict[str, Any]:
    """One episode: state indices, actions, rewards, and whether it ended terminal."""
    states = [view.state_of(env)]
    actions: list[int] = []
    rewards: list[float] = []
    terminated = False
    while len(actions) < view.horizon:
        action = int(np.asarray(policy(obs)).reshape(-1)[0])
        if not 0 <= action < view.n_actions:
            raise TabulariseError(
                f"the policy chose action {action}; the view {view.name!r} has actions "
                f"0..{view.n_actions - 1}"
            )
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(action)
        rewards.append(float(reward))
        states.append(view.state_of(env))
        if terminated or truncated:
            break
    if terminated and not view.terminal[states[-1]]:
        raise TabulariseError(
            f"the episode terminated in state {states[-1]}, which the view does not know as "
            "terminal"
        )
    return {"obs": states, "acts": actions, "rews": rewards, "terminal": bool(terminated)}


def _seed_action_space(env: Any, seed: int) -> None:
    """Seed the action space, so policies that sample it are reproducible."""
    space = getattr(env, "action_space", None)
    if space is not None and hasattr(space, "seed"):
        space.seed(seed)
