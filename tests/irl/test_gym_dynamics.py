"""The known-dynamics samplers agree with the environments they stand for."""

import gymnasium as gym
import numpy as np
import pytest
import seals  # noqa: F401 (registers the seals/ ids)

from irl.environments.gym_dynamics import (
    KNOWN_DYNAMICS_IDS,
    environment_successors,
    maze_successors,
)
from irl.environments.maze import generate_maze
from irl.environments.maze_gym import MazeEnv, register_mazes, state_observations


@pytest.mark.parametrize("distribution", ["train", "test", "decorrelated"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_maze_successors_match_the_tabular_moves_everywhere(distribution: str, seed: int) -> None:
    maze = generate_maze(size=4, distribution=distribution, seed=seed)  # type: ignore[arg-type]
    images = state_observations(maze)
    n_actions = maze.next_states.shape[1]
    obs = np.repeat(images, n_actions, axis=0)
    acts = np.tile(np.arange(n_actions), maze.n_states)
    expected = images[maze.next_states.ravel()]
    np.testing.assert_array_equal(maze_successors(obs, acts), expected)
    flat = maze_successors(obs.reshape(len(obs), -1), acts)
    np.testing.assert_array_equal(flat, expected.reshape(len(obs), -1))


def test_maze_successors_follow_an_episode_of_the_gym_environment() -> None:
    env = MazeEnv(distribution="decorrelated", size=3)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        action = int(rng.integers(5))
        predicted = maze_successors(obs[None], np.array([action]))[0]
        obs, *_ = env.step(action)
        np.testing.assert_array_equal(predicted, obs)


def _recorded_steps(env_id: str, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """(obs, acts, next_obs) of n steps of random actions, resetting when an episode ends."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while len(rows) < n:
        action = env.action_space.sample()
        next_obs, _, terminated, truncated, _ = env.step(action)
        rows.append((obs, np.asarray(action), next_obs))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    return tuple(np.stack(column) for column in zip(*rows, strict=True))


@pytest.mark.parametrize(
    "env_id",
    [i for i in KNOWN_DYNAMICS_IDS if not i.startswith("mesascope/")],
)
def test_classic_control_successors_reproduce_recorded_steps(env_id: str) -> None:
    obs, acts, next_obs = _recorded_steps(env_id, 300, seed=3)
    sample_next = environment_successors(env_id)
    assert sample_next is not None
    predicted = sample_next(obs, acts)
    assert predicted.shape == next_obs.shape
    # Observations are float32, the simulators' states float64: agreement to float32 rounding.
    np.testing.assert_allclose(predicted, next_obs, rtol=1e-4, atol=1e-4)


def test_seals_mountain_car_goal_state_absorbs() -> None:
    sample_next = environment_successors("seals/MountainCar-v0")
    assert sample_next is not None
    goal = np.array([[0.55, 0.01]], dtype=np.float32)
    np.testing.assert_array_equal(sample_next(goal, np.array([0])), goal)


def test_unknown_dynamics_give_none() -> None:
    register_mazes()
    assert environment_successors("LunarLander-v2") is None
    assert all(environment_successors(i) is not None for i in KNOWN_DYNAMICS_IDS)


@pytest.mark.parametrize(
    ("env_id", "state", "action"),
    [
        ("seals/CartPole-v0", [0.1, 0.0, np.pi - 0.001, 2.0], 1),  # theta wraps to -pi
        ("CartPole-v1", [0.1, 0.0, np.pi - 0.001, 2.0], 0),  # gymnasium's does not wrap
        ("MountainCar-v0", [-1.2, -0.05], 0),  # the left wall stops the car
        ("seals/MountainCar-v0", [-1.19, -0.07], 0),
    ],
)
def test_edge_states_match_the_simulator(env_id: str, state: list[float], action: int) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    env.state = np.array(state)
    expected = np.asarray(env.step(action)[0], dtype=np.float32)
    sample_next = environment_successors(env_id)
    assert sample_next is not None
    predicted = sample_next(np.array([state], dtype=np.float32), np.array([action]))[0]
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
