"""Sampling trajectories of any tabular policy, and fixed action-bias policies (no pytest)."""

import numpy as np

from irl.environments import TabularMDP
from irl.io.trajectories import parse_trajectories
from irl.trajectories import TrajectorySet
from tests.irl.gridworld import ACTIONS


def sampled(mdp: TabularMDP, policy: np.ndarray, n: int, seed: int) -> TrajectorySet:
    """n full-horizon trajectories of an (H, S, A) policy."""
    rng = np.random.default_rng(seed)
    dense = mdp.dense_transitions()
    out = []
    for _ in range(n):
        s = int(rng.choice(mdp.n_states, p=mdp.initial_state_dist))
        obs, acts = [s], []
        for t in range(mdp.horizon):
            a = int(rng.choice(mdp.n_actions, p=policy[t, s]))
            s = int(rng.choice(mdp.n_states, p=dense[s, a]))
            obs.append(s)
            acts.append(a)
        out.append({"obs": obs, "acts": acts, "terminal": False})
    return parse_trajectories(out)


def biased(mdp: TabularMDP, action: str, p: float) -> np.ndarray:
    """The (H, S, A) policy taking `action` with probability p, others uniformly, everywhere."""
    probabilities = np.full(mdp.n_actions, (1 - p) / (mdp.n_actions - 1))
    probabilities[ACTIONS.index(action)] = p
    return np.broadcast_to(probabilities, (mdp.horizon, mdp.n_states, mdp.n_actions)).copy()
