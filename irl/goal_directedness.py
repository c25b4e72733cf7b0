"""Is the behaviour competently pursuing anything? Two measurements against a uniform-random agent.

1. A likelihood-ratio test of the fitted soft-optimal (maximum causal entropy) model against a
   uniform-random policy. Under the null hypothesis that actions are uniformly random, the
   reward r = 0 reproduces the null exactly (its soft-optimal policy is uniform), so the models
   are nested and Wilks' theorem gives 2 * (log L_fit - log L_random) ~ chi^2 with one degree of
   freedom per fitted reward parameter. A random walker therefore comes out *not* goal-directed
   even though IRL fits it some non-zero reward: the fit's likelihood gain is what k free
   parameters buy on noise. (A regularised fit gains less than the maximum-likelihood one, which
   only makes the test conservative.)
2. Optimisation power in bits (Yudkowsky): -log2 of the fraction of uniform-random-policy
   outcomes whose return under a reward is at least the demonstrations' mean return.
"""

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import scipy.stats

from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import action_log_likelihood, discounted_returns, soft_optimal_policy
from irl.trajectories import TrajectorySet

DEFAULT_MONTE_CARLO_SAMPLES = 10_000
"""Random-policy rollouts when the exact return distribution is too large: resolves fractions down
to 1 / 10_001, i.e. at most log2(10_001) = 13.3 bits."""
DEFAULT_MAX_EXACT_SUPPORT = 200_000
"""Largest number of distinct (state, partial return) pairs the exact computation may track."""
RETURN_RESOLUTION = 1e-9
"""Returns closer than this (relative to the largest achievable |return|) count as equal."""


@dataclass(frozen=True)
class GoalDirectedness:
    """The likelihood-ratio test of the fitted behaviour model against uniform random."""

    log_likelihood_ratio_per_step: float
    """(log L_fit - log L_random) / number of actions, in nats."""
    likelihood_ratio_statistic: float
    """2 * (log L_fit - log L_random)."""
    degrees_of_freedom: int
    """Free reward parameters of the fit."""
    p_value: float
    """P(chi^2_dof >= statistic): how surprising the gain is if the agent acts at random."""
    n_steps: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class OptimisationPower:
    """How rare, among uniform-random behaviour, a return as high as the demonstrations' is."""

    bits: float
    """-log2(fraction); for Monte Carlo, -log2((k + 1) / (n + 1)) with k of n samples reaching."""
    fraction: float
    """Probability that a uniform-random policy's return reaches the demonstrations' mean."""
    demo_return: float
    """Mean discounted return of the demonstrations under the reward."""
    method: Literal["exact", "monte_carlo"]
    n_samples: int | None
    """Random rollouts drawn (Monte Carlo only)."""
    lower_bound: bool
    """True when no random rollout reached the demonstrations: the true power may be higher."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def goal_directedness(
    mdp: TabularMDP, trajectories: TrajectorySet, reward: np.ndarray, *, n_parameters: int
) -> GoalDirectedness:
    """Test the soft-optimal policy of `reward` (S, A, S) against uniform random on the actions."""
    policy = soft_optimal_policy(mdp, reward)
    fitted = float(action_log_likelihood(policy, trajectories).sum())
    n_steps = trajectories.n_transitions
    uniform = -n_steps * float(np.log(mdp.n_actions))
    gain = fitted - uniform
    statistic = max(2.0 * gain, 0.0)
    dof = max(int(n_parameters), 1)
    p_value = float(scipy.stats.chi2.sf(statistic, dof)) if np.isfinite(statistic) else 0.0
    return GoalDirectedness(
        log_likelihood_ratio_per_step=gain / n_steps if n_steps else 0.0,
        likelihood_ratio_statistic=statistic if np.isfinite(statistic) else float("inf"),
        degrees_of_freedom=dof,
        p_value=p_value,
        n_steps=n_steps,
    )


def preference_gain(n_actions: int, odds: float) -> float:
    """KL(p || uniform) in nats of a policy giving one action `odds` times any other's probability.

    The smallest per-step log-likelihood gain over uniform random that a consistent preference of
    that strength produces (docs/verdicts.md).
    """
    if n_actions < 2 or not odds >= 1.0:
        raise InvalidInputError.at("odds", f"need >= 2 actions and odds >= 1, got {odds}")
    p = np.full(n_actions, 1.0)
    p[0] = odds
    p /= p.sum()
    return float(np.sum(p * np.log(p * n_actions)))


def optimisation_power(
    mdp: TabularMDP,
    reward: np.ndarray,
    trajectories: TrajectorySet,
    *,
    rng: np.random.Generator,
    n_samples: int = DEFAULT_MONTE_CARLO_SAMPLES,
    max_exact_support: int = DEFAULT_MAX_EXACT_SUPPORT,
) -> OptimisationPower:
    """Bits of optimisation the demonstrations show under `reward` (S, A, S).

    The random policy starts where the demonstrations started (their empirical start-state
    distribution) and acts uniformly for the full horizon. Its return distribution is computed
    exactly when it has at most `max_exact_support` distinct (state, partial return) pairs at
    every step, otherwise estimated from `n_samples` rollouts drawn with `rng`.
    """
    demo = float(discounted_returns(mdp, reward, trajectories).mean())
    starts = start_distribution(mdp, trajectories)
    tolerance = RETURN_RESOLUTION * max(1.0, mdp.horizon * float(np.abs(reward).max()))
    exact = _exact_return_distribution(mdp, reward, starts, tolerance, max_exact_support)
    if exact is not None:
        values, probabilities = exact
        fraction = float(probabilities[values >= demo - tolerance].sum())
        return OptimisationPower(
            bits=_bits(fraction),
            fraction=fraction,
            demo_return=demo,
            method="exact",
            n_samples=None,
            lower_bound=False,
        )
    if n_samples < 1:
        raise InvalidInputError.at("n_samples", f"must be >= 1, got {n_samples}")
    returns = random_policy_returns(mdp, reward, starts, n=n_samples, rng=rng)
    reached = int(np.count_nonzero(returns >= demo - tolerance))
    fraction = (reached + 1) / (n_samples + 1)
    return OptimisationPower(
        bits=_bits(fraction),
        fraction=fraction,
        demo_return=demo,
        method="monte_carlo",
        n_samples=n_samples,
        lower_bound=reached == 0,
    )


def start_distribution(mdp: TabularMDP, trajectories: TrajectorySet) -> np.ndarray:
    """(S,) float64 distribution of the demonstrations' first states."""
    counts = np.bincount(trajectories.obs[trajectories.obs_starts], minlength=mdp.n_states)
    return np.asarray(counts / counts.sum(), dtype=np.float64)


def random_policy_returns(
    mdp: TabularMDP, reward: np.ndarray, starts: np.ndarray, *, n: int, rng: np.random.Generator
) -> np.ndarray:
    """(n,) float64 discounted returns of uniform-random rollouts from `starts` (S,)."""
    transitions = mdp.transitions
    cumulative = np.cumsum(transitions.data)
    row_end = cumulative[transitions.indptr[1:] - 1]
    row_start = row_end - np.asarray(transitions.sum(axis=1)).ravel()
    states = rng.choice(mdp.n_states, size=n, p=starts)
    returns = np.zeros(n)
    for t in range(mdp.horizon):
        actions = rng.integers(0, mdp.n_actions, size=n)
        rows = states * mdp.n_actions + actions
        u = row_start[rows] + rng.random(n) * (row_end[rows] - row_start[rows])
        index = np.searchsorted(cumulative, u, side="right")
        index = np.clip(index, transitions.indptr[rows], transitions.indptr[rows + 1] - 1)
        next_states = transitions.indices[index]
        returns += mdp.discount**t * reward[states, actions, next_states]
        states = next_states
    return returns


def _exact_return_distribution(
    mdp: TabularMDP,
    reward: np.ndarray,
    starts: np.ndarray,
    resolution: float,
    max_support: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, probabilities) of the random policy's return, or None if the support grows too big.

    Forward dynamic programming over (state, partial return) pairs; partial returns that agree to
    `resolution` are merged, so the support stays small when rewards take few distinct values.
    """
    coo = mdp.transitions.tocoo()
    order = np.argsort(coo.row // mdp.n_actions, kind="stable")
    branch_state = (coo.row // mdp.n_actions)[order]
    branch_action = (coo.row % mdp.n_actions)[order]
    branch_next = coo.col[order]
    branch_p = coo.data[order] / mdp.n_actions
    branch_r = reward[branch_state, branch_action, branch_next]
    first = np.searchsorted(branch_state, np.arange(mdp.n_states))
    count = np.bincount(branch_state, minlength=mdp.n_states)
    states = np.flatnonzero(starts > 0)
    values, probabilities = np.zeros(len(states)), starts[states]
    for t in range(mdp.horizon):
        n_branches = count[states]
        if int(n_branches.sum()) > max_support:
            return None
        entry = np.repeat(np.arange(len(states)), n_branches)
        offset = np.arange(len(entry)) - np.repeat(np.cumsum(n_branches) - n_branches, n_branches)
        branch = first[states][entry] + offset
        states, values, probabilities = _merged(
            branch_next[branch],
            values[entry] + mdp.discount**t * branch_r[branch],
            probabilities[entry] * branch_p[branch],
            resolution,
            mdp.n_states,
        )
    return values, probabilities


def _merged(
    states: np.ndarray, values: np.ndarray, probabilities: np.ndarray, resolution: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum the probabilities of entries with the same state and (resolution-rounded) value."""
    level_of = np.unique(np.round(values / resolution), return_inverse=True)[1]
    keys, key_of = np.unique(level_of * n + states, return_inverse=True)
    merged = np.bincount(key_of, weights=probabilities, minlength=len(keys))
    first = np.zeros(len(keys), dtype=np.int64)
    first[key_of[::-1]] = np.arange(len(key_of))[::-1]
    return keys % n, values[first], merged


def _bits(fraction: float) -> float:
    """-log2(fraction), +inf for a fraction of 0."""
    return float(-np.log2(fraction)) if fraction > 0 else float("inf")
