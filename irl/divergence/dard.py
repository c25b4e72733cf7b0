"""DARD, the dynamics-aware reward distance (Wulfe et al., ICLR 2022), exact for tabular MDPs.

Like EPIC, but the canonicalisation draws next states from the transition model instead of from
a state distribution, so it queries rewards only on (or next to) transitions the dynamics allow.
"""

import numpy as np
import scipy.sparse

from irl.divergence.epic import (
    _check_discount,
    _check_reward,
    pearson_distance,
    transition_coverage,
)
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import expected_rewards


def dard_canonicalize(mdp: TabularMDP, reward: np.ndarray, discount: float) -> np.ndarray:
    """C(R)(s,a,s') = R(s,a,s') + E[gamma R(s',A,S'') - R(s,A,S') - gamma R(S',A,S'')], (S, A, S).

    One A ~ uniform per expectation, S' ~ T(. | s, A) and S'' ~ T(. | s', A) (the paper's
    definition). The first two expectations are the uniform policy's expected one-step reward
    u(x); the last is mean_a (T_a R_a T_a^T)[s, s'] with T_a the (S, S) dynamics of action a.
    """
    _check_mdp_reward(mdp, reward, "reward")
    _check_discount(discount)
    one_step = expected_rewards(mdp, reward).mean(axis=1)
    cross = _successor_cross_means(mdp, reward)
    return (
        reward
        + discount * one_step[None, None, :]
        - one_step[:, None, None]
        - discount * cross[:, None, :]
    )


def dard_distance(
    mdp: TabularMDP,
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    *,
    discount: float,
    coverage: np.ndarray | None = None,
) -> float:
    """DARD in [0, 1]: Pearson distance of DARD-canonical rewards, (S, A, S) arrays.

    coverage: (S, A, S) weights; None means the feasible transitions (transition_coverage), the
    distribution DARD is designed for, rather than EPIC's uniform one.
    """
    _check_mdp_reward(mdp, reward_a, "a")
    _check_mdp_reward(mdp, reward_b, "b")
    weights = transition_coverage(mdp) if coverage is None else coverage
    check_coverage(weights, reward_a.shape)
    return pearson_distance(
        dard_canonicalize(mdp, reward_a, discount),
        dard_canonicalize(mdp, reward_b, discount),
        weights,
    )


def check_coverage(coverage: np.ndarray, shape: tuple[int, ...]) -> None:
    """Refuse coverage weights whose shape is not the rewards' (S, A, S)."""
    if coverage.shape != shape:
        raise InvalidInputError.at(
            "coverage", f"shape {list(coverage.shape)}, expected {list(shape)}"
        )


def _successor_cross_means(mdp: TabularMDP, reward: np.ndarray) -> np.ndarray:
    """(S, S) float64: E[R(S', A, S'')], A uniform, S' ~ T(. | s, A), S'' ~ T(. | s', A)."""
    total = np.zeros((mdp.n_states, mdp.n_states))
    for action in range(mdp.n_actions):
        dynamics = scipy.sparse.csr_array(mdp.transitions[action :: mdp.n_actions])
        total += dynamics @ (dynamics @ reward[:, action, :].T).T
    return total / mdp.n_actions


def _check_mdp_reward(mdp: TabularMDP, reward: np.ndarray, loc: str) -> None:
    """Refuse anything but a finite (S, A, S) array of this MDP's sizes."""
    _check_reward(reward, loc)
    shape = (mdp.n_states, mdp.n_actions, mdp.n_states)
    if reward.shape != shape:
        raise InvalidInputError.at(loc, f"shape {list(reward.shape)}, expected {list(shape)}")
