"""Any environment you can copy, as a tabular view: a small protocol and a breadth-first
tabulariser (docs/environments.md shows the ~20 lines of glue a gridworld needs).

The tabulariser steps the real environment from every reachable state with every action, so
the view is the environment's own dynamics. It refuses (TabulariseError) when more than
`max_states` states are reachable, when a step from a copy is not reproducible (the
environment is stochastic, or its copies do not carry its whole state), and when the action
space is not Discrete.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from service.client.tabular.view import (
    Layout,
    TabulariseError,
    TabularView,
    tabular_reward,
)

DEFAULT_MAX_STATES = 10_000
FIRST_CHECKED = 100
CHECK_EVERY = 97
REPEATS = 3
"""Steps of a checked (state, action): each from a fresh copy with its own random generator."""


class StateAccess(Protocol):
    """What the tabulariser needs to know about an environment.

    `key` names a state (equal keys must mean equal futures); `snapshot` and `restore` copy a
    state and give back an environment in it, ready to `step`; `features` are the named
    quantities a reward may depend on; `cell` places a state on a grid for heatmaps (or None).
    """

    def key(self, env: Any) -> Hashable:
        """The state key of a live environment."""
        ...

    def snapshot(self, env: Any) -> Any:
        """Something `restore` turns back into an environment in this state."""
        ...

    def restore(self, snapshot: Any) -> Any:
        """An environment in the snapshot's state (the tabulariser will step it)."""
        ...

    def features(self, env: Any) -> Mapping[str, float]:
        """Named features of the current state."""
        ...

    def cell(self, env: Any) -> tuple[int, int] | None:
        """(row, col) of the current state on a grid, or None."""
        ...


class CopyAccess:
    """StateAccess by `copy.deepcopy`: subclass it and write `key` and `features` (and `cell`
    for heatmaps). Works for any environment whose deep copy carries its whole state."""

    def key(self, env: Any) -> Hashable:
        raise NotImplementedError

    def features(self, env: Any) -> Mapping[str, float]:
        raise NotImplementedError

    def cell(self, env: Any) -> tuple[int, int] | None:
        return None

    def snapshot(self, env: Any) -> Any:
        try:
            return copy.deepcopy(env)
        except Exception as exc:
            raise TabulariseError(
                f"cannot copy the environment ({type(exc).__name__}: {exc}); give the "
                "tabulariser snapshot/restore methods that save and load its state"
            ) from exc

    def restore(self, snapshot: Any) -> Any:
        return copy.deepcopy(snapshot)


def discrete_actions(env: Any) -> int:
    """The number of actions of a Discrete action space; TabulariseError for any other."""
    space = getattr(env, "action_space", None)
    n = getattr(space, "n", None)
    if n is None or getattr(space, "start", 0) != 0 or type(space).__name__ != "Discrete":
        raise TabulariseError(
            f"the action space {space!r} is not Discrete(n): a tabular view needs finitely "
            "many actions numbered from 0"
        )
    return int(n)


def reseed(env: Any, seed: int) -> None:
    """Give a copy a fresh random generator (so stochastic steps show up as different)."""
    target = getattr(env, "unwrapped", env)
    if hasattr(target, "np_random"):
        target.np_random = np.random.default_rng(seed)


class _States:
    """The states found so far: keys, snapshots, features, cells and terminal flags."""

    def __init__(self, access: StateAccess, max_states: int) -> None:
        self.access, self.max_states = access, max_states
        self.index: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []
        self.snapshots: list[Any] = []
        self.features: list[Mapping[str, float]] = []
        self.cells: list[tuple[int, int] | None] = []
        self.terminal: list[bool] = []
        self.entered_alive: list[bool] = []

    def add(self, env: Any, key: Hashable) -> int:
        """The index of the state `env` is in, recording it when new."""
        found = self.index.get(key)
        if found is not None:
            return found
        if len(self.keys) >= self.max_states:
            raise TabulariseError(
                f"more than max_states={self.max_states} states are reachable (stopped after "
                f"finding {len(self.keys)}); raise max_states, or make the environment smaller "
                "(the service takes at most 100,000 states, and exact verdicts need "
                "states x actions x states <= 50,000,000)"
            )
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.snapshots.append(self.access.snapshot(env))
        self.features.append(dict(self.access.features(env)))
        self.cells.append(self.access.cell(env))
        self.terminal.append(False)
        self.entered_alive.append(False)
        return len(self.keys) - 1

    def check_same(self, env: Any, key: Hashable) -> None:
        """Refuse a key shared by environments with different features or cells."""
        known = self.index[key]
        features, cell = dict(self.access.features(env)), self.access.cell(env)
        if features != self.features[known] or cell != self.cells[known]:
            raise TabulariseError(
                f"two environments with the state key {key!r} differ (features "
                f"{self.features[known]} and {features}, cells {self.cells[known]} and "
                f"{cell}): the key misses part of the state"
            )

    def entered(self, state: int, terminated: bool) -> None:
        """Record how a step entered `state`; one state cannot be both terminal and not."""
        if terminated:
            self.terminal[state] = True
        else:
            self.entered_alive[state] = True
        if self.terminal[state] and self.entered_alive[state]:
            raise TabulariseError(
                f"state {self.keys[state]!r} is entered both with and without termination: "
                "termination depends on more than the state key; add what it depends on to "
                "the key"
            )


def tabularise(
    envs: Any | Sequence[Any],
    access: StateAccess,
    *,
    horizon: int | None = None,
    discount: float = 1.0,
    max_states: int = DEFAULT_MAX_STATES,
    reward: Mapping[str, Any] | str = "environment",
    name: str | None = None,
    n_actions: int | None = None,
    action_names: Sequence[str] = (),
) -> TabularView:
    """The tabular view of the states reachable from `envs` (one environment already reset,
    or several: the initial distribution is uniform over them).

    Each reachable state is restored and stepped with every action; termination makes the
    state reached absorbing. `reward="environment"` records the environment's step rewards as
    an (S, A) table; a mapping is used as the training reward spec as it is. `horizon`
    defaults to the environment's `max_episode_steps`.
    """
    initial_envs = list(envs) if isinstance(envs, list | tuple) else [envs]
    if not initial_envs:
        raise TabulariseError("no initial environment given")
    first = initial_envs[0]
    n_actions = n_actions if n_actions is not None else discrete_actions(first)
    horizon = horizon if horizon is not None else _max_episode_steps(first)
    states = _States(access, max_states)
    starts = [states.add(env, access.key(env)) for env in initial_envs]
    rows: list[tuple[int, int, int]] = []
    rewards: list[float] = []
    checked = 0
    expanded = 0
    while expanded < len(states.keys):
        state = expanded
        expanded += 1
        if states.terminal[state]:
            rows.extend((state, a, state) for a in range(n_actions))
            rewards.extend([0.0] * n_actions)
            continue
        for action in range(n_actions):
            verify = checked < FIRST_CHECKED or (state * n_actions + action) % CHECK_EVERY == 0
            nxt, step_reward, terminated = _step(
                states, state, action, verify=verify, seed=REPEATS * checked
            )
            checked += verify
            states.entered(nxt, terminated)
            rows.append((state, action, nxt))
            rewards.append(step_reward)
    return _view(
        states,
        np.asarray(rows, dtype=np.int64).reshape(-1, 3),
        np.asarray(rewards, dtype=np.float64),
        starts,
        n_actions=n_actions,
        horizon=horizon,
        discount=discount,
        reward=reward,
        name=name or _env_name(first),
        action_names=action_names,
    )


def _step(
    states: _States, state: int, action: int, *, verify: bool, seed: int
) -> tuple[int, float, bool]:
    """Step a restored copy of `state`; with `verify`, step REPEATS copies with random
    generators seeded `seed`, `seed + 1`, ... and refuse the environment when they disagree."""
    access = states.access
    outcomes = []
    for attempt in range(REPEATS if verify else 1):
        env = access.restore(states.snapshots[state])
        if attempt == 0 and verify and access.key(env) != states.keys[state]:
            raise TabulariseError(
                f"restoring state {states.keys[state]!r} gave an environment in state "
                f"{access.key(env)!r}: snapshot/restore do not carry the whole state"
            )
        if verify:
            reseed(env, seed + attempt)
        _, step_reward, terminated, _, _ = env.step(action)
        key = access.key(env)
        full_key = getattr(access, "full_key", None)
        scanned = full_key(env) if verify and full_key is not None else key
        outcomes.append((scanned, float(step_reward), bool(terminated)))
        if attempt == 0:
            if verify and key in states.index:
                states.check_same(env, key)
            nxt = states.add(env, key)
            first_key = key
    different = [o for o in outcomes if o != outcomes[0]]
    if different:
        raise TabulariseError(
            f"the environment is not deterministic under copy: action {action} in state "
            f"{states.keys[state]!r} gave {outcomes[0]} and then {different[0]} (next state, "
            "reward, terminated); a tabular view of a stochastic environment needs its model "
            "(see toy_text_view), or a key that includes the state that differs"
        )
    if outcomes[0][0] != first_key:
        raise TabulariseError(
            f"action {action} in state {states.keys[state]!r} changed the environment beyond "
            f"what its state key looks at: {first_key!r}, but a full scan gives "
            f"{outcomes[0][0]!r}"
        )
    _, step_reward, terminated = outcomes[0]
    return nxt, step_reward, terminated


def _view(
    states: _States,
    rows: np.ndarray,
    rewards: np.ndarray,
    starts: list[int],
    *,
    n_actions: int,
    horizon: int,
    discount: float,
    reward: Mapping[str, Any] | str,
    name: str,
    action_names: Sequence[str],
) -> TabularView:
    """Assemble the view from the explored states and transition rows."""
    n = len(states.keys)
    names = list(dict.fromkeys(name for f in states.features for name in f))
    features = np.array([[f.get(k, 0.0) for k in names] for f in states.features], dtype=float)
    initial = np.bincount(np.asarray(starts), minlength=n).astype(np.float64)
    probs = np.ones(len(rows))
    if reward == "environment":
        spec, expected = tabular_reward(
            n, n_actions, rows[:, 0], rows[:, 1], rows[:, 2], probs, rewards
        )
    elif isinstance(reward, Mapping):
        spec, expected = dict(reward), None
    else:
        raise TabulariseError(f"reward: expected 'environment' or a reward spec, got {reward!r}")
    access = states.access
    return TabularView(
        name=name,
        n_actions=n_actions,
        states=rows[:, 0],
        actions=rows[:, 1],
        next_states=rows[:, 2],
        probs=probs,
        initial=initial / initial.sum(),
        terminal=np.asarray(states.terminal, dtype=bool),
        horizon=horizon,
        discount=discount,
        feature_names=tuple(names),
        features=features.reshape(n, len(names)),
        reward=spec,
        keys=tuple(states.keys),
        key_of=access.key,
        layout=_layout(states.cells),
        action_names=tuple(action_names),
        env_reward=expected,
    )


def _layout(cells: list[tuple[int, int] | None]) -> Layout | None:
    """A grid layout when every state has a cell."""
    if not cells or any(c is None for c in cells):
        return None
    array = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    if (array < 0).any():
        return None
    rows, cols = (array.max(axis=0) + 1).tolist()
    return Layout(rows=int(rows), cols=int(cols), cells=array)


def _max_episode_steps(env: Any) -> int:
    """The environment's time limit, which is the view's horizon unless one is given."""
    spec = getattr(env, "spec", None)
    steps = getattr(spec, "max_episode_steps", None) or getattr(
        getattr(env, "unwrapped", env), "max_steps", None
    )
    if not steps:
        raise TabulariseError(
            "the environment has no time limit (spec.max_episode_steps); pass horizon="
        )
    return int(steps)


def _env_name(env: Any) -> str:
    """The environment's registered id, or its class name."""
    spec = getattr(env, "spec", None)
    return str(getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__)
