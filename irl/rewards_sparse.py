"""Rewards in their natural shape for the sparse report: no (S, A, S) array anywhere.

A `SparseReward` is R(s, a, s') = by_state_action[s, a] + by_next_state[s'] + on_support[k],
where the last term is non-zero only on the k-th transition of the MDP's support (its
transition matrix's stored entries). State rewards (S,), state-action rewards (S, A), rewards
of the next state, full rewards given on the support, and their potential-shaped variants
(shaping adds -phi(s) to the first term and gamma phi(s') to the second) all have this form
exactly, and every distance and planning quantity of the report reduces to sums over S, S x A
and the support (docs/metrics.md, "Closed forms at scale").
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse

from irl.environments.tabular import TabularMDP
from irl.rewards import FeaturedMDP, LinearReward, TabularReward, linear_state_values


@dataclass(frozen=True, eq=False)
class TransitionSupport:
    """The stored transitions of an MDP, one row per (s, a, s') with T(s' | s, a) stored."""

    n_states: int
    n_actions: int
    matrix: scipy.sparse.csr_array
    """(S*A, S) float64 canonical CSR (sorted, no duplicates): row s*A + a holds T(. | s, a)."""

    @classmethod
    def of(cls, mdp: TabularMDP) -> "TransitionSupport":
        """The support of mdp.transitions, in canonical CSR order."""
        matrix = scipy.sparse.csr_array(mdp.transitions, dtype=np.float64, copy=True)
        matrix.sum_duplicates()
        return cls(n_states=mdp.n_states, n_actions=mdp.n_actions, matrix=matrix)

    @property
    def nnz(self) -> int:
        """Number of stored transitions."""
        return int(self.matrix.nnz)

    @cached_property
    def rows(self) -> np.ndarray:
        """(nnz,) int64 row s*A + a of each stored transition."""
        counts = np.diff(self.matrix.indptr)
        return np.repeat(np.arange(self.matrix.shape[0], dtype=np.int64), counts)

    @cached_property
    def states(self) -> np.ndarray:
        """(nnz,) int64 source state s."""
        return self.rows // self.n_actions

    @cached_property
    def actions(self) -> np.ndarray:
        """(nnz,) int64 action a."""
        return self.rows % self.n_actions

    @cached_property
    def next_states(self) -> np.ndarray:
        """(nnz,) int64 next state s'."""
        return np.asarray(self.matrix.indices, dtype=np.int64)

    @property
    def probabilities(self) -> np.ndarray:
        """(nnz,) float64 T(s' | s, a)."""
        return np.asarray(self.matrix.data)

    @cached_property
    def keys(self) -> np.ndarray:
        """(nnz,) int64 sorted keys (s*A + a) * S + s' (canonical CSR order is sorted)."""
        return self.rows * self.n_states + self.next_states

    def index_of(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        """(K,) int64 support index of each (s, a, s'), or -1 where it is not stored."""
        keys = (states * self.n_actions + actions) * self.n_states + next_states
        where = np.searchsorted(self.keys, keys)
        inside = where < self.nnz
        found = np.zeros(keys.shape, dtype=bool)
        found[inside] = self.keys[where[inside]] == keys[inside]
        return np.where(found, where, -1)

    def row_sums(self, values: np.ndarray) -> np.ndarray:
        """(S, A) float64 sum over s' of per-transition values (nnz,)."""
        total = np.bincount(self.rows, weights=values, minlength=self.matrix.shape[0])
        return total.reshape(self.n_states, self.n_actions)


@dataclass(frozen=True, eq=False)
class SparseReward:
    """R(s, a, s') = by_state_action[s, a] + by_next_state[s'] + on_support[k] (0 off it)."""

    by_state_action: np.ndarray
    """(S, A) float64."""
    by_next_state: np.ndarray
    """(S,) float64."""
    on_support: np.ndarray | None = None
    """(nnz,) float64 on the stored transitions of a TransitionSupport; None: all zero."""

    def at(
        self,
        support: TransitionSupport,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
    ) -> np.ndarray:
        """(K,) float64 R(s, a, s') of K transitions (off-support terms count 0)."""
        values = self.by_state_action[states, actions] + self.by_next_state[next_states]
        if self.on_support is not None:
            index = support.index_of(states, actions, next_states)
            values = values + np.where(index >= 0, self.on_support[np.maximum(index, 0)], 0.0)
        return np.asarray(values, dtype=np.float64)

    def on_transitions(self, support: TransitionSupport) -> np.ndarray:
        """(nnz,) float64 R on every stored transition."""
        values = (
            self.by_state_action[support.states, support.actions]
            + self.by_next_state[support.next_states]
        )
        return values if self.on_support is None else values + self.on_support

    def expected(self, support: TransitionSupport) -> np.ndarray:
        """(S, A) float64 r(s, a) = sum_s' T(s' | s, a) R(s, a, s') (the planning reward)."""
        next_part = (support.matrix @ self.by_next_state).reshape(
            support.n_states, support.n_actions
        )
        total = self.by_state_action + next_part
        if self.on_support is not None:
            total = total + support.row_sums(support.probabilities * self.on_support)
        return np.asarray(total, dtype=np.float64)

    def largest_magnitude(self, support: TransitionSupport) -> float:
        """max |R| over all (s, a, s'): exact on the support, the separable bound off it."""
        return separable_max_abs(
            self.by_state_action, self.by_next_state, self.on_transitions(support)
        )

    def value_range(self, support: TransitionSupport) -> float:
        """max R - min R over all (s, a, s'): exact without support terms (state, state-action
        and linear rewards), else over the support and the separable part's extremes."""
        u, v = self.by_state_action, self.by_next_state
        high, low = float(u.max()) + float(v.max()), float(u.min()) + float(v.min())
        if self.on_support is not None and self.on_support.size:
            stored = self.on_transitions(support)
            high, low = max(high, float(stored.max())), min(low, float(stored.min()))
        return high - low

    def shaped(self, potential: np.ndarray, discount: float) -> "SparseReward":
        """R + discount * phi(s') - phi(s), still separable."""
        return SparseReward(
            self.by_state_action - potential[:, None],
            self.by_next_state + discount * potential,
            self.on_support,
        )


def separable_max_abs(u: np.ndarray, v: np.ndarray, stored: np.ndarray) -> float:
    """max |u(s, a) + v(s') (+ e on the support)| over all (s, a, s'), given the values on the
    support (nnz,): exact there, bounded off it by the extremes of u + v (exact when those are
    attained off the support; only used as a scale for tolerances)."""
    product = max(abs(float(u.max()) + float(v.max())), abs(float(u.min()) + float(v.min())))
    return max(product, float(np.abs(stored).max(initial=0.0)))


def sparse_reward(
    reward: TabularReward | LinearReward | np.ndarray,
    mdp: FeaturedMDP,
    support: TransitionSupport,
) -> SparseReward:
    """The reward in separable form: exact for state, state-action and linear rewards.

    A full (S, A, S) array is kept on the support; off it, each (s, a) row is taken to be the
    mean of its off-support values (exact when they are equal: zero- or constant-filled
    rewards, rewards of (s, a) only). Full rewards should arrive on the support.
    """
    s, a = mdp.n_states, mdp.n_actions
    if isinstance(reward, LinearReward):
        values = linear_state_values(reward, mdp.feature_names, mdp.features)
    else:
        values = np.asarray(reward.values if isinstance(reward, TabularReward) else reward)
        values = values.astype(np.float64)
    if values.ndim == 1:
        return SparseReward(np.repeat(values[:, None], a, axis=1), np.zeros(s))
    if values.ndim == 2:
        return SparseReward(values.copy(), np.zeros(s))
    stored = values[support.states, support.actions, support.next_states]
    row_total = values.sum(axis=2) - support.row_sums(stored)
    off_count = s - np.diff(support.matrix.indptr).reshape(s, a)
    fill = np.where(off_count > 0, row_total / np.maximum(off_count, 1), 0.0)
    return SparseReward(fill, np.zeros(s), stored - fill[support.states, support.actions])


def dense_array(reward: SparseReward, support: TransitionSupport) -> np.ndarray:
    """(S, A, S) float64 of a separable reward (tests and small MDPs only)."""
    dense = reward.by_state_action[:, :, None] + reward.by_next_state[None, None, :]
    if reward.on_support is not None:
        dense[support.states, support.actions, support.next_states] += reward.on_support
    return np.asarray(dense, dtype=np.float64)
