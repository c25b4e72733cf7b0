"""Finite-horizon planning on expected rewards with streamed backward passes.

The sparse report's counterpart of irl.planning: the same policies (greedy with tied best
actions sharing probability, soft-optimal with temperature 1, uniform) and the same returns, but
a reward enters as r(s, a) = E[R(s, a, S')] (irl.rewards_sparse.SparseReward.expected) and no
(H, S, A) policy is ever stored. Passes run on the fast solver's action-major layout
(irl.algorithms.fast_mce.SparseDynamics) with one sparse product per value vector and step and
in-place work on contiguous (A, S) blocks: O(H * nnz) time, O(S * A) memory. The uniform
policy's return is linear in the reward: one forward pass (uniform_visits) serves every reward.
"""

import numpy as np

from irl.algorithms.fast_mce import SparseDynamics
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import TIE_TOLERANCE


def planning_dynamics(mdp: TabularMDP) -> SparseDynamics:
    """The MDP's dynamics in action-major layout (built once, O(nnz))."""
    return SparseDynamics.of(
        mdp.transitions,
        n_actions=mdp.n_actions,
        horizon=mdp.horizon,
        discount=mdp.discount,
        initial_dist=mdp.initial_state_dist,
    )


def _expected_next(dynamics: SparseDynamics, values: np.ndarray) -> np.ndarray:
    """(A, S) gamma * E[V(s') | s, a] of one value vector (S,): a fresh array, one sparse
    product."""
    q = np.asarray(dynamics.by_action @ values).reshape(dynamics.n_actions, dynamics.n_states)
    if dynamics.discount != 1.0:
        q *= dynamics.discount
    return q


def _by_action(r: np.ndarray) -> np.ndarray:
    """(A, S) contiguous copy of an (S, A) reward: every per-step sum runs over contiguous
    rows."""
    return np.ascontiguousarray(r.T, dtype=np.float64)


def _greedy(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best (S,), tied best actions (A, S) bool, their number (S,)) of Q (A, S): tied best
    actions share probability (irl.planning.optimal_policy's rule)."""
    best = q.max(axis=0)
    greedy = q >= best - TIE_TOLERANCE * (1.0 + np.abs(best))
    return best, greedy, greedy.sum(axis=0)


def _policy_value(q: np.ndarray, greedy: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(S,) sum_a pi(a | s) Q(a, s) for the greedy policy sharing ties; overwrites q."""
    q *= greedy
    return np.asarray(q.sum(axis=0) / count)


def _log_partition(q: np.ndarray) -> np.ndarray:
    """(S,) log sum_a exp Q(a, s), shifted by the maximum; overwrites q."""
    peak = q.max(axis=0)
    q -= peak
    np.exp(q, out=q)
    total = np.log(q.sum(axis=0))
    total += peak
    return total


def greedy_values(
    dynamics: SparseDynamics, *, plan: np.ndarray, evaluate: np.ndarray
) -> np.ndarray:
    """(S,) t = 0 values under `evaluate` of the policy optimal for `plan` (both (S, A))."""
    plan_t, evaluate_t = _by_action(plan), _by_action(evaluate)
    planned = achieved = np.zeros(dynamics.n_states)
    for _ in range(dynamics.horizon):
        q = _expected_next(dynamics, planned)
        q += plan_t
        planned, greedy, count = _greedy(q)
        achieved_q = _expected_next(dynamics, achieved)
        achieved_q += evaluate_t
        achieved = _policy_value(achieved_q, greedy, count)
    return achieved


def optimal_values(dynamics: SparseDynamics, r: np.ndarray) -> np.ndarray:
    """(S,) t = 0 optimal values of r (S, A), V_t = max_a r + gamma E[V_t+1]: one streamed
    backward pass. (The policy irl.planning.optimal_policy makes of them, tied best actions
    sharing probability, is worth the same up to TIE_TOLERANCE per step.)"""
    r_t = _by_action(r)
    values = np.zeros(dynamics.n_states)
    for _ in range(dynamics.horizon):
        q = _expected_next(dynamics, values)
        q += r_t
        values = q.max(axis=0)
    return values


def uniform_visits(dynamics: SparseDynamics) -> np.ndarray:
    """(S,) discounted visits sum_{t < H} gamma^t P(S_t = s) of the uniform-random policy from
    the initial distribution (one forward pass): its return under any reward r (S, A) is
    uniform_visits @ r.mean(axis=1), without a pass per reward."""
    state = dynamics.initial_dist.copy()
    visits = np.zeros(dynamics.n_states)
    weight = 1.0
    for _ in range(dynamics.horizon):
        visits += weight * state
        flow = np.tile(state / dynamics.n_actions, dynamics.n_actions)
        state = np.asarray(dynamics.transposed @ flow)
        weight *= dynamics.discount
    return visits


def soft_logits_at(
    dynamics: SparseDynamics,
    r: np.ndarray,
    *,
    times: np.ndarray,
    states: np.ndarray,
    beta: float = 1.0,
) -> np.ndarray:
    """(U, A) log pi_t(. | s) of the soft-optimal policy for beta * r (r: (S, A)) at the U
    visited (t, s) pairs only, from one streamed backward pass: what a behaviour model scores,
    without the (H, S, A) array of irl.planning.soft_optimal_policy."""
    if times.size and int(times.max()) >= dynamics.horizon:
        raise InvalidInputError.at("times", f"must be below the horizon {dynamics.horizon}")
    order = np.argsort(times, kind="stable")
    bounds = np.searchsorted(times[order], np.arange(dynamics.horizon + 1))
    logits = np.empty((times.size, dynamics.n_actions))
    scaled = _by_action(r)
    scaled *= beta
    values = np.zeros(dynamics.n_states)
    for t in reversed(range(dynamics.horizon)):
        q = _expected_next(dynamics, values)
        q += scaled
        rows = order[bounds[t] : bounds[t + 1]]
        at = q[:, states[rows]]
        values = _log_partition(q)
        logits[rows] = (at - values[states[rows]]).T
    return logits
