"""Maze suite: determinism, solvability, distribution properties, tabular spec, gymnasium view."""

import time

import gymnasium as gym
import numpy as np
import pytest

from irl.environments.maze import (
    DISTRIBUTIONS,
    FEATURE_NAMES,
    MAX_MAZE_HORIZON,
    Distribution,
    Maze,
    generate_maze,
)
from irl.environments.maze_gym import MAZE_IDS, MazeEnv, register_mazes, state_observations
from irl.errors import InvalidInputError
from irl.io.environments import parse_tabular_mdp
from irl.rewards import reward_array

N_SEEDS = 200


def mazes(distribution: Distribution, *, size: int = 5) -> list[Maze]:
    """The first N_SEEDS mazes of a distribution."""
    return [generate_maze(size=size, distribution=distribution, seed=s) for s in range(N_SEEDS)]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_same_seed_same_maze(distribution: Distribution) -> None:
    first = generate_maze(size=6, distribution=distribution, seed=11)
    again = generate_maze(size=6, distribution=distribution, seed=11)
    assert first == again and hash(first) == hash(again)
    assert first.to_spec() == again.to_spec()
    assert generate_maze(size=6, distribution=distribution, seed=12) != first


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_every_maze_is_solvable_and_connected(distribution: Distribution) -> None:
    for maze in mazes(distribution):
        distances = maze.distances()
        assert distances[maze.state_of[maze.door]] > 0
        assert (distances >= 0).all(), "a perfect maze connects every open square"
        assert distances.max() <= maze.horizon // 2


def test_train_doors_are_red_without_red_distractors() -> None:
    for maze in mazes("train"):
        assert maze.door_colour == "red" and maze.red_cells == (maze.door,)


def test_test_doors_are_blue_with_red_distractors() -> None:
    for maze in mazes("test"):
        assert maze.door_colour == "blue" and maze.door not in maze.red_cells
        assert len(maze.red_cells) >= 1


def test_decorrelated_mixes_door_colours_and_distractors() -> None:
    samples = mazes("decorrelated")
    red_door = [m.door_colour == "red" for m in samples]
    distracted = [any(o.colour == "red" for o in m.objects) for m in samples]
    combos = set(zip(red_door, distracted, strict=True))
    assert combos == {(True, True), (True, False), (False, True), (False, False)}
    assert 0.35 < np.mean(red_door) < 0.65


def test_door_sits_in_a_dead_end_away_from_the_start() -> None:
    for maze in mazes("test"):
        r, c = maze.door
        assert maze.door != maze.start
        assert (
            sum(not maze.walls[r + dr, c + dc] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)))
            == 1
        )


def test_spec_parses_with_unit_rows_absorbing_door_and_layout() -> None:
    maze = generate_maze(size=5, distribution="test", seed=3)
    mdp = parse_tabular_mdp(maze.to_spec())
    assert (mdp.n_states, mdp.n_actions, mdp.horizon) == (2 * 25 - 1, 5, 100)
    np.testing.assert_allclose(np.asarray(mdp.transitions.sum(axis=1)), 1.0)
    assert mdp.feature_names == FEATURE_NAMES
    assert np.flatnonzero(mdp.is_absorbing()).tolist() == [maze.state_of[maze.door]]
    assert mdp.initial_state_dist[maze.state_of[maze.start]] == 1.0
    assert mdp.layout is not None and mdp.layout.rows == mdp.layout.cols == 11
    assert [tuple(cell) for cell in mdp.layout.cells.tolist()] == list(maze.states)
    door, red, blue, wall = mdp.features.T
    assert door.sum() == 1 and blue[maze.state_of[maze.door]] == 1 and red.sum() >= 1
    assert set(np.unique(wall)) <= {0.0, 0.25, 0.5, 0.75}
    rewards = reward_array(mdp.reward, mdp)  # type: ignore[arg-type]
    np.testing.assert_array_equal(rewards[:, 0, 0], maze.rewards)


def test_moves_into_walls_stay_and_moves_along_corridors_change_square() -> None:
    maze = generate_maze(size=4, distribution="train", seed=0)
    for s, (r, c) in enumerate(maze.states):
        if (r, c) == maze.door:
            continue
        for a, (dr, dc) in enumerate(((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))):
            expected = (r, c) if maze.walls[r + dr, c + dc] else (r + dr, c + dc)
            assert maze.states[maze.next_states[s, a]] == expected


@pytest.mark.parametrize(
    ("size", "distribution"), [(2, "train"), (151, "train"), (5, "everything")]
)
def test_refuses_bad_arguments(size: int, distribution: Distribution) -> None:
    with pytest.raises(InvalidInputError):
        generate_maze(size=size, distribution=distribution, seed=0)


def test_a_100x100_maze_generates_and_builds_its_mdp_in_seconds() -> None:
    """About 0.3 s on one core (generation 0.1 s, MDP 0.15 s): both are O(cells)."""
    start = time.perf_counter()
    maze = generate_maze(size=100, distribution="test", seed=0)
    mdp = maze.to_mdp()
    elapsed = time.perf_counter() - start
    assert mdp.n_states == 2 * 100**2 - 1
    assert mdp.transitions.shape == (mdp.n_states * 5, mdp.n_states)
    assert mdp.horizon == MAX_MAZE_HORIZON
    distance = maze.distances()[maze.state_of[maze.door]]
    assert 0 < distance <= MAX_MAZE_HORIZON // 2
    assert elapsed < 5.0


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_gym_steps_match_tabular_transitions_and_rewards(distribution: Distribution) -> None:
    maze = generate_maze(size=4, distribution=distribution, seed=7)
    mdp = parse_tabular_mdp(maze.to_spec())
    successors = mdp.dense_transitions().argmax(axis=2)
    rewards = reward_array(mdp.reward, mdp)  # type: ignore[arg-type]
    observations = state_observations(maze)
    env = MazeEnv(maze=maze)
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            obs, _ = env.reset(options={"state": s})
            np.testing.assert_array_equal(obs, observations[s])
            obs, reward, terminated, truncated, info = env.step(a)
            t = successors[s, a]
            assert mdp.transitions[[s * mdp.n_actions + a], [t]] == 1.0
            assert (info["state"], reward, terminated, truncated) == (
                t,
                rewards[s, a, t],
                False,
                False,
            )
            np.testing.assert_array_equal(obs, observations[t])
            assert env.observation_space.contains(obs)


def test_gym_episodes_last_the_horizon() -> None:
    env = MazeEnv(distribution="test", size=3, maze_seed=1)
    _, info = env.reset(seed=0)
    assert info["state"] == env.maze.state_of[env.maze.start]
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == env.maze.horizon == 36


def test_registered_ids_make_fixed_and_distribution_envs() -> None:
    register_mazes()
    register_mazes()
    fixed = gym.make(MAZE_IDS["test"], maze_seed=3, size=5)
    fixed.reset(seed=0)
    assert fixed.unwrapped.maze == generate_maze(size=5, distribution="test", seed=3)  # type: ignore[attr-defined]
    fixed.reset(seed=1)
    assert fixed.unwrapped.maze.seed == 3  # type: ignore[attr-defined]
    sampled = gym.make(MAZE_IDS["train"], size=4)
    seeds = {sampled.reset(seed=seed)[1]["maze_seed"] for seed in range(5)}
    assert len(seeds) == 5
    assert sampled.reset(seed=2)[1]["maze_seed"] == sampled.reset(seed=2)[1]["maze_seed"]
    assert sampled.unwrapped.maze.distribution == "train"  # type: ignore[attr-defined]
    obs, *_ = sampled.step(0)
    assert obs.shape == (5, 9, 9) and obs.dtype == np.float32


def test_distribution_env_needs_reset_before_maze() -> None:
    env = MazeEnv(distribution="decorrelated", size=3)
    with pytest.raises(gym.error.ResetNeeded):
        _ = env.maze
    env.reset(seed=0)
    assert env.maze.distribution == "decorrelated"


def test_ansi_render_marks_the_agent() -> None:
    env = MazeEnv(maze=generate_maze(size=3, distribution="train", seed=0), render_mode="ansi")
    env.reset()
    text = env.render()
    assert isinstance(text, str) and text.count("A") == 1 and "S" not in text
    assert len(text.splitlines()) == 7
