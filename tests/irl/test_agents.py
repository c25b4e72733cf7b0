"""Scripted maze agents: valid trajectories in both views, and who reaches the door."""

import numpy as np
import pytest

from irl.agents import AGENTS, Agent, agent_policy, gym_trajectories, tabular_trajectories
from irl.algorithms import mce_irl
from irl.environments.maze import Distribution, generate_maze
from irl.environments.maze_gym import state_observations
from irl.io.trajectories import check_tabular, parse_trajectories
from irl.rewards import LinearReward

SEEDS = range(10)


def door_rate(agent: Agent, *, distribution: Distribution = "test") -> float:
    """Fraction of 20 trajectories per maze, over SEEDS, that visit the door."""
    rng = np.random.default_rng(0)
    hits = []
    for seed in SEEDS:
        maze = generate_maze(size=5, distribution=distribution, seed=seed)
        door = maze.state_of[maze.door]
        hits += [door in t["obs"] for t in tabular_trajectories(maze, agent=agent, n=20, rng=rng)]
    return float(np.mean(hits))


@pytest.mark.parametrize("agent", AGENTS)
def test_tabular_trajectories_are_valid(agent: Agent) -> None:
    maze = generate_maze(size=5, distribution="decorrelated", seed=4)
    mdp = maze.to_mdp()
    trajectories = tabular_trajectories(maze, agent=agent, n=8, rng=np.random.default_rng(1))
    ts = parse_trajectories(trajectories)
    check_tabular(ts, mdp)
    assert (ts.lengths == mdp.horizon).all() and not ts.terminal.any()
    assert ts.obs[ts.obs_starts].tolist() == [maze.state_of[maze.start]] * 8
    states, _, _ = ts.transitions()
    np.testing.assert_array_equal(ts.rews, maze.rewards[states])


def test_same_rng_seed_same_trajectories() -> None:
    maze = generate_maze(size=4, distribution="test", seed=2)
    first = tabular_trajectories(maze, agent="red_seeker", n=3, rng=np.random.default_rng(5))
    again = tabular_trajectories(maze, agent="red_seeker", n=3, rng=np.random.default_rng(5))
    assert first == again


def test_door_seeker_reaches_the_door_far_more_often_than_the_random_walker() -> None:
    seeker, walker = door_rate("door_seeker"), door_rate("random_walker")
    assert seeker > 0.95 and walker < 0.3
    assert door_rate("red_seeker") < 0.05


def test_red_seeker_ends_on_the_nearest_red_square() -> None:
    maze = generate_maze(size=5, distribution="test", seed=6)
    distances = maze.distances()
    reds = [maze.state_of[cell] for cell in maze.red_cells]
    nearest = min(reds, key=lambda s: distances[s])
    trajectories = tabular_trajectories(
        maze, agent="red_seeker", n=10, rng=np.random.default_rng(0)
    )
    finals = [t["obs"][-1] for t in trajectories]
    assert np.mean([s == nearest for s in finals]) >= 0.9


def test_random_walker_policy_is_uniform_and_seekers_are_normalised() -> None:
    mdp = generate_maze(size=3, distribution="train", seed=0).to_mdp()
    np.testing.assert_allclose(agent_policy(mdp, "random_walker"), 0.2)
    for agent in ("door_seeker", "red_seeker"):
        np.testing.assert_allclose(agent_policy(mdp, agent, temperature=2.0).sum(axis=2), 1.0)


@pytest.mark.parametrize("agent", AGENTS)
def test_gym_trajectories_follow_the_tabular_states(agent: Agent) -> None:
    maze = generate_maze(size=3, distribution="test", seed=1)
    observations = state_observations(maze).reshape(maze.n_states, -1)
    for trajectory in gym_trajectories(maze, agent=agent, n=2, rng=np.random.default_rng(0)):
        obs = np.asarray(trajectory["obs"])
        assert obs.shape == (maze.horizon + 1, observations.shape[1])
        states = [int(np.flatnonzero((observations == o).all(axis=1))[0]) for o in obs]
        tabular = {"obs": states, "acts": trajectory["acts"]}
        check_tabular(parse_trajectories([tabular]), maze.to_mdp())
        np.testing.assert_array_equal(trajectory["rews"], maze.rewards[states[:-1]])


def test_mce_irl_weighs_red_above_door_for_the_red_seeker_in_test_mazes() -> None:
    rng = np.random.default_rng(0)
    for seed in range(3):
        maze = generate_maze(size=5, distribution="test", seed=seed)
        ts = parse_trajectories(tabular_trajectories(maze, agent="red_seeker", n=30, rng=rng))
        reward = mce_irl(mdp=maze.to_mdp(), trajectories=ts, reward_model="linear", rng=rng).reward
        assert isinstance(reward, LinearReward)
        assert reward.weights["red"] > reward.weights["door"] + 1.0
