"""Finite-horizon planning on (S, A) expected rewards with streamed backward passes.

The sparse report's counterpart of irl.planning: the same policies (greedy with tied best
actions sharing probability, soft-optimal with temperature 1, uniform) and the same returns, but
a reward enters as r(s, a) = E[R(s, a, S')] (irl.rewards_sparse.SparseReward.expected) and no
(H, S, A) policy is ever stored: each pass keeps O(S * A) numbers, and costs O(H * nnz) time.
"""

from collections.abc import Sequence

import numpy as np
import scipy.sparse
import scipy.special

from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import TIE_TOLERANCE
from irl.trajectories import TrajectorySet


def backup(
    transitions: scipy.sparse.csr_array, discount: float, r: np.ndarray, next_values: np.ndarray
) -> np.ndarray:
    """Q(s, a) = r(s, a) + discount * E[V(s') | s, a], shape (S, A)."""
    expected_next = np.asarray(transitions @ next_values).reshape(r.shape)
    return r + discount * expected_next


def greedy_values(
    mdp: TabularMDP, *, plan: np.ndarray, evaluate: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """(S,) t = 0 values, under each reward in `evaluate` ((S, A) each), of the policy optimal for
    `plan` (S, A): tied best actions share probability equally, as irl.planning.optimal_policy."""
    transitions, discount = mdp.transitions, mdp.discount
    n_states = plan.shape[0]
    planned = np.zeros(n_states)
    values = [np.zeros(n_states) for _ in evaluate]
    for _ in range(mdp.horizon):
        q = backup(transitions, discount, plan, planned)
        best = q.max(axis=1, keepdims=True)
        greedy = q >= best - TIE_TOLERANCE * (1.0 + np.abs(best))
        policy = greedy / greedy.sum(axis=1, keepdims=True)
        values = [
            (policy * backup(transitions, discount, r, v)).sum(axis=1)
            for r, v in zip(evaluate, values, strict=True)
        ]
        planned = best[:, 0]
    return values


def uniform_values(mdp: TabularMDP, r: np.ndarray) -> np.ndarray:
    """(S,) t = 0 values of the uniform-random policy under r (S, A)."""
    values = np.zeros(r.shape[0])
    for _ in range(mdp.horizon):
        values = backup(mdp.transitions, mdp.discount, r, values).mean(axis=1)
    return values


def soft_log_likelihood(mdp: TabularMDP, r: np.ndarray, trajectories: TrajectorySet) -> float:
    """sum of log pi_t(a_t | s_t) of every demonstrated action under the soft-optimal policy of
    r (S, A), temperature 1 (irl.planning.soft_optimal_policy).

    Streamed: the policy of time t is formed, scores the steps taken at t, and is dropped.
    """
    horizon = mdp.horizon
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
    values = np.zeros(r.shape[0])
    total = 0.0
    for t in reversed(range(horizon)):
        q = backup(mdp.transitions, mdp.discount, r, values)
        log_partition = scipy.special.logsumexp(q, axis=1)
        steps = order[bounds[t] : bounds[t + 1]]
        if steps.size:
            chosen = q[states[steps], actions[steps]] - log_partition[states[steps]]
            total += float(chosen.sum())
        values = log_partition
    return total
