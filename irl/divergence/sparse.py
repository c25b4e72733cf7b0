"""Every exact distance without an (S, A, S) array: closed forms and the transition support.

Rewards are separable (irl.rewards_sparse.SparseReward: u(s, a) + v(s') + e on the support).
EPIC's and STARC's canonical rewards keep that form, so their moments under the uniform
distribution over all S * A * S transitions are sums over S x A, S and the support; DARD's
coverage is the support itself; the Pearson distance on visited transitions needs only the
distinct visited transitions. docs/metrics.md ("Closed forms at scale") has the derivations.
Each function agrees with its dense counterpart (irl.divergence.epic, dard, starc, regret) to
rounding for the default coverages; tests/irl/test_sparse_report.py checks it.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from irl.algorithms.fast_mce import SparseDynamics
from irl.divergence.epic import CONSTANT_TOLERANCE, _check_discount, pearson_distance
from irl.divergence.registry import METRICS
from irl.divergence.regret import SPREAD_TOLERANCE
from irl.divergence.starc import RESIDUAL_TOLERANCE, ZERO_TOLERANCE
from irl.environments.tabular import TabularMDP
from irl.planning_sparse import greedy_values, optimal_values, planning_dynamics, uniform_visits
from irl.rewards_sparse import SparseReward, TransitionSupport, separable_max_abs


@dataclass(frozen=True, eq=False)
class Separable:
    """C(s, a, s') = u[s, a] + v[s'] + e[k] on the k-th stored transition (0 off the support)."""

    u: np.ndarray
    """(S, A) float64."""
    v: np.ndarray
    """(S,) float64."""
    e: np.ndarray | None
    """(nnz,) float64 or None (all zero)."""

    def on_transitions(self, support: TransitionSupport) -> np.ndarray:
        """(nnz,) float64 values on the stored transitions."""
        values = self.u[support.states, support.actions] + self.v[support.next_states]
        return values if self.e is None else values + self.e

    def max_abs(self, support: TransitionSupport) -> float:
        """max |C| over all transitions (see separable_max_abs)."""
        return separable_max_abs(self.u, self.v, self.on_transitions(support))


def cells(support: TransitionSupport) -> int:
    """S * A * S, the number of (s, a, s') the uniform distribution weighs."""
    return support.n_states * support.n_actions * support.n_states


def uniform_mean(c: Separable, support: TransitionSupport) -> float:
    """E[C] under the uniform distribution over (s, a, s')."""
    extra = 0.0 if c.e is None else float(c.e.sum()) / cells(support)
    return float(c.u.mean()) + float(c.v.mean()) + extra


def uniform_inner(a: Separable, b: Separable, support: TransitionSupport) -> float:
    """E[C_a C_b] under the uniform distribution over (s, a, s').

    u and v are functions of independent coordinates ((s, a) and s'), so with centred u, v
    the cross terms vanish: E[(u + v)_a (u + v)_b] = cov(u) + cov(v) + mean_a mean_b. Centring
    first keeps the precision when u and v are large and cancel (values of 1 / (1 - gamma)).
    Every term with e is a sum over the support.
    """
    a_u, a_v, b_u, b_v = a.u.mean(), a.v.mean(), b.u.mean(), b.v.mean()
    total = (
        float(np.mean((a.u - a_u) * (b.u - b_u)))
        + float(np.mean((a.v - a_v) * (b.v - b_v)))
        + float(a_u + a_v) * float(b_u + b_v)
    )
    n = cells(support)
    s, act, nxt = support.states, support.actions, support.next_states
    if b.e is not None:
        total += float((a.u[s, act] + a.v[nxt]) @ b.e) / n
    if a.e is not None:
        total += float((b.u[s, act] + b.v[nxt]) @ a.e) / n
    if a.e is not None and b.e is not None:
        total += float(a.e @ b.e) / n
    return total


def _centred(c: Separable, support: TransitionSupport, scale: float) -> tuple[Separable, float]:
    """(C / scale with u and v centred, E[e] / scale): the centred C is u + v + (e - mean e)."""
    u, v = c.u / scale, c.v / scale
    e = None if c.e is None else c.e / scale
    e_mean = 0.0 if e is None else float(e.sum()) / cells(support)
    return Separable(u - u.mean(), v - v.mean(), e), e_mean


def uniform_pearson_distance(a: Separable, b: Separable, support: TransitionSupport) -> float:
    """sqrt((1 - rho) / 2) of two separable arrays under the uniform distribution over all
    (s, a, s'), with irl.divergence.epic.pearson_distance's conventions for constants."""
    standard = [_standardized(c, support) for c in (a, b)]
    first, second = standard
    if first is None or second is None:
        return 0.0 if first is None and second is None else float(np.sqrt(0.5))
    (ca, mean_a, std_a), (cb, mean_b, std_b) = first, second
    covariance = uniform_inner(ca, cb, support) - mean_a * mean_b
    rho = float(np.clip(covariance / (std_a * std_b), -1.0, 1.0))
    return float(np.sqrt((1.0 - rho) / 2.0))


def _standardized(
    c: Separable, support: TransitionSupport
) -> tuple[Separable, float, float] | None:
    """(C / max|C| centred in u and v, mean of its e part, its standard deviation), or None
    when C is constant (standard deviation at most CONSTANT_TOLERANCE of max |C|)."""
    scale = c.max_abs(support)
    if scale == 0.0:
        return None
    centred, e_mean = _centred(c, support, scale)
    variance = uniform_inner(centred, centred, support) - e_mean * e_mean
    std = float(np.sqrt(max(variance, 0.0)))
    return None if std <= CONSTANT_TOLERANCE else (centred, e_mean, std)


def epic_canonical(reward: SparseReward, discount: float, support: TransitionSupport) -> Separable:
    """C(R) = R(s,a,s') + gamma mu(s') - mu(s) - gamma M in separable form, where
    mu(s) = E[R(s, A, S')] = mean_a u(s, a) + mean v + (row sum of e at s) / (A S) and M = E[mu]."""
    _check_discount(discount)
    n_states, n_actions = support.n_states, support.n_actions
    mu = reward.by_state_action.mean(axis=1) + float(reward.by_next_state.mean())
    if reward.on_support is not None:
        per_state = np.bincount(support.states, weights=reward.on_support, minlength=n_states)
        mu = mu + per_state / (n_actions * n_states)
    total = float(mu.mean())
    return Separable(
        reward.by_state_action - mu[:, None] - discount * total,
        reward.by_next_state + discount * mu,
        reward.on_support,
    )


def sparse_epic_distance(
    reward_a: SparseReward, reward_b: SparseReward, *, discount: float, support: TransitionSupport
) -> float:
    """EPIC with uniform coverage (irl.divergence.epic_distance with coverage=None)."""
    return uniform_pearson_distance(
        epic_canonical(reward_a, discount, support),
        epic_canonical(reward_b, discount, support),
        support,
    )


def uniform_chain(support: TransitionSupport) -> scipy.sparse.csr_array:
    """(S, S) sparse P[s, s'] = mean_a T(s' | s, a)."""
    n_states, n_actions = support.n_states, support.n_actions
    rows = np.repeat(np.arange(n_states), n_actions)
    averaging = scipy.sparse.csr_array(
        (np.full(rows.size, 1.0 / n_actions), (rows, np.arange(rows.size))),
        shape=(n_states, n_states * n_actions),
    )
    return scipy.sparse.csr_array(averaging @ support.matrix)


def starc_canonical(
    reward: SparseReward,
    discount: float,
    support: TransitionSupport,
    chain: scipy.sparse.csr_array | None = None,
) -> Separable:
    """Value-adjusted levelling R - V(s) + gamma V(s') (gamma < 1) or R - g - h(s) + h(s')
    (gamma = 1) under the uniform policy (irl.divergence.starc_canonicalize), separable."""
    _check_discount(discount)
    chain = uniform_chain(support) if chain is None else chain
    r_pi = reward.expected(support).mean(axis=1)
    n_states = support.n_states
    if discount < 1.0:
        system = scipy.sparse.identity(n_states, format="csc") - discount * chain.tocsc()
        values = np.asarray(scipy.sparse.linalg.spsolve(system, r_pi), dtype=np.float64)
        values = values.reshape(n_states)
        return Separable(
            reward.by_state_action - values[:, None],
            reward.by_next_state + discount * values,
            reward.on_support,
        )
    gain, bias = gain_and_bias(chain, r_pi)
    return Separable(
        reward.by_state_action - gain - bias[:, None],
        reward.by_next_state + bias,
        reward.on_support,
    )


def recurrent_classes(chain: scipy.sparse.csr_array) -> int:
    """Closed communicating classes of a Markov chain (strongly connected components that no
    transition leaves), O(nnz)."""
    n_components, label = scipy.sparse.csgraph.connected_components(
        chain, directed=True, connection="strong"
    )
    coo = chain.tocoo()
    leaving = (coo.data > 0) & (label[coo.row] != label[coo.col])
    open_classes = np.zeros(n_components, dtype=bool)
    open_classes[label[coo.row[leaving]]] = True
    return int(n_components - open_classes.sum())


def gain_and_bias(chain: scipy.sparse.csr_array, r_pi: np.ndarray) -> tuple[float, np.ndarray]:
    """Gain g and bias h (S,) of h = r_pi - g + P h, sum(h) = 0, as
    irl.divergence.starc._gain_and_bias computes densely.

    One sparse solve of B y = r_pi with B = I - P + 1 e_0^T (a single dense column, unlike the
    bordered system, whose dense row and column make sparse LU fill in): B is non-singular when
    P has exactly one recurrent class (checked first: recurrent_classes), and then g = y_0,
    h = y - mean(y) (shifting h by a constant keeps the equation since P 1 = 1). Otherwise
    (several recurrent classes) the bordered system's minimum-norm least-squares solution
    (LSQR), like the dense lstsq.
    """
    n = chain.shape[0]
    ones = np.ones(n)
    if recurrent_classes(chain) == 1:
        # Only then is B non-singular: SuperLU must not see a singular B (scipy 1.17's
        # factorisation can crash the process on one, not only raise).
        column = scipy.sparse.csr_array(
            (ones, (np.arange(n), np.zeros(n, dtype=np.int64))), shape=(n, n)
        )
        system = (scipy.sparse.identity(n, format="csr") - chain + column).tocsc()
        residual_scale = RESIDUAL_TOLERANCE * (1.0 + float(np.abs(r_pi).max()))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.sparse.linalg.MatrixRankWarning)
            try:
                y = np.asarray(scipy.sparse.linalg.spsolve(system, r_pi), dtype=np.float64)
            except RuntimeError:
                y = np.full(n, np.nan)
        if np.isfinite(y).all():
            gain, bias = float(y[0]), y - y.mean()
            residual = bias - chain @ bias + gain - r_pi
            if np.abs(residual).max() <= residual_scale:
                return gain, bias
    bordered = scipy.sparse.bmat(
        [[scipy.sparse.identity(n, format="csr") - chain, ones[:, None]], [ones[None, :], None]],
        format="csc",
    )
    solution = scipy.sparse.linalg.lsqr(
        bordered,
        np.append(r_pi, 0.0),
        atol=1e-15,
        btol=1e-15,
        conlim=1e16,
        iter_lim=100 * (n + 1),
    )[0]
    return float(solution[n]), solution[:n]


def sparse_starc_distance(
    reward_a: SparseReward,
    reward_b: SparseReward,
    *,
    discount: float,
    support: TransitionSupport,
    chain: scipy.sparse.csr_array | None = None,
) -> float:
    """STARC with uniform coverage (irl.divergence.starc_distance with coverage=None)."""
    chain = uniform_chain(support) if chain is None else chain
    units = [
        _unit(starc_canonical(reward, discount, support, chain), reward, support)
        for reward in (reward_a, reward_b)
    ]
    first, second = units
    if first is None or second is None:
        return 0.0 if first is None and second is None else 0.5
    cosine = uniform_inner(first, second, support)
    return float(min(1.0, np.sqrt(max(0.0, 1.0 - cosine) / 2.0)))


def _unit(c: Separable, reward: SparseReward, support: TransitionSupport) -> Separable | None:
    """C / its uniform-weighted L2 norm, or None when that norm is negligible next to max |R|."""
    largest = c.max_abs(support)
    if largest == 0.0:
        return None
    scaled = Separable(c.u / largest, c.v / largest, None if c.e is None else c.e / largest)
    norm = float(np.sqrt(max(uniform_inner(scaled, scaled, support), 0.0)))
    if norm * largest <= ZERO_TOLERANCE * reward.largest_magnitude(support):
        return None
    return Separable(
        scaled.u / norm, scaled.v / norm, None if scaled.e is None else scaled.e / norm
    )


def dard_canonical(reward: SparseReward, discount: float, support: TransitionSupport) -> np.ndarray:
    """(nnz,) DARD-canonical reward on the stored transitions (irl.divergence.dard_canonicalize
    there): R + gamma r_pi(s') - r_pi(s) - gamma X(s, s'), X(s, s') = E[R(S', A, S'')] with
    S' ~ T(. | s, A), S'' ~ T(. | s', A), needed only at the support's state pairs."""
    _check_discount(discount)
    n_states, n_actions = support.n_states, support.n_actions
    r_pi = reward.expected(support).mean(axis=1)
    # X = mean_b T_b (u_b 1^T + 1 v^T + E_b) T_b^T: rows of T_b sum to 1.
    from_source = np.zeros(n_states)
    from_target = np.zeros(n_states)
    pair = np.zeros(support.nnz)
    states, targets = support.states, support.next_states
    pair_keys = states * n_states + targets
    for action in range(n_actions):
        dynamics = scipy.sparse.csr_array(support.matrix[action::n_actions])
        from_source += dynamics @ reward.by_state_action[:, action]
        from_target += dynamics @ reward.by_next_state
        if reward.on_support is not None:
            mine = support.actions == action
            stored = scipy.sparse.csr_array(
                (reward.on_support[mine], (states[mine], targets[mine])),
                shape=(n_states, n_states),
            )
            cross = scipy.sparse.csr_array(dynamics @ stored @ dynamics.T)
            pair += _lookup(cross, pair_keys, n_states)
    cross_mean = (from_source[states] + from_target[targets] + pair) / n_actions
    return (
        reward.on_transitions(support)
        + discount * r_pi[targets]
        - r_pi[states]
        - discount * cross_mean
    )


def _lookup(matrix: scipy.sparse.csr_array, keys: np.ndarray, n_cols: int) -> np.ndarray:
    """Entries of a sparse matrix at row * n_cols + col keys (0 where not stored)."""
    matrix = scipy.sparse.csr_array(matrix)
    matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    stored = rows * n_cols + matrix.indices
    if stored.size == 0:
        return np.zeros(keys.shape)
    where = np.searchsorted(stored, keys)
    inside = where < stored.size
    hit = np.zeros(keys.shape, dtype=bool)
    hit[inside] = stored[where[inside]] == keys[inside]
    return np.where(hit, matrix.data[np.minimum(where, stored.size - 1)], 0.0)


def sparse_dard_distance(
    reward_a: SparseReward, reward_b: SparseReward, *, discount: float, support: TransitionSupport
) -> float:
    """DARD with its default coverage, the feasible transitions (weights T(s' | s, a))."""
    return pearson_distance(
        dard_canonical(reward_a, discount, support),
        dard_canonical(reward_b, discount, support),
        support.probabilities,
    )


@dataclass(frozen=True, eq=False)
class VisitCounts:
    """The distinct visited transitions and how often each was taken."""

    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray
    counts: np.ndarray
    """(K,) float64."""

    @classmethod
    def of(
        cls, n_states: int, n_actions: int, transitions: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> "VisitCounts":
        """Counts of the (obs, acts, next obs) index arrays of a tabular trajectory set."""
        s, a, nxt = (np.asarray(x, dtype=np.int64) for x in transitions)
        keys, counts = np.unique((s * n_actions + a) * n_states + nxt, return_counts=True)
        rows = keys // n_states
        return cls(rows // n_actions, rows % n_actions, keys % n_states, counts.astype(np.float64))


def sparse_pearson_distance(
    reward_a: SparseReward,
    reward_b: SparseReward,
    *,
    visited: VisitCounts,
    support: TransitionSupport,
) -> float:
    """Pearson distance of the raw rewards weighted by visit counts (the distinct visits only)."""
    where = (visited.states, visited.actions, visited.next_states)
    return pearson_distance(
        reward_a.at(support, *where), reward_b.at(support, *where), visited.counts
    )


def sparse_regret(
    mdp: TabularMDP,
    true_reward: np.ndarray,
    proxy_reward: np.ndarray,
    dynamics: SparseDynamics | None = None,
) -> float | None:
    """irl.divergence.regret from (S, A) expected rewards (SparseReward.expected)."""
    dynamics = planning_dynamics(mdp) if dynamics is None else dynamics
    best, random = optimal_and_random(mdp, true_reward, dynamics)
    spread = best - random
    if abs(spread) <= SPREAD_TOLERANCE * max(1.0, abs(best), abs(random)):
        return None
    achieved = greedy_values(dynamics, plan=proxy_reward, evaluate=true_reward)
    achieved_return = float(mdp.initial_state_dist @ achieved)
    return float(np.clip((best - achieved_return) / spread, 0.0, 1.0))


def optimal_and_random(
    mdp: TabularMDP, r: np.ndarray, dynamics: SparseDynamics | None = None
) -> tuple[float, float]:
    """Returns of the optimal (ties shared) and uniform-random policies under r (S, A), from
    the MDP's initial distribution."""
    dynamics = planning_dynamics(mdp) if dynamics is None else dynamics
    optimal = float(mdp.initial_state_dist @ optimal_values(dynamics, r))
    return optimal, float(uniform_visits(dynamics) @ r.mean(axis=1))


def sparse_distances(
    mdp: TabularMDP,
    reward_a: SparseReward,
    reward_b: SparseReward,
    *,
    discount: float,
    visited: VisitCounts | None,
    support: TransitionSupport | None = None,
    dynamics: SparseDynamics | None = None,
) -> dict[str, float | None]:
    """Every registered distance with the default coverages, keyed in registry order (the
    sparse twin of irl.divergence.distances(ExactPair(mdp, a, b, discount, None, visited)))."""
    support = TransitionSupport.of(mdp) if support is None else support
    computed: dict[str, float | None] = {
        "epic": sparse_epic_distance(reward_a, reward_b, discount=discount, support=support),
        "dard": sparse_dard_distance(reward_a, reward_b, discount=discount, support=support),
        "starc": sparse_starc_distance(reward_a, reward_b, discount=discount, support=support),
        "pearson": None
        if visited is None
        else sparse_pearson_distance(reward_a, reward_b, visited=visited, support=support),
        "regret": sparse_regret(
            mdp, reward_a.expected(support), reward_b.expected(support), dynamics
        ),
    }
    return {name: computed.get(name) for name in METRICS}
