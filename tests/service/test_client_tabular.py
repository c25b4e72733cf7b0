"""Tabular views of toy-text worlds and of any copyable environment (service/client/tabular):
the transitions are the environment's own, the output is what irl.io accepts, and the
tabulariser refuses what it cannot tabulate."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from irl.algorithms.mce_irl import check_mce_irl_fit
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.rewards import reward_array
from service.client.tabular import (
    CopyAccess,
    TabulariseError,
    TabularView,
    record_episodes,
    tabularise,
    toy_text_view,
)

TOY_TEXT = [
    ("FrozenLake-v1", {}),
    ("FrozenLake-v1", {"is_slippery": False}),
    ("FrozenLake-v1", {"map_name": "8x8"}),
    ("FrozenLake-v1", {"desc": ["SFH", "FFF", "HFG"], "is_slippery": True}),
    ("CliffWalking-v0", {}),
    ("Taxi-v3", {}),
]


def outcomes(view: TabularView, state: int, action: int) -> dict[int, float]:
    """{next state: probability} of one (state, action) in the view."""
    rows = (view.states == state) & (view.actions == action)
    return dict(zip(view.next_states[rows].tolist(), view.probs[rows].tolist(), strict=True))


def reward_values(view: TabularView) -> np.ndarray:
    """R(s, a, s') of the view's training reward spec (tabular (S, A) or (S, A, S)), (S, A, S)."""
    assert view.reward is not None
    values = np.asarray(view.reward["values"], dtype=np.float64)
    shape = (view.n_states, view.n_actions, view.n_states)
    return np.broadcast_to(values.reshape(values.shape + (1,) * (3 - values.ndim)), shape)


@pytest.mark.parametrize(("env_id", "kwargs"), TOY_TEXT)
def test_toy_text_views_step_like_the_environment(env_id: str, kwargs: dict[str, Any]) -> None:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    view = toy_text_view(env)
    slippery = env_id.startswith("FrozenLake") and kwargs.get("is_slippery", True)
    samples = 60 if slippery else 1
    reachable = reachable_states(view)
    base = env.unwrapped
    rewards = reward_values(view)
    for state in np.flatnonzero(~view.terminal):
        for action in range(view.n_actions):
            expected = outcomes(view, int(state), action)
            assert sum(expected.values()) == pytest.approx(1.0)
            seen = set()
            for _ in range(samples):
                base.s = int(state)
                nxt, reward, terminated, _, _ = base.step(action)
                assert nxt in expected, (state, action, nxt)
                assert reward == rewards[state, action, nxt]
                if state in reachable:  # (Taxi's model also has states no episode reaches)
                    assert terminated == bool(view.terminal[nxt])
                seen.add(int(nxt))
            if samples > 1:  # every outcome of probability >= 1/3 shows up in 60 draws
                assert seen == {s for s, p in expected.items() if p > 0.3}
    for state in np.flatnonzero(view.terminal):
        for action in range(view.n_actions):
            assert outcomes(view, int(state), action) == {int(state): 1.0}
            assert rewards[state, action, state] == 0.0


def reachable_states(view: TabularView) -> set[int]:
    """The states reachable from the initial states."""
    seen = set(np.flatnonzero(view.initial > 0).tolist())
    frontier = list(seen)
    while frontier:
        s = frontier.pop()
        for t in view.next_states[view.states == s].tolist():
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    return seen


@pytest.mark.parametrize(("env_id", "kwargs"), TOY_TEXT)
def test_toy_text_views_are_accepted_by_irl_io(env_id: str, kwargs: dict[str, Any]) -> None:
    view = toy_text_view(gym.make(env_id, **kwargs))
    mdp = parse_tabular_mdp(view.to_spec())
    assert (mdp.n_states, mdp.n_actions) == (view.n_states, view.n_actions)
    dense = mdp.dense_transitions()
    assert np.allclose(dense[view.states, view.actions, view.next_states], view.probs)
    assert np.array_equal(mdp.is_absorbing(), view.terminal | mdp.is_absorbing())
    assert mdp.is_absorbing()[view.terminal].all()
    assert mdp.feature_names == view.feature_names
    assert mdp.layout is not None and mdp.reward is not None
    rewards = reward_array(mdp.reward, mdp)
    transitions = (view.states, view.actions, view.next_states)
    assert np.allclose(rewards[transitions], reward_values(view)[transitions])


def test_toy_text_features_name_what_the_cell_holds() -> None:
    lake = toy_text_view(gym.make("FrozenLake-v1", desc=["SFH", "FFF", "HFG"]))
    assert lake.feature_names == ("frozen", "start", "hole", "goal")
    assert lake.feature_column("hole").tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert lake.feature_column("goal")[8] == 1 and lake.terminal.tolist() == [
        False, False, True, False, False, False, True, False, True,
    ]  # fmt: skip
    assert lake.layout is not None and lake.layout.cells[5].tolist() == [1, 2]
    cliff = toy_text_view(gym.make("CliffWalking-v0"))
    assert cliff.feature_column("cliff").sum() == 10
    assert cliff.feature_column("cliff_edge")[2 * 12 + 5] == 1
    assert cliff.horizon == 100  # CliffWalking has no time limit: the default
    taxi = toy_text_view(gym.make("Taxi-v3"))
    assert {"passenger_in_taxi", "at_passenger", "at_destination"} <= set(taxi.feature_names)
    row, col, passenger, destination = taxi_state = (0, 0, 4, 0)
    state = gym.make("Taxi-v3").unwrapped.encode(*taxi_state)
    assert taxi.feature_column("passenger_in_taxi")[state] == 1
    assert taxi.feature_column("at_destination")[state] == 1
    assert (row, col, passenger, destination) == (0, 0, 4, 0)


def test_recorded_toy_text_episodes_are_valid_rollouts() -> None:
    view = toy_text_view(gym.make("FrozenLake-v1"))
    rng = np.random.default_rng(0)
    arrays = record_episodes(
        view, lambda: gym.make("FrozenLake-v1"), lambda obs: rng.integers(4), 20, seed=0
    )
    trajectories = parse_trajectories(arrays.to_json(), loc="trajectories")
    check_mce_irl_fit(parse_tabular_mdp(view.to_spec()), trajectories)
    assert arrays.terminal.any()


class Corridor(gym.Env[int, int]):
    """A 1-D corridor: move left (0) or right (1); the right end is the goal. With `slip`
    the move goes the other way one time in two."""

    def __init__(self, length: int = 5, slip: bool = False) -> None:
        self.length, self.slip, self.position = length, slip, 0
        self.action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.spaces.Discrete(length)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = 0
        return self.position, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        move = 1 if action == 1 else -1
        if self.slip and self.np_random.random() < 0.5:
            move = -move
        self.position = min(max(self.position + move, 0), self.length - 1)
        goal = self.position == self.length - 1
        return self.position, float(goal), goal, False, {}


class CorridorAccess(CopyAccess):
    def key(self, env: Any) -> Hashable:
        return env.unwrapped.position

    def features(self, env: Any) -> Mapping[str, float]:
        return {"goal": float(env.unwrapped.position == env.unwrapped.length - 1)}

    def cell(self, env: Any) -> tuple[int, int]:
        return 0, env.unwrapped.position


def reset_corridor(**kwargs: Any) -> Corridor:
    env = Corridor(**kwargs)
    env.reset(seed=0)
    return env


def test_the_tabulariser_steps_every_reachable_state_with_every_action() -> None:
    view = tabularise(reset_corridor(), CorridorAccess(), horizon=10)
    assert view.keys == (0, 1, 2, 3, 4)
    assert view.terminal.tolist() == [False, False, False, False, True]
    assert outcomes(view, 2, 1) == {3: 1.0} and outcomes(view, 0, 0) == {0: 1.0}
    assert outcomes(view, 4, 0) == {4: 1.0}
    assert view.reward == {
        "kind": "tabular",
        "values": [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
    }
    mdp = parse_tabular_mdp(view.to_spec())
    assert mdp.layout is not None and mdp.layout.cols == 5
    live = reset_corridor()
    live.step(1)
    assert view.state_of(live) == 1


def test_the_tabulariser_takes_a_reward_spec_and_several_initial_states() -> None:
    starts = [reset_corridor(), reset_corridor()]
    starts[1].position = 2
    view = tabularise(
        starts, CorridorAccess(), horizon=10, reward={"kind": "linear", "weights": {"goal": 1}}
    )
    assert view.initial.tolist() == [0.5, 0.5, 0, 0, 0]
    assert parse_tabular_mdp(view.to_spec()).reward is not None


def test_the_tabulariser_refuses_more_states_than_the_limit() -> None:
    with pytest.raises(TabulariseError, match="more than max_states=3 states"):
        tabularise(reset_corridor(), CorridorAccess(), horizon=10, max_states=3)


def test_the_tabulariser_refuses_a_stochastic_environment() -> None:
    with pytest.raises(TabulariseError, match="not deterministic under copy"):
        tabularise(reset_corridor(slip=True), CorridorAccess(), horizon=10)


def test_the_tabulariser_refuses_an_environment_it_cannot_copy() -> None:
    env = reset_corridor()
    env.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(TabulariseError, match="cannot copy the environment"):
        tabularise(env, CorridorAccess(), horizon=10)


def test_the_tabulariser_refuses_a_key_that_misses_part_of_the_state() -> None:
    class Blind(CorridorAccess):
        def key(self, env: Any) -> Hashable:
            return env.unwrapped.position > 2

    with pytest.raises(TabulariseError, match="the key misses part of the state"):
        tabularise(reset_corridor(), Blind(), horizon=10)


def test_the_tabulariser_refuses_continuous_actions_and_missing_horizons() -> None:
    env = reset_corridor()
    env.action_space = gym.spaces.Box(-1, 1, (1,))  # type: ignore[assignment]
    with pytest.raises(TabulariseError, match="not Discrete"):
        tabularise(env, CorridorAccess(), horizon=10)
    with pytest.raises(TabulariseError, match="pass horizon="):
        tabularise(reset_corridor(), CorridorAccess())


def test_a_live_state_the_view_does_not_know_is_refused() -> None:
    view = tabularise(reset_corridor(), CorridorAccess(), horizon=10)
    stranger = reset_corridor(length=9)
    stranger.position = 7
    with pytest.raises(TabulariseError, match="not in the tabular view"):
        view.state_of(stranger)


def test_a_model_free_environment_is_refused_by_the_toy_text_view() -> None:
    with pytest.raises(TabulariseError, match="no model P"):
        toy_text_view(reset_corridor())
