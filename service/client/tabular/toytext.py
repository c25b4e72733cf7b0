"""gymnasium's toy-text worlds (FrozenLake, CliffWalking, Taxi, and any environment with a
model `P[s][a] = [(p, s_next, reward, terminated), ...]`) as tabular views.

The dynamics and rewards are the environment's own model, exactly; the state index is the
environment's own observation (`env.unwrapped.s`). States the model enters with
`terminated=True` are made absorbing (gymnasium never steps past them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from service.client.tabular.view import (
    Layout,
    TabulariseError,
    TabularView,
    check_transitions,
    tabular_reward,
)

FROZEN_LAKE_ACTIONS = ("left", "down", "right", "up")
CLIFF_ACTIONS = ("up", "right", "down", "left")
TAXI_ACTIONS = ("south", "north", "east", "west", "pickup", "dropoff")
TAXI_DEPOTS = ("red", "green", "yellow", "blue")
"""Taxi's four locations R, G, Y, B in the order of `env.locs`."""
DEFAULT_HORIZON = 100
"""The horizon of a model without a time limit (CliffWalking-v0 has none)."""


def toy_text_view(
    env: Any,
    *,
    horizon: int | None = None,
    discount: float = 1.0,
    reward: Mapping[str, Any] | str = "environment",
    name: str | None = None,
) -> TabularView:
    """The exact tabular view of a toy-text environment (anything with a model `P`).

    `reward="environment"` is the environment's reward (an (S, A) table when it depends only
    on the state and action, as in CliffWalking, Taxi and non-slippery FrozenLake; (S, A, S)
    otherwise); a mapping is used as the training reward spec as it is.
    """
    base = getattr(env, "unwrapped", env)
    model = getattr(base, "P", None)
    if not isinstance(model, Mapping):
        raise TabulariseError(
            f"{type(base).__name__} has no model P[s][a] = [(p, s_next, reward, terminated)]: "
            "use minigrid_view, or tabularise with a StateAccess"
        )
    n_states, n_actions = len(model), _n_actions(base, model)
    initial = np.asarray(
        getattr(base, "initial_state_distrib", np.eye(n_states)[0]), dtype=np.float64
    )
    rows, probs, rewards, terminal = _model_rows(
        model, n_states, n_actions, np.flatnonzero(initial > 0)
    )
    check_transitions(n_states, n_actions, rows[:, 0], rows[:, 1], probs)
    if reward == "environment":
        spec, expected = tabular_reward(
            n_states, n_actions, rows[:, 0], rows[:, 1], rows[:, 2], probs, rewards
        )
    elif isinstance(reward, Mapping):
        spec, expected = dict(reward), None
    else:
        raise TabulariseError(f"reward: expected 'environment' or a reward spec, got {reward!r}")
    describe = _FAMILIES.get(type(base).__name__, _plain)
    feature_names, features, layout, action_names = describe(base, n_states)
    return TabularView(
        name=name or _name(env),
        n_actions=n_actions,
        states=rows[:, 0],
        actions=rows[:, 1],
        next_states=rows[:, 2],
        probs=probs,
        initial=initial / initial.sum(),
        terminal=terminal,
        horizon=horizon or _horizon(env),
        discount=discount,
        feature_names=feature_names,
        features=features,
        reward=spec,
        keys=tuple(range(n_states)),
        key_of=_current_state,
        layout=layout,
        action_names=action_names,
        env_reward=expected,
    )


def _current_state(env: Any) -> int:
    """A toy-text environment's state index."""
    return int(env.s)


def _n_actions(base: Any, model: Mapping[Any, Any]) -> int:
    """Actions of the model (its action space's size when it has one)."""
    n = getattr(getattr(base, "action_space", None), "n", None)
    if n is not None:
        return int(n)
    return len(next(iter(model.values())))


def _model_rows(
    model: Mapping[Any, Any], n_states: int, n_actions: int, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transition rows (s, a, s_next), probabilities and rewards, duplicate outcomes merged,
    with terminal states made absorbing; and the terminal mask."""
    entries = [
        (s, a, int(t), float(p), float(r), bool(done))
        for s in range(n_states)
        for a in range(n_actions)
        for p, t, r, done in model[s][a]
        if p > 0
    ]
    table = np.array([e[:5] for e in entries], dtype=np.float64).reshape(-1, 5)
    done = np.array([e[5] for e in entries], dtype=bool)
    source = table[:, 0].astype(np.int64)
    target = table[:, 2].astype(np.int64)
    terminal = _terminal_states(source, target, done, starts, n_states)
    live = ~terminal[source]
    kept = table[live]
    absorbing = np.flatnonzero(terminal)
    loops = np.column_stack(
        [
            np.repeat(absorbing, n_actions),
            np.tile(np.arange(n_actions), absorbing.size),
            np.repeat(absorbing, n_actions),
            np.ones(absorbing.size * n_actions),
            np.zeros(absorbing.size * n_actions),
        ]
    )
    merged = _merge(np.concatenate([kept, loops]), n_states, n_actions)
    return merged[:, :3].astype(np.int64), merged[:, 3], merged[:, 4], terminal


def _terminal_states(
    source: np.ndarray, target: np.ndarray, done: np.ndarray, starts: np.ndarray, n_states: int
) -> np.ndarray:
    """(S,) bool: the states that steps from reachable live states enter with termination.

    Only states reachable from the initial ones count (Taxi's model also steps from states
    no episode reaches); a state entered both with and without termination is refused.
    """
    order = np.argsort(source, kind="stable")
    bounds = np.searchsorted(source[order], np.arange(n_states + 1))
    terminal = np.zeros(n_states, dtype=bool)
    entered_alive = np.zeros(n_states, dtype=bool)
    seen = np.zeros(n_states, dtype=bool)
    seen[starts] = True
    frontier = [int(s) for s in starts]
    while frontier:
        s = frontier.pop()
        if terminal[s]:
            continue
        for row in order[bounds[s] : bounds[s + 1]]:
            t = int(target[row])
            if done[row]:
                terminal[t] = True
            else:
                entered_alive[t] = True
            if terminal[t] and entered_alive[t]:
                raise TabulariseError(
                    f"state {t} is entered both with and without termination (e.g. from "
                    f"state {s}): it cannot be made absorbing"
                )
            if not seen[t]:
                seen[t] = True
                frontier.append(t)
    return terminal


def _merge(table: np.ndarray, n_states: int, n_actions: int) -> np.ndarray:
    """Rows (s, a, s_next, p, r) with equal (s, a, s_next) summed into one (their rewards must
    agree: a reward that differs between two outcomes with the same next state cannot be
    written as R(s, a, s'))."""
    flat = (table[:, 0] * n_actions + table[:, 1]) * n_states + table[:, 2]
    unique, inverse = np.unique(flat.astype(np.int64), return_inverse=True)
    probs = np.bincount(inverse, weights=table[:, 3])
    rewards = np.zeros(len(unique))
    rewards[inverse] = table[:, 4]
    if not np.allclose(rewards[inverse], table[:, 4]):
        raise TabulariseError(
            "two outcomes of one (s, a) lead to the same state with different rewards"
        )
    s_a, t = np.divmod(unique, n_states)
    s, a = np.divmod(s_a, n_actions)
    return np.column_stack([s, a, t, probs, rewards])


Description = tuple[tuple[str, ...], np.ndarray, Layout | None, tuple[str, ...]]


def _grid_layout(rows: int, cols: int, n_states: int) -> Layout:
    """Row-major cells: state s at (s // cols, s % cols)."""
    index = np.arange(n_states)
    return Layout(rows=rows, cols=cols, cells=np.column_stack([index // cols, index % cols]))


def _frozen_lake(base: Any, n_states: int) -> Description:
    """`frozen` (F and S), `start`, `hole`, `goal`: what the agent stands on."""
    desc = np.asarray(base.desc, dtype="c")
    letters = desc.ravel()
    names = ("frozen", "start", "hole", "goal")
    wanted = ((b"F", b"S"), (b"S",), (b"H",), (b"G",))
    features = np.column_stack([np.isin(letters, w) for w in wanted]).astype(np.float64)
    rows, cols = desc.shape
    return names, features, _grid_layout(rows, cols, n_states), FROZEN_LAKE_ACTIONS


def _cliff_walking(base: Any, n_states: int) -> Description:
    """`cliff`, `cliff_edge` (a cliff cell is next to it), `start`, `goal`."""
    rows, cols = base.shape
    cliff = np.asarray(base._cliff, dtype=bool)
    edge = np.zeros_like(cliff)
    edge[:-1] |= cliff[1:]
    edge[1:] |= cliff[:-1]
    edge[:, :-1] |= cliff[:, 1:]
    edge[:, 1:] |= cliff[:, :-1]
    edge &= ~cliff
    start, goal = np.zeros_like(cliff), np.zeros_like(cliff)
    start.flat[int(base.start_state_index)] = True
    goal[rows - 1, cols - 1] = True
    features = np.column_stack([m.ravel() for m in (cliff, edge, start, goal)]).astype(float)
    return (
        ("cliff", "cliff_edge", "start", "goal"),
        features,
        _grid_layout(rows, cols, n_states),
        CLIFF_ACTIONS,
    )


def _taxi(base: Any, n_states: int) -> Description:
    """Passenger and destination: `passenger_in_taxi`, `at_passenger` (the taxi is where the
    passenger waits), `at_destination`, `delivered`, and `at_<depot>` for R, G, Y, B."""
    decoded = np.array([list(base.decode(s)) for s in range(n_states)], dtype=np.int64)
    row, col, passenger, destination = decoded.T
    depots = np.asarray(base.locs, dtype=np.int64)
    at = np.column_stack([(row == r) & (col == c) for r, c in depots])
    waiting = passenger < len(depots)
    passenger_cell = depots[np.minimum(passenger, len(depots) - 1)]
    columns = {
        "passenger_in_taxi": passenger == len(depots),
        "at_passenger": waiting & (row == passenger_cell[:, 0]) & (col == passenger_cell[:, 1]),
        "at_destination": at[np.arange(n_states), destination],
        "delivered": passenger == destination,
        **{f"at_{colour}": at[:, i] for i, colour in enumerate(TAXI_DEPOTS)},
    }
    features = np.column_stack(list(columns.values())).astype(np.float64)
    layout = Layout(rows=5, cols=5, cells=np.column_stack([row, col]))
    return tuple(columns), features, layout, TAXI_ACTIONS


def _plain(base: Any, n_states: int) -> Description:
    """An unknown model: no named features (the service then uses one-hot state features)."""
    return (), np.zeros((n_states, 0)), None, ()


_FAMILIES: dict[str, Callable[[Any, int], Description]] = {
    "FrozenLakeEnv": _frozen_lake,
    "CliffWalkingEnv": _cliff_walking,
    "TaxiEnv": _taxi,
}


def _horizon(env: Any) -> int:
    """The environment's time limit, or DEFAULT_HORIZON without one."""
    spec = getattr(env, "spec", None)
    return int(getattr(spec, "max_episode_steps", None) or DEFAULT_HORIZON)


def _name(env: Any) -> str:
    """The registered id with its kwargs, e.g. `FrozenLake-v1(map_name=8x8)`; a custom map is
    shown row by row (`desc=SFH/FFF/HFG`)."""
    spec = getattr(env, "spec", None)
    if spec is None:
        return type(getattr(env, "unwrapped", env)).__name__
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
    if kwargs.get("desc") is not None:
        kwargs.pop("map_name", None)
        kwargs["desc"] = "/".join(
            row.decode() if isinstance(row, bytes) else "".join(map(str, row))
            for row in kwargs["desc"]
        )
    shown = ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
    return f"{spec.id}({shown})" if shown else str(spec.id)
