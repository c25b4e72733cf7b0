"""STARC distance (Skalse et al., ICLR 2024) with value-adjusted levelling, exact for tabular MDPs.

Canonicalise by value-adjusted levelling under the uniform-random policy (removes potential
shaping and constant shifts), normalise to unit weighted-L2 norm (removes positive scaling), and
take half the weighted-L2 distance, so values lie in [0, 1].
"""

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from irl.divergence.dard import _check_mdp_reward, check_coverage
from irl.divergence.epic import _check_discount, _normalized_weights
from irl.environments.tabular import TabularMDP
from irl.planning import expected_rewards

ZERO_TOLERANCE = 1e-10
RESIDUAL_TOLERANCE = 1e-9


def starc_canonicalize(mdp: TabularMDP, reward: np.ndarray, discount: float) -> np.ndarray:
    """Value-adjusted levelling, (S, A, S): R(s,a,s') - V(s) + gamma V(s'), pi uniform-random.

    For gamma < 1, V is the stationary infinite-horizon value of the uniform policy,
    V = (I - gamma P)^-1 r_pi, so time and the MDP's horizon play no part. For gamma = 1 it is
    the average-reward analogue R(s,a,s') - g - h(s) + h(s'), with gain g and bias h solving
    h = r_pi - g + P h, sum(h) = 0 (the gamma -> 1 limit). Either way potential shaping with
    this gamma and constant shifts canonicalise away exactly (for gamma = 1: when the uniform
    policy's chain has a single recurrent class; otherwise h is a least-squares solution).
    """
    _check_mdp_reward(mdp, reward, "reward")
    _check_discount(discount)
    chain = _uniform_chain(mdp)
    r_pi = expected_rewards(mdp, reward).mean(axis=1)
    if discount < 1.0:
        system = scipy.sparse.identity(mdp.n_states, format="csc") - discount * chain.tocsc()
        values = np.asarray(scipy.sparse.linalg.spsolve(system, r_pi), dtype=np.float64)
        values = values.reshape(mdp.n_states)
        return reward - values[:, None, None] + discount * values[None, None, :]
    gain, bias = _gain_and_bias(chain.toarray(), r_pi)
    return reward - gain - bias[:, None, None] + bias[None, None, :]


def starc_distance(
    mdp: TabularMDP,
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    *,
    discount: float,
    coverage: np.ndarray | None = None,
) -> float:
    """||n(C(R_a)) - n(C(R_b))||_w / 2 in [0, 1], n: unit norm; coverage (S, A, S) or uniform.

    A canonical reward with (near) zero norm on the coverage is indifferent to everything and
    normalises to the zero vector: two such rewards are at distance 0, one of them at 0.5.
    """
    _check_mdp_reward(mdp, reward_a, "a")
    _check_mdp_reward(mdp, reward_b, "b")
    if coverage is not None:
        check_coverage(coverage, reward_a.shape)
    weights = _normalized_weights(coverage, reward_a.size)
    unit_a = _unit(starc_canonicalize(mdp, reward_a, discount).ravel(), weights, reward_a)
    unit_b = _unit(starc_canonicalize(mdp, reward_b, discount).ravel(), weights, reward_b)
    difference = unit_a - unit_b
    return float(min(1.0, np.sqrt(weights @ (difference * difference)) / 2.0))


def _uniform_chain(mdp: TabularMDP) -> scipy.sparse.csr_array:
    """(S, S) sparse P[s, s'] = mean_a T(s' | s, a): the uniform-random policy's state chain."""
    rows = np.repeat(np.arange(mdp.n_states), mdp.n_actions)
    averaging = scipy.sparse.csr_array(
        (np.full(rows.size, 1.0 / mdp.n_actions), (rows, np.arange(rows.size))),
        shape=(mdp.n_states, mdp.n_states * mdp.n_actions),
    )
    return scipy.sparse.csr_array(averaging @ mdp.transitions)


def _gain_and_bias(chain: np.ndarray, r_pi: np.ndarray) -> tuple[float, np.ndarray]:
    """Gain g and bias h, (S,), of h = r_pi - g + P h with sum(h) = 0.

    The system is non-singular when P has one recurrent class; otherwise (several closed
    classes) it is solved in the least-squares sense.
    """
    n = chain.shape[0]
    system = np.zeros((n + 1, n + 1))
    system[:n, :n] = np.eye(n) - chain
    system[:n, n] = 1.0
    system[n, :n] = 1.0
    rhs = np.append(r_pi, 0.0)
    # A singular system can "solve" to values of 1e16 whose residual rounds to nothing (two
    # absorbing states: I - P = 0), so the rank decides, not the residual alone.
    solution = None
    if np.linalg.matrix_rank(system) == n + 1:
        solution = np.linalg.solve(system, rhs)
    residual_scale = RESIDUAL_TOLERANCE * (1.0 + float(np.abs(r_pi).max()))
    if solution is None or not np.abs(system @ solution - rhs).max() <= residual_scale:
        solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return float(solution[n]), solution[:n]


def _unit(canonical: np.ndarray, weights: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """canonical / its weighted L2 norm, or zeros when that norm is negligible next to R."""
    largest = float(np.abs(canonical).max())
    if largest == 0.0:
        return np.zeros_like(canonical)
    scaled = canonical / largest
    norm = float(np.sqrt(weights @ (scaled * scaled)))
    if norm * largest <= ZERO_TOLERANCE * float(np.abs(reward).max()):
        return np.zeros_like(canonical)
    return scaled / norm
