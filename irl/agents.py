"""Scripted maze agents (door-seeker, red-seeker, random walker) and their API trajectories.

Seekers are soft-optimal (MaxEnt) for a linear reward of 1 on their feature ("door" or "red"),
planned exactly on the maze's tabular MDP with irl.planning.soft_optimal_policy: pi ∝ exp(Q / T).
With the undiscounted horizon every step earlier at the target is worth 1, so a low temperature
goes to the nearest target by a shortest path and stays; a high one wanders. The random walker
picks the 5 actions uniformly. Trajectories always last the maze's horizon (never terminal) and
`rews` hold the training reward (door[s] of the state acted from).
"""

from typing import Any, Literal, get_args

import numpy as np
import scipy.sparse

from irl.environments.maze import Maze
from irl.environments.maze_gym import MazeEnv
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import soft_optimal_policy, uniform_policy
from irl.rewards import LinearReward, reward_array

Agent = Literal["door_seeker", "red_seeker", "random_walker"]
AGENTS: tuple[Agent, ...] = get_args(Agent)
AGENT_WEIGHTS: dict[Agent, dict[str, float]] = {
    "door_seeker": {"door": 1.0},
    "red_seeker": {"red": 1.0},
    "random_walker": {},
}
"""The reward each agent is soft-optimal for (the random walker's policy is uniform)."""
DEFAULT_TEMPERATURE = 0.25


def agent_policy(
    mdp: TabularMDP, agent: Agent, *, temperature: float = DEFAULT_TEMPERATURE
) -> np.ndarray:
    """(H, S, A) float64 policy of a scripted agent in a maze's tabular MDP."""
    if agent not in AGENTS:
        raise InvalidInputError.at("agent", f"expected one of {', '.join(AGENTS)}")
    if agent == "random_walker":
        return np.broadcast_to(uniform_policy(mdp), (mdp.horizon, mdp.n_states, mdp.n_actions))
    reward = reward_array(LinearReward(AGENT_WEIGHTS[agent]), mdp)
    return soft_optimal_policy(mdp, reward, temperature=temperature)


def tabular_trajectories(
    maze: Maze,
    *,
    agent: Agent,
    n: int,
    rng: np.random.Generator,
    temperature: float = DEFAULT_TEMPERATURE,
) -> list[dict[str, Any]]:
    """n trajectories in the API's JSON format with state-index observations."""
    mdp = maze.to_mdp()
    policy = agent_policy(mdp, agent, temperature=temperature)
    states = _sample_rows(rng, np.broadcast_to(mdp.initial_state_dist, (n, mdp.n_states)))
    obs, acts = [states], []
    for t in range(mdp.horizon):
        actions = _sample_rows(rng, policy[t, obs[-1]])
        acts.append(actions)
        obs.append(_sample_successors(rng, mdp.transitions, obs[-1] * mdp.n_actions + actions))
    obs_matrix, acts_matrix = np.stack(obs, axis=1), np.stack(acts, axis=1)
    return [
        {
            "obs": o.tolist(),
            "acts": a.tolist(),
            "rews": maze.rewards[o[:-1]].tolist(),
            "terminal": False,
        }
        for o, a in zip(obs_matrix, acts_matrix, strict=True)
    ]


def gym_trajectories(
    maze: Maze,
    *,
    agent: Agent,
    n: int,
    rng: np.random.Generator,
    temperature: float = DEFAULT_TEMPERATURE,
) -> list[dict[str, Any]]:
    """n trajectories rolled out in MazeEnv, observations flattened (5 * side * side) images."""
    policy = agent_policy(maze.to_mdp(), agent, temperature=temperature)
    env = MazeEnv(maze=maze)
    trajectories = []
    for _ in range(n):
        observation, info = env.reset(seed=int(rng.integers(2**31)))
        obs, acts, rews = [observation.ravel().tolist()], [], []
        truncated = False
        while not truncated:
            action = int(_sample_rows(rng, policy[info["t"], info["state"]][None])[0])
            observation, reward, _, truncated, info = env.step(action)
            obs.append(observation.ravel().tolist())
            acts.append(action)
            rews.append(reward)
        trajectories.append({"obs": obs, "acts": acts, "rews": rews, "terminal": False})
    return trajectories


def _sample_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """(n,) int64: one index per row of an (n, k) probability matrix, by inverse CDF."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), probabilities.shape[1] - 1)


def _sample_successors(
    rng: np.random.Generator, transitions: scipy.sparse.csr_array, rows: np.ndarray
) -> np.ndarray:
    """(n,) int64: a next state drawn from each given row s * A + a of the sparse dynamics."""
    indptr, indices = transitions.indptr, transitions.indices
    cumulative = np.cumsum(transitions.data)
    before = cumulative[indptr[rows]] - transitions.data[indptr[rows]]
    target = before + rng.random(len(rows)) * (cumulative[indptr[rows + 1] - 1] - before)
    position = np.searchsorted(cumulative, target, side="right")
    return np.asarray(indices[np.clip(position, indptr[rows], indptr[rows + 1] - 1)])
