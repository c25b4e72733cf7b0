"""Exact normalised regret in tabular MDPs: the cost, under one reward, of optimising another."""

import numpy as np

from irl.divergence.dard import _check_mdp_reward
from irl.environments.tabular import TabularMDP
from irl.planning import optimal_policy, policy_value, uniform_policy

SPREAD_TOLERANCE = 1e-12


def regret(mdp: TabularMDP, true_reward: np.ndarray, proxy_reward: np.ndarray) -> float | None:
    """(J(pi*_true) - J(pi*_proxy)) / (J(pi*_true) - J(uniform)) under true_reward, in [0, 1].

    Returns J are the MDP's own (horizon, discount, initial distribution); rewards are (S, A, S).
    Asymmetric: the regret of acting on the proxy when the true reward holds. Values above 1
    (the proxy's optimum does worse than acting at random) are clipped to 1. None when the
    optimal and uniform-random returns under true_reward coincide (every policy is as good).
    """
    _check_mdp_reward(mdp, true_reward, "a")
    _check_mdp_reward(mdp, proxy_reward, "b")
    best = policy_value(mdp, true_reward, optimal_policy(mdp, true_reward))
    random = policy_value(mdp, true_reward, uniform_policy(mdp))
    spread = best - random
    if abs(spread) <= SPREAD_TOLERANCE * max(1.0, abs(best), abs(random)):
        return None
    achieved = policy_value(mdp, true_reward, optimal_policy(mdp, proxy_reward))
    return float(np.clip((best - achieved) / spread, 0.0, 1.0))


def symmetric_regret(mdp: TabularMDP, reward_a: np.ndarray, reward_b: np.ndarray) -> float | None:
    """max(regret(a, b), regret(b, a)), ignoring a direction that is None; None if both are."""
    both = (regret(mdp, reward_a, reward_b), regret(mdp, reward_b, reward_a))
    values = [value for value in both if value is not None]
    return max(values) if values else None
