"""The network-reward report: sampled EPIC and DARD on maze images, with the maze dynamics."""

import numpy as np
import pytest

from irl.agents import gym_trajectories
from irl.divergence.sampled import RewardFn
from irl.environments.gym_dynamics import maze_successors
from irl.environments.gym_rewards import maze_door_reward
from irl.environments.maze import generate_maze
from irl.io.trajectories import parse_trajectories
from irl.report import sampled_report
from irl.trajectories import TrajectorySet

DISCOUNT = 0.9
RED_CHANNEL, AGENT_CHANNEL = 3, 1


def door(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    """The maze training reward as a three-argument callable."""
    return maze_door_reward(obs, acts, next_obs, None)


def red(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    """1 for acting from a red square: what a red-seeker is after."""
    flat = np.asarray(obs).reshape(len(obs), 5, -1)
    return (flat[:, AGENT_CHANNEL] * flat[:, RED_CHANNEL]).sum(axis=1)


def shaped(scale: float, seed: int) -> RewardFn:
    """scale * door + gamma * phi(s') - phi(s), phi a random table over agent squares."""
    phi = np.random.default_rng(seed).normal(size=5 * 7 * 7)

    def reward(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        def potential(x: np.ndarray) -> np.ndarray:
            return np.asarray(x).reshape(len(x), 5, -1)[:, AGENT_CHANNEL] @ phi[: 7 * 7]

        return scale * door(obs, acts, next_obs) + DISCOUNT * potential(next_obs) - potential(obs)

    return reward


@pytest.fixture(scope="module")
def rollouts() -> TrajectorySet:
    """A wandering door-seeker (high temperature, so the coverage is broad) in a test maze."""
    maze = generate_maze(size=3, distribution="test", seed=4)
    items = gym_trajectories(
        maze, agent="door_seeker", n=6, rng=np.random.default_rng(0), temperature=2.0
    )
    return parse_trajectories(items)


def report(rollouts: TrajectorySet, inferred: RewardFn, **kwargs: object) -> dict:
    return sampled_report(
        inferred=inferred,
        trajectories=rollouts,
        discount=DISCOUNT,
        rng=np.random.default_rng(1),
        **kwargs,
    ).to_dict()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_epic_and_dard_ignore_shaping_and_scale(rollouts: TrajectorySet, seed: int) -> None:
    body = report(rollouts, shaped(3.0, seed), reference=door, sample_next=maze_successors)
    assert body["metrics"]["epic"] == pytest.approx(0.0, abs=1e-6)
    assert body["metrics"]["dard"] == pytest.approx(0.0, abs=1e-6)
    assert body["metrics"]["pearson"] > 0.05  # the plain Pearson distance is not invariant
    assert body["coverage"]["dard_transitions"] == min(rollouts.n_transitions, 500)


def test_a_different_goal_is_far(rollouts: TrajectorySet) -> None:
    body = report(rollouts, red, reference=door, sample_next=maze_successors)
    assert body["metrics"]["epic"] > 0.3
    assert body["metrics"]["dard"] > 0.3
    assert body["verdict"] == "inconclusive"
    assert f"sampled DARD {body['metrics']['dard']:.2f}" in body["explanation"]


def test_dard_needs_the_dynamics_and_a_reference_function(rollouts: TrajectorySet) -> None:
    without_dynamics = report(rollouts, red, reference=door)
    assert without_dynamics["metrics"]["dard"] is None
    assert "dynamics are not known" in without_dynamics["explanation"]
    assert without_dynamics["coverage"]["dard_transitions"] == 0
    recorded = report(rollouts, red, reference=rollouts.rews, sample_next=maze_successors)
    assert recorded["metrics"]["epic"] is None and recorded["metrics"]["dard"] is None
    assert recorded["coverage"]["transitions"] == recorded["coverage"]["dard_transitions"] == 0
    assert "known only on the visited transitions" in recorded["explanation"]
