"""Deep rewards on a tabular view: the full report for environments that have one.

A maze gym id with a fixed maze (`maze_seed` in its kwargs) is the maze's tabular MDP seen
through observation images, one image per state (irl.environments.maze_gym). A reward network
is projected onto that MDP by evaluating it on every state's image: R(s) is the mean over the
actions a of R(obs_s, a, obs_T(s,a)) (exactly R(obs_s) for a state-only network; for AIRL this is
the unshaped reward the fit returns). The demonstrations' images map back to state indices, so
the tabular report (irl.report.build_report with Exact) gives returns, goal-directedness, named
goals and a verdict.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from irl.callables import RewardFn
from irl.environments.maze import DEFAULT_SIZE, Maze, generate_maze
from irl.environments.maze_gym import CHANNELS, MAZE_IDS, state_observations
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.rewards import TabularReward
from irl.trajectories import TrajectorySet

_AGENT = CHANNELS.index("agent")


@dataclass(frozen=True, eq=False)
class TabularView:
    """A gymnasium environment's tabular MDP and the observation of each of its states."""

    maze: Maze
    mdp: TabularMDP
    observations: np.ndarray
    """(S, D) float32 flat observation of each state."""


def tabular_view(env_id: str, kwargs: Mapping[str, Any]) -> TabularView | None:
    """The tabular view of a maze id with a fixed maze; None for anything else (other ids,
    or a maze drawn afresh at every reset)."""
    distribution = next((d for d, i in MAZE_IDS.items() if i == env_id), None)
    seed = kwargs.get("maze_seed")
    if distribution is None or not isinstance(seed, int):
        return None
    maze = generate_maze(
        size=int(kwargs.get("size", DEFAULT_SIZE)), distribution=distribution, seed=seed
    )
    images = state_observations(maze)
    return TabularView(maze, maze.to_mdp(), images.reshape(maze.n_states, -1))


def project(reward: RewardFn, view: TabularView) -> TabularReward:
    """(S,) reward of each state: the network's mean over actions of R(s, a, T(s, a))."""
    n_states, n_actions = view.maze.next_states.shape
    states = np.repeat(np.arange(n_states), n_actions)
    actions = np.tile(np.arange(n_actions), n_states)
    successors = view.maze.next_states.reshape(-1)
    values = np.asarray(
        reward(view.observations[states], actions, view.observations[successors]),
        dtype=np.float64,
    )
    return TabularReward(values.reshape(n_states, n_actions).mean(axis=1))


def state_trajectories(trajectories: TrajectorySet, view: TabularView) -> TrajectorySet:
    """The trajectories with each observation image replaced by its state index."""
    side = view.maze.side
    images = np.asarray(trajectories.obs).reshape(len(trajectories.obs), len(CHANNELS), -1)
    if images.shape[2] != side * side:
        raise InvalidInputError.at("trajectories.obs", "observations are not this maze's images")
    rows, cols = np.divmod(images[:, _AGENT].argmax(axis=1), side)
    lookup = view.maze.state_of
    try:
        states = np.array([lookup[(int(r), int(c))] for r, c in zip(rows, cols, strict=True)])
    except KeyError:
        raise InvalidInputError.at(
            "trajectories.obs", "an observation puts the agent on a wall of this maze"
        ) from None
    return TrajectorySet(
        obs=states.astype(np.int64),
        acts=np.asarray(trajectories.acts, dtype=np.int64),
        rews=trajectories.rews,
        terminal=trajectories.terminal,
        lengths=trajectories.lengths,
    )
