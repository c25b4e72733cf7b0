"""The maze story as test scenarios: a door-seeker, a red-seeker and a random walker in a test maze.

Training mazes had red exit doors, so "door" and "red" were the same thing there. In the test
maze below they come apart: the door is blue and red cells are distractors far from it. Every
agent is trained on (and judged against) the reward on `door`; only the door-seeker pursues it.
No pytest imports: reusable from any suite.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from irl.algorithms import mce_irl
from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.rewards import LinearReward
from irl.trajectories import TrajectorySet
from tests.irl.gridworld import gridworld_spec, sample_trajectories

Agent = Literal["door_seeker", "red_seeker", "random_walker"]
AGENTS: tuple[Agent, ...] = ("door_seeker", "red_seeker", "random_walker")
TRAINING_WEIGHTS: Mapping[str, float] = {"door": 1.0}
AGENT_REWARDS: Mapping[Agent, Mapping[str, float]] = {
    "door_seeker": {"door": 3.0},
    "red_seeker": {"red": 3.0},
    "random_walker": {},
}
"""The reward each agent is soft-optimal for; the empty reward gives the uniform-random policy."""
ROWS = COLS = 6
N_TRAJECTORIES = 50


@dataclass(frozen=True)
class Scenario:
    """One agent's demonstrations in the test maze, with the training reward."""

    agent: Agent
    mdp: TabularMDP
    trajectories: TrajectorySet
    training: LinearReward


def shifted_maze_spec() -> dict[str, Any]:
    """6x6 test maze: a blue door in the bottom-right corner, red distractors in the other corners.

    Starts are uniform over cells and the horizon (12) lets every start reach any cell, so a
    door-seeker and a red-seeker go to different places from almost everywhere.
    """
    return gridworld_spec(
        rows=ROWS,
        cols=COLS,
        door=((ROWS - 1, COLS - 1),),
        blue=((ROWS - 1, COLS - 1), (2, 3)),
        red=((0, 0), (0, COLS - 1), (ROWS - 1, 0)),
        reward=TRAINING_WEIGHTS,
        name="maze-6x6-test",
    )


def scenario(agent: Agent, *, seed: int, n: int = N_TRAJECTORIES) -> Scenario:
    """n trajectories of `agent` in the test maze, sampled with default_rng(seed)."""
    spec = shifted_maze_spec()
    rng = np.random.default_rng(seed)
    trajectories = sample_trajectories(spec, n=n, rng=rng, reward=AGENT_REWARDS[agent])
    return Scenario(
        agent=agent,
        mdp=parse_tabular_mdp(spec),
        trajectories=parse_trajectories(trajectories),
        training=LinearReward(TRAINING_WEIGHTS),
    )


def linear_refit(mdp: TabularMDP, *, seed: int) -> Callable[[TrajectorySet], LinearReward]:
    """What the service passes as `refit`: linear MCE IRL on resampled trajectories."""
    rng = np.random.default_rng(seed)

    def refit(trajectories: TrajectorySet) -> LinearReward:
        """Linear MCE IRL fit of one bootstrap resample."""
        reward = mce_irl(mdp=mdp, trajectories=trajectories, reward_model="linear", rng=rng).reward
        assert isinstance(reward, LinearReward)
        return reward

    return refit


def fit_linear(s: Scenario, *, seed: int) -> LinearReward:
    """The linear MCE IRL reward of a scenario's demonstrations."""
    return linear_refit(s.mdp, seed=seed)(s.trajectories)
