"""MiniGrid instances as tabular views (service/client/tabular/minigrid.py): state counts,
transitions that agree with the real environment's step() on recorded episodes, features,
and refusals."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Floor, Goal
from minigrid.minigrid_env import MiniGridEnv

from irl.algorithms.mce_irl import check_mce_irl_fit
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from service.client.tabular import TabulariseError, TabularView, minigrid_view, record_episodes


def instance(env_id: str, seed: int = 0, **kwargs: Any) -> Any:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    return env


class ColourGrid(MiniGridEnv):
    """A custom grid: the goal in one corner and a red floor tile in another."""

    def __init__(self, size: int = 6, **kwargs: Any) -> None:
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: "reach the goal"),
            grid_size=size,
            max_steps=4 * size * size,
            **kwargs,
        )

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Goal(), width - 2, height - 2)
        self.put_obj(Floor("red"), 1, height - 2)
        self.agent_pos, self.agent_dir = (1, 1), 0
        self.mission = "reach the goal"


@pytest.mark.parametrize(
    ("env_id", "states"),
    [
        # 3 x 3 open cells, 4 directions, the goal entered facing right or down (absorbing)
        ("MiniGrid-Empty-5x5-v0", 8 * 4 + 2),
        ("MiniGrid-Empty-8x8-v0", 35 * 4 + 2),
    ],
)
def test_empty_rooms_have_the_counted_states(env_id: str, states: int) -> None:
    view = minigrid_view(instance(env_id))
    assert view.n_states == states
    assert view.terminal.sum() == 2
    assert view.feature_column("goal")[view.terminal].all()


def walk(view: TabularView, env: Any, episodes: int, rng: np.random.Generator) -> int:
    """Random episodes in the real environment: every step is a transition of the view."""
    rows = np.column_stack([view.states, view.actions, view.next_states]).tolist()
    transitions = {tuple(row) for row in rows}
    steps = 0
    for _ in range(episodes):
        env.reset(seed=0)
        state = view.state_of(env)
        for _ in range(view.horizon):
            action = int(rng.integers(view.n_actions))
            _, reward, terminated, truncated, _ = env.step(action)
            nxt = view.state_of(env)
            assert (state, action, nxt) in transitions
            assert terminated == bool(view.terminal[nxt])
            assert (reward > 0) == bool(terminated and view.feature_column("goal")[nxt])
            state, steps = nxt, steps + 1
            if terminated or truncated:
                break
    return steps


@pytest.mark.parametrize(
    "env_id",
    ["MiniGrid-DoorKey-5x5-v0", "MiniGrid-LavaGapS5-v0", "MiniGrid-MultiRoom-N2-S4-v0"],
)
def test_recorded_steps_of_the_real_environment_are_transitions_of_the_view(
    env_id: str,
) -> None:
    view = minigrid_view(instance(env_id))
    assert np.all(view.probs == 1.0)
    assert walk(view, instance(env_id), 30, np.random.default_rng(0)) > 500


def test_door_key_states_include_the_key_and_the_door() -> None:
    view = minigrid_view(instance("MiniGrid-DoorKey-5x5-v0"))
    names = set(view.feature_names)
    assert {"key_yellow_ahead", "carrying_key_yellow", "door_yellow_open", "goal"} <= names
    carrying = view.feature_column("carrying_key_yellow") > 0
    opened = view.feature_column("door_yellow_open") > 0
    assert carrying.any() and opened.any() and (opened & ~carrying).any()
    # the goal is behind the locked door: in every goal state it is unlocked (open or closed)
    for s in np.flatnonzero(view.feature_column("goal")):
        _, _, _, _, objects = view.keys[s]
        assert [state for *_, kind, _, state, _ in objects if kind == "door"] in ([0], [1])


def test_minigrid_views_are_accepted_by_irl_io_with_recorded_episodes() -> None:
    view = minigrid_view(instance("MiniGrid-LavaGapS5-v0"))
    mdp = parse_tabular_mdp(view.to_spec())
    assert mdp.is_absorbing()[view.terminal].all()
    assert mdp.layout is not None and (mdp.layout.rows, mdp.layout.cols) == (5, 5)
    rng = np.random.default_rng(1)
    arrays = record_episodes(
        view,
        lambda: gym.make("MiniGrid-LavaGapS5-v0"),
        lambda obs: rng.integers(3),
        10,
        seed=0,
        reset_seed=0,
    )
    check_mce_irl_fit(mdp, parse_trajectories(arrays.to_json(), loc="trajectories"))


def test_a_custom_grid_gets_features_for_its_colours() -> None:
    env = ColourGrid()
    env.reset(seed=0)
    view = minigrid_view(env, n_actions=3)
    assert view.n_actions == 3 and view.action_names == ("left", "right", "forward")
    assert {"goal", "green", "floor", "red", "wall_ahead", "goal_ahead"} <= set(view.feature_names)
    red = view.feature_column("red") > 0
    assert (view.layout is not None) and set(map(tuple, view.layout.cells[red])) == {(4, 1)}


def test_the_live_mapping_refuses_another_instance() -> None:
    view = minigrid_view(instance("MiniGrid-LavaGapS5-v0", seed=0))
    assert view.state_of(instance("MiniGrid-LavaGapS5-v0", seed=0)) == 0
    grid = instance("MiniGrid-LavaGapS5-v0", seed=0).unwrapped.grid.encode()
    other = next(
        env
        for seed in range(1, 50)
        if not np.array_equal(
            (env := instance("MiniGrid-LavaGapS5-v0", seed=seed)).unwrapped.grid.encode(), grid
        )
    )
    with pytest.raises(TabulariseError, match="not the instance the view was built from"):
        view.state_of(other)


def test_moving_obstacles_are_refused_as_not_deterministic() -> None:
    with pytest.raises(TabulariseError, match="not deterministic"):
        minigrid_view(instance("MiniGrid-Dynamic-Obstacles-5x5-v0"))


def test_too_many_states_are_refused() -> None:
    with pytest.raises(TabulariseError, match="more than max_states=500"):
        minigrid_view(instance("MiniGrid-DoorKey-8x8-v0"), max_states=500)


def test_other_environments_are_refused() -> None:
    with pytest.raises(TabulariseError, match="not a MiniGrid environment"):
        minigrid_view(gym.make("FrozenLake-v1"))
    with pytest.raises(TabulariseError, match="reset the MiniGrid environment"):
        minigrid_view(gym.make("MiniGrid-Empty-5x5-v0"))
