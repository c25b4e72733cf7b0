"""Finite-horizon planning on expected rewards with streamed backward passes.

The sparse report's counterpart of irl.planning: the same policies (greedy with tied best
actions sharing probability, soft-optimal with temperature 1, uniform) and the same returns, but
a reward enters as r(s, a) = E[R(s, a, S')] (irl.rewards_sparse.SparseReward.expected) and no
(H, S, A) policy is ever stored. Passes run on the fast solver's action-major layout
(irl.algorithms.fast_mce.SparseDynamics) and advance several value vectors with one sparse
product per step: O(H * nnz) time, O(S * A) memory.
"""

from dataclasses import dataclass

import numpy as np

from irl.algorithms.fast_mce import SparseDynamics
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import TIE_TOLERANCE
from irl.trajectories import TrajectorySet


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
    """(A, S, k) E[V_j(s') | s, a] of k value vectors (S, k), one sparse product."""
    product = dynamics.by_action @ values
    return np.asarray(product).reshape(dynamics.n_actions, dynamics.n_states, values.shape[1])


def _greedy(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best (S,), policy (A, S)) of Q (A, S): tied best actions share probability
    (irl.planning.optimal_policy's rule)."""
    best = q.max(axis=0)
    greedy = q >= best - TIE_TOLERANCE * (1.0 + np.abs(best))
    return best, greedy / greedy.sum(axis=0)


def _log_partition(q: np.ndarray) -> np.ndarray:
    """(S,) log sum_a exp Q(a, s), shifted by the maximum."""
    peak = q.max(axis=0)
    return np.log(np.exp(q - peak).sum(axis=0)) + peak


def greedy_values(
    dynamics: SparseDynamics, *, plan: np.ndarray, evaluate: np.ndarray
) -> np.ndarray:
    """(S,) t = 0 values under `evaluate` of the policy optimal for `plan` (both (S, A))."""
    plan_t, evaluate_t = plan.T, evaluate.T
    values = np.zeros((dynamics.n_states, 2))
    for _ in range(dynamics.horizon):
        expected = dynamics.discount * _expected_next(dynamics, values)
        best, policy = _greedy(plan_t + expected[:, :, 0])
        values[:, 0] = best
        values[:, 1] = (policy * (evaluate_t + expected[:, :, 1])).sum(axis=0)
    return np.asarray(values[:, 1])


@dataclass(frozen=True)
class RewardPasses:
    """What the report needs of one reward, from one streamed pass: t = 0 values (S,) of its
    optimal (ties shared) and uniform-random policies, and the log-likelihood of demonstrated
    actions under its soft-optimal policy (None when no trajectories were given)."""

    optimal: np.ndarray
    random: np.ndarray
    log_likelihood: float | None


def reward_passes(
    dynamics: SparseDynamics, r: np.ndarray, trajectories: TrajectorySet | None = None
) -> RewardPasses:
    """One backward pass advancing the greedy, uniform and soft values of r (S, A) together.

    The soft-optimal policy of time t (temperature 1, irl.planning.soft_optimal_policy) scores
    the demonstrated steps taken at t and is dropped.
    """
    horizon = dynamics.horizon
    steps = None if trajectories is None else _steps_by_time(trajectories, horizon)
    r_t = r.T
    values = np.zeros((dynamics.n_states, 4))  # planned max, greedy policy, uniform, soft
    total = 0.0
    for t in reversed(range(horizon)):
        expected = dynamics.discount * _expected_next(dynamics, values)
        best, policy = _greedy(r_t + expected[:, :, 0])
        values[:, 1] = (policy * (r_t + expected[:, :, 1])).sum(axis=0)
        values[:, 0] = best
        values[:, 2] = (r_t + expected[:, :, 2]).mean(axis=0)
        q = r_t + expected[:, :, 3]
        log_partition = _log_partition(q)
        if steps is not None:
            states, actions, bounds = steps
            now = slice(bounds[t], bounds[t + 1])
            total += float((q[actions[now], states[now]] - log_partition[states[now]]).sum())
        values[:, 3] = log_partition
    return RewardPasses(
        optimal=values[:, 1].copy(),
        random=values[:, 2].copy(),
        log_likelihood=None if steps is None else total,
    )


def _steps_by_time(
    trajectories: TrajectorySet, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(states, actions, bounds) of the demonstrated steps sorted by time: steps at time t are
    [bounds[t], bounds[t + 1])."""
    states, actions, _ = trajectories.transitions()
    times = trajectories.timesteps
    if times.size and int(times.max()) >= horizon:
        raise InvalidInputError.at(
            "trajectories",
            f"a trajectory has {int(trajectories.lengths.max())} actions, more than the "
            f"horizon {horizon}",
        )
    order = np.argsort(times, kind="stable")
    bounds = np.searchsorted(times[order], np.arange(horizon + 1))
    return np.asarray(states)[order], np.asarray(actions)[order], bounds


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
    scaled = beta * r.T
    values = np.zeros((dynamics.n_states, 1))
    for t in reversed(range(dynamics.horizon)):
        q = scaled + dynamics.discount * _expected_next(dynamics, values)[:, :, 0]
        log_partition = _log_partition(q)
        rows = order[bounds[t] : bounds[t + 1]]
        logits[rows] = (q[:, states[rows]] - log_partition[states[rows]]).T
        values[:, 0] = log_partition
    return logits
