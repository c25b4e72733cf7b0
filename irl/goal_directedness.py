"""Is the behaviour competently pursuing anything? Likelihood-ratio tests and optimisation power.

1. Likelihood-ratio tests in one nested family of behaviour models (docs/verdicts.md derives it):
   pi_t(a | s) ∝ exp(Q_soft[beta * r](t, s, a) + b_a), the soft-optimal policy of a reward r
   (inverse temperature beta) plus a state-independent action bias b. With r = 0 the soft
   Q-values are equal across actions, so the model is the fixed action distribution softmax(b):
   the *bias-inclusive null* "the agent has a habit, not a goal". The reward's parameters are
   the only difference between the null and the full model, so Wilks' theorem gives
   2 * (log L_goal+bias - log L_bias) ~ chi^2 with one degree of freedom per fitted reward
   parameter. We fit only beta and b on the direction of the IRL reward (a subfamily of the full
   model, so the statistic is at most the full one and the test is conservative). Three more
   tests in the same family say what kind of behaviour it is: the reward alone against uniform
   random (the test mesascope used before), the bias alone against uniform random, and the bias
   beyond the reward.
2. Optimisation power in bits (Yudkowsky): -log2 of the fraction of uniform-random-policy
   outcomes whose return under a reward is at least the demonstrations' mean return.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import scipy.special
import scipy.stats

from irl.algorithms.fast_mce import SparseDynamics
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.planning import discounted_returns, expected_rewards
from irl.planning_sparse import planning_dynamics, soft_logits_at
from irl.rewards_sparse import SparseReward, TransitionSupport
from irl.trajectories import TrajectorySet

DEFAULT_MONTE_CARLO_SAMPLES = 10_000
"""Random-policy rollouts when the exact return distribution is too large: resolves fractions down
to 1 / 10_001, i.e. at most log2(10_001) = 13.3 bits."""
DEFAULT_MAX_EXACT_SUPPORT = 200_000
"""Largest number of distinct (state, partial return) pairs the exact computation may track."""
RETURN_RESOLUTION = 1e-9
"""Returns closer than this (relative to the largest achievable |return|) count as equal."""


MAX_INVERSE_TEMPERATURE = 256.0
"""Largest inverse temperature fitted, for a reward scaled to a range of 1 per step (beyond it
the policy is deterministic to double precision on the rewards' scale)."""
MAX_ABS_BIAS = 30.0
"""Bound on the action-bias logits: e^-30 ~ 1e-13 is 'never' at any realistic data size."""
MAX_BIAS_STEP = 4.0
"""Largest change of a bias logit in one Newton step (a factor e^4 ~ 55 in odds)."""
BIAS_HALVINGS = 30
_BETA_GRID = (0.0, 1 / 16, 1 / 4, 1.0, 4.0, 16.0, 64.0, 256.0)
LOGITS_REMEMBERED = 2 * len(_BETA_GRID)
LOCAL_RATIO = float(np.sqrt(2.0))
"""Ratio between neighbouring inverse temperatures of a resample's local search."""
LOCAL_MAX_STEPS = 16
"""Inverse temperatures whose logits one reward's fits keep (the shared grid, and the search)."""


@dataclass(frozen=True)
class LikelihoodTest:
    """A likelihood-ratio test of a model against a nested null on the demonstrated actions."""

    log_likelihood_ratio_per_step: float
    """(log L_model - log L_null) / number of actions, in nats."""
    likelihood_ratio_statistic: float
    """2 * (log L_model - log L_null), floored at 0."""
    degrees_of_freedom: int
    p_value: float
    """P(chi^2_dof >= statistic) under the null (Wilks)."""


@dataclass(frozen=True)
class BehaviourFit:
    """The best member of the family pi ∝ exp(Q_soft[beta * r] + b) for a fixed reward r."""

    log_likelihood: float
    """Total log-likelihood of the demonstrated actions, in nats."""
    inverse_temperature: float
    """beta, for r scaled to a range of 1 (0 for the bias-only model)."""
    action_probabilities: tuple[float, ...]
    """softmax(b), (A,): the fitted state-independent action preference (uniform without bias)."""


@dataclass(frozen=True)
class GoalDirectedness:
    """Likelihood-ratio tests of the fitted reward against the bias-inclusive null and relatives.

    The top-level fields are the decisive test: the reward with an action bias against the best
    state-independent action distribution (the bias alone).
    """

    log_likelihood_ratio_per_step: float
    """(log L_goal+bias - log L_bias) / number of actions, in nats."""
    likelihood_ratio_statistic: float
    """2 * (log L_goal+bias - log L_bias)."""
    degrees_of_freedom: int
    """Free reward parameters of the fit."""
    p_value: float
    """P(chi^2_dof >= statistic): how surprising the gain is if the agent has a fixed action
    preference and no goal."""
    n_steps: int
    goal_versus_uniform: LikelihoodTest
    """The reward alone (no bias) against uniform-random actions."""
    bias_versus_uniform: LikelihoodTest
    """The best fixed action distribution against uniform-random actions (A - 1 dof)."""
    bias_beyond_goal: LikelihoodTest
    """The reward with a bias against the reward alone: does the bias explain actions the goal
    does not? (A - 1 dof)."""
    inverse_temperature: float
    """beta of the goal-with-bias fit (the reward scaled to a range of 1 per step)."""
    action_bias: tuple[float, ...]
    """The best state-independent action distribution (the empirical action frequencies)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    def evidence_fields(self) -> dict[str, float]:
        """The tests as irl.verdict.Evidence takes them (its keyword arguments)."""
        return {
            "p_value": self.p_value,
            "log_likelihood_ratio_per_step": self.log_likelihood_ratio_per_step,
            "goal_p_value": self.goal_versus_uniform.p_value,
            "goal_gain": self.goal_versus_uniform.log_likelihood_ratio_per_step,
            "bias_p_value": self.bias_versus_uniform.p_value,
            "bias_gain": self.bias_versus_uniform.log_likelihood_ratio_per_step,
            "bias_beyond_goal_p_value": self.bias_beyond_goal.p_value,
            "bias_beyond_goal_gain": self.bias_beyond_goal.log_likelihood_ratio_per_step,
        }


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


@dataclass(frozen=True)
class PlanningReward:
    """A reward as the behaviour models plan with it: r(s, a) = E[R(s, a, S')] and the range of
    R over (s, a, s'), the unit the inverse temperature beta is measured in."""

    expected: np.ndarray
    """(S, A) float64."""
    spread: float
    """max R - min R (0 for a constant reward)."""

    @classmethod
    def of(cls, mdp: TabularMDP, reward: "np.ndarray | PlanningReward") -> "PlanningReward":
        """From a dense (S, A, S) reward (small MDPs and tests), or unchanged."""
        if isinstance(reward, PlanningReward):
            return reward
        return cls(expected_rewards(mdp, reward), float(reward.max() - reward.min()))

    @classmethod
    def of_sparse(cls, reward: SparseReward, support: TransitionSupport) -> "PlanningReward":
        """From a reward in separable form (no (S, A, S) array)."""
        return cls(reward.expected(support), reward.value_range(support))

    def scaled(self) -> np.ndarray:
        """(S, A) r / spread (zeros for a constant reward)."""
        if self.spread > 0:
            return np.asarray(self.expected / self.spread)
        return np.zeros_like(self.expected)


def goal_directedness(
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    reward: "np.ndarray | PlanningReward",
    *,
    n_parameters: int,
    dynamics: SparseDynamics | None = None,
) -> "GoalDirectedness":
    """Test the fitted reward (dense (S, A, S) or PlanningReward) against the bias-inclusive null
    on the actions (directed_behaviour without its fit)."""
    return directed_behaviour(
        mdp, trajectories, reward, n_parameters=n_parameters, dynamics=dynamics
    )[0]


def directed_behaviour(
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    reward: "np.ndarray | PlanningReward",
    *,
    n_parameters: int,
    dynamics: SparseDynamics | None = None,
    rows: "ActionData | None" = None,
    around: float | None = None,
) -> tuple["GoalDirectedness", "BehaviourFit"]:
    """The goal-directedness tests, and the reward-with-bias fit they rest on (irl.hypotheses
    compares it with the named goals). A bootstrap resample passes the full data's `rows`
    (ActionData.of) and inverse temperature (`around`: fit_behaviour's local search).

    n_parameters: free reward parameters of the fit (the test's degrees of freedom). The two
    reward fits share their soft-optimal plans (one streamed pass per inverse temperature).
    """
    data = ActionData.of(mdp, trajectories, rows=rows)
    n = data.n_steps
    uniform = -n * float(np.log(mdp.n_actions))
    planning = PlanningReward.of(mdp, reward)
    logits = behaviour_logits(mdp, data, planning, dynamics)
    bias = fit_behaviour(mdp, data, None)
    goal = fit_behaviour(mdp, data, planning, bias=False, logits=logits, around=around)
    both = fit_behaviour(mdp, data, planning, logits=logits, around=around)
    best = max(both.log_likelihood, goal.log_likelihood, bias.log_likelihood)
    dof = max(int(n_parameters), 1)
    bias_dof = mdp.n_actions - 1
    decisive = likelihood_test(best, bias.log_likelihood, dof, n)
    directed = GoalDirectedness(
        log_likelihood_ratio_per_step=decisive.log_likelihood_ratio_per_step,
        likelihood_ratio_statistic=decisive.likelihood_ratio_statistic,
        degrees_of_freedom=dof,
        p_value=decisive.p_value,
        n_steps=n,
        goal_versus_uniform=likelihood_test(goal.log_likelihood, uniform, dof, n),
        bias_versus_uniform=likelihood_test(bias.log_likelihood, uniform, bias_dof, n),
        bias_beyond_goal=likelihood_test(best, goal.log_likelihood, bias_dof, n),
        inverse_temperature=both.inverse_temperature,
        action_bias=bias.action_probabilities,
    )
    return directed, both


def likelihood_test(model: float, null: float, dof: int, n_steps: int) -> LikelihoodTest:
    """Wilks' test of log-likelihoods `model` >= `null` with `dof` extra parameters."""
    gain = model - null
    statistic = max(2.0 * gain, 0.0) if not np.isnan(gain) else 0.0
    p_value = float(scipy.stats.chi2.sf(statistic, dof)) if np.isfinite(statistic) else 0.0
    return LikelihoodTest(
        log_likelihood_ratio_per_step=gain / n_steps if n_steps else 0.0,
        likelihood_ratio_statistic=statistic if np.isfinite(statistic) else float("inf"),
        degrees_of_freedom=dof,
        p_value=p_value,
    )


@dataclass(frozen=True)
class ActionData:
    """The demonstrated actions grouped by (time, state): what every behaviour model scores."""

    times: np.ndarray
    """(U,) int64 time steps of the distinct (t, s) pairs visited."""
    states: np.ndarray
    """(U,) int64 states of those pairs."""
    counts: np.ndarray
    """(U, A) float64: how often each action was taken there."""
    n_steps: int

    @classmethod
    def of(
        cls, mdp: TabularMDP, trajectories: TrajectorySet, *, rows: "ActionData | None" = None
    ) -> "ActionData":
        """Group the trajectories' actions (their length must not exceed the horizon); with
        `rows`, count them on rows' (t, s) pairs instead (a bootstrap resample on the full
        data's pairs, which hold every pair it visits), so plans made there are reused."""
        if trajectories.n_transitions and int(trajectories.lengths.max()) > mdp.horizon:
            raise InvalidInputError.at(
                "trajectories",
                f"a trajectory has {int(trajectories.lengths.max())} actions, "
                f"more than the horizon {mdp.horizon}",
            )
        states, actions, _ = trajectories.transitions()
        keys = np.asarray(trajectories.timesteps, dtype=np.int64) * mdp.n_states + states
        if rows is None:
            unique, inverse = np.unique(keys, return_inverse=True)
            times, pair_states = unique // mdp.n_states, unique % mdp.n_states
        else:
            known = rows.times * mdp.n_states + rows.states
            inverse = np.searchsorted(known, keys)
            if inverse.size and not np.array_equal(
                known[np.minimum(inverse, known.size - 1)], keys
            ):
                raise InvalidInputError.at("trajectories", "visit (t, s) pairs outside `rows`")
            times, pair_states = rows.times, rows.states
        counts = np.zeros((len(times), mdp.n_actions))
        np.add.at(counts, (inverse.ravel(), actions), 1.0)
        return cls(
            times=times,
            states=pair_states,
            counts=counts,
            n_steps=int(trajectories.n_transitions),
        )


Logits = Callable[[float], np.ndarray]
"""beta -> (U, A) log pi_t(. | s) of the soft-optimal policy of beta * r at the data's (t, s)."""


def behaviour_logits(
    mdp: TabularMDP,
    data: "ActionData",
    reward: PlanningReward,
    dynamics: SparseDynamics | None = None,
    *,
    remember: int = LOGITS_REMEMBERED,
) -> Logits:
    """The soft-optimal logits of the scaled reward at the data's (t, s) pairs, one streamed
    backward pass per inverse temperature (the last `remember` kept, so fits of one reward
    share them)."""
    dynamics = planning_dynamics(mdp) if dynamics is None else dynamics
    scaled = reward.scaled()

    @lru_cache(maxsize=remember)
    def logits(beta: float) -> np.ndarray:
        if beta == 0:  # the uniform policy: no pass
            return np.full((len(data.times), mdp.n_actions), -float(np.log(mdp.n_actions)))
        return soft_logits_at(dynamics, scaled, times=data.times, states=data.states, beta=beta)

    return logits


def fit_behaviour(
    mdp: TabularMDP,
    data: "ActionData",
    reward: "np.ndarray | PlanningReward | None",
    *,
    bias: bool = True,
    logits: Logits | None = None,
    dynamics: SparseDynamics | None = None,
    around: float | None = None,
) -> BehaviourFit:
    """Maximum-likelihood beta >= 0 (and bias b, if `bias`) of pi ∝ exp(Q_soft[beta r] + b).

    reward: dense (S, A, S), a PlanningReward, or None for the bias-only model (closed form: the
    action frequencies). `logits` (from behaviour_logits) shares plans between fits of one
    reward. beta is found on a geometric grid (ratio 4) refined by a local search around its
    best point (_local_search: ratio sqrt(2), then a parabola's vertex); with `around` > 0 (a
    bootstrap resample, from the full data's beta) by the local search alone. For each beta the
    bias is a concave (multinomial-logit) fit.
    """
    n_actions = mdp.n_actions
    uniform = np.zeros(n_actions)
    if reward is None:
        totals = data.counts.sum(axis=0)
        frequencies = totals / max(float(totals.sum()), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = float(np.sum(np.where(totals > 0, totals * np.log(frequencies), 0.0)))
        return BehaviourFit(ll, 0.0, tuple(float(f) for f in frequencies))
    planning = PlanningReward.of(mdp, reward)
    logits = behaviour_logits(mdp, data, planning, dynamics) if logits is None else logits
    visited = data.counts.sum(axis=1) > 0
    every = bool(visited.all())
    counts = data.counts if every else data.counts[visited]
    last = [uniform]

    def profile(beta: float) -> tuple[float, np.ndarray]:
        """(log-likelihood, bias) at inverse temperature beta, the bias fitted if asked (from
        the last fitted bias: neighbouring betas have close ones). Rows without actions (pairs
        a resample does not visit) are left out."""
        at = logits(beta) if every else logits(beta)[visited]
        if not bias:
            return _score(at, counts), uniform
        fitted = _fit_bias(at, counts, last[0])
        last[0] = fitted[1]
        return fitted

    if around is not None and around > 0 and planning.spread > 0:
        results = _local_search(profile, around)
        best_beta = max(results, key=lambda beta: results[beta][0])
        ll, b = results[best_beta]
        return BehaviourFit(float(ll), best_beta, tuple(float(p) for p in scipy.special.softmax(b)))
    results = {beta: profile(beta) for beta in _BETA_GRID}
    best_beta = max(results, key=lambda beta: results[beta][0])
    if planning.spread > 0 and best_beta > 0:
        results.update(_local_search(profile, best_beta))
        best_beta = max(results, key=lambda beta: results[beta][0])
    ll, b = results[best_beta]
    probabilities = scipy.special.softmax(b)
    return BehaviourFit(float(ll), best_beta, tuple(float(p) for p in probabilities))


def fitted_log_policy(
    mdp: TabularMDP,
    data: "ActionData",
    reward: "np.ndarray | PlanningReward | None",
    fit: BehaviourFit,
    *,
    logits: Logits | None = None,
    dynamics: SparseDynamics | None = None,
) -> np.ndarray:
    """(U, A) log pi(a | t, s) of a fitted behaviour model at the data's (t, s) pairs.

    reward: the reward `fit` was fitted for (dense (S, A, S) or PlanningReward; `logits` from
    behaviour_logits reuses its passes), or None for the bias-only model; the sum of
    data.counts * the result is fit.log_likelihood.
    """
    with np.errstate(divide="ignore"):
        bias = np.log(np.asarray(fit.action_probabilities, dtype=np.float64))
    at = np.zeros((len(data.times), mdp.n_actions))
    if reward is not None and fit.inverse_temperature > 0:
        planning = PlanningReward.of(mdp, reward)
        logits = behaviour_logits(mdp, data, planning, dynamics) if logits is None else logits
        at = logits(fit.inverse_temperature)
    shifted = at + np.maximum(bias, -2 * MAX_ABS_BIAS)
    return np.asarray(shifted - _logsumexp(shifted)[:, None])


def _local_search(
    profile: Callable[[float], tuple[float, np.ndarray]], around: float
) -> dict[float, tuple[float, np.ndarray]]:
    """Profile log-likelihoods near `around`: the points around * LOCAL_RATIO^k for k = -1, 0, 1,
    extended outwards while an end point is the best (within the fitted range), then the vertex
    of the parabola through the best point and its neighbours in log(beta), rounded to a grid of
    LOCAL_RATIO^(1/8) so resamples of one reward share their plans.

    The maximum of a resample's profile lies within a few standard errors of the full data's;
    4 to 6 plans find it where the full search needs about 20.
    """
    results: dict[float, tuple[float, np.ndarray]] = {}
    step = float(np.log(LOCAL_RATIO))
    top = float(np.log(MAX_INVERSE_TEMPERATURE))
    bottom = float(np.log(_BETA_GRID[1] / 4))
    centre = float(np.log(around))

    def at(k: int) -> float:
        beta = float(np.exp(min(max(centre + k * step, bottom), top)))
        if beta not in results:
            results[beta] = profile(beta)
        return beta

    low, high = -1, 1
    for k in (low, 0, high):
        at(k)
    for _ in range(LOCAL_MAX_STEPS):
        best = max(results, key=lambda beta: results[beta][0])
        if best == at(low) and centre + low * step > bottom:
            low -= 1
            at(low)
        elif best == at(high) and centre + high * step < top:
            high += 1
            at(high)
        else:
            break
    ordered = sorted(results)
    i = ordered.index(max(ordered, key=lambda beta: results[beta][0]))
    if 0 < i < len(ordered) - 1:
        x = np.log(ordered[i - 1 : i + 2])
        y = np.array([results[beta][0] for beta in ordered[i - 1 : i + 2]])
        left, right = (y[1] - y[0]) / (x[1] - x[0]), (y[2] - y[1]) / (x[2] - x[1])
        curvature = (right - left) / (0.5 * (x[2] - x[0]))
        if curvature < 0:
            vertex = 0.5 * (x[0] + x[1]) - left / curvature
            fine = step / 8
            vertex = float(np.clip(np.round(vertex / fine) * fine, x[0], x[2]))
            at_vertex = float(np.exp(vertex))
            if at_vertex not in results:
                results[at_vertex] = profile(at_vertex)
    return results


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """log sum exp over the last axis of a 2-D array (rows (U,))."""
    top = x.max(axis=1)
    return np.asarray(top + np.log(np.exp(x - top[:, None]).sum(axis=1)))


def _score(logits: np.ndarray, counts: np.ndarray) -> float:
    """sum of counts * log softmax(logits), rows (U, A)."""
    log_p = logits - _logsumexp(logits)[:, None]
    return float(np.sum(counts * log_p))


def _fit_bias(
    logits: np.ndarray, counts: np.ndarray, start: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """(log-likelihood, b) maximising sum counts * log softmax(logits + b): concave in b.

    Damped Newton steps on b from `start` (zeros by default; the first action's bias fixed at 0,
    the others within +-MAX_ABS_BIAS, which also bounds the bias of actions never taken), each
    capped and halved until it improves the likelihood, stopped when a step's predicted gain (the
    Newton decrement) is below 1e-10 of the value: the maximum whatever the start.
    """
    totals = counts.sum(axis=0)
    rows = counts.sum(axis=1)
    n_actions = logits.shape[1]
    b = np.zeros(n_actions) if start is None else start.copy()
    log_p = _log_softmax(logits + b)
    value = float(np.sum(counts * log_p))
    for _ in range(50):
        p = np.exp(log_p)
        gradient = (totals - rows @ p)[1:]
        weighted = p * rows[:, None]
        hessian = (weighted.T @ p - np.diag(weighted.sum(axis=0)))[1:, 1:]
        hessian -= 1e-9 * max(float(rows.sum()), 1.0) * np.eye(n_actions - 1)
        # Biases held at a bound by a gradient pointing outwards stay there.
        inner = b[1:]
        free = ~(
            ((inner >= MAX_ABS_BIAS) & (gradient > 0)) | ((inner <= -MAX_ABS_BIAS) & (gradient < 0))
        )
        step = np.zeros(n_actions)
        step[1:][free] = -np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        if float(gradient @ step[1:]) <= 2e-10 * max(abs(value), 1.0):
            break
        # A near-deterministic fit makes the Hessian nearly singular and the step huge: cap it
        # at MAX_BIAS_STEP, then halve it until the likelihood improves (it must: concave).
        length = float(np.abs(step).max())
        if length > MAX_BIAS_STEP:
            step *= MAX_BIAS_STEP / length
        improved = False
        for scale in 0.5 ** np.arange(BIAS_HALVINGS):
            trial = np.clip(b + scale * step, -MAX_ABS_BIAS, MAX_ABS_BIAS)
            trial_log_p = _log_softmax(logits + trial)
            trial_value = float(np.sum(counts * trial_log_p))
            if trial_value > value:
                improved = trial_value - value > 1e-10 * max(abs(value), 1.0)
                b, log_p, value = trial, trial_log_p, trial_value
                break
        if not improved:
            break
    return value, b


def _log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log softmax of (U, A)."""
    return np.asarray(x - _logsumexp(x)[:, None])


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
    """Bits of optimisation the demonstrations show under a dense `reward` (S, A, S)
    (power_of_returns with the reward's lookups and the trajectories' mean return)."""
    return power_of_returns(
        mdp,
        lambda s, a, s_next: reward[s, a, s_next],
        magnitude=float(np.abs(reward).max()),
        demo=float(discounted_returns(mdp, reward, trajectories).mean()),
        starts=start_distribution(mdp, trajectories),
        rng=rng,
        n_samples=n_samples,
        max_exact_support=max_exact_support,
    )


TransitionReward = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(states, actions, next_states) -> R(s, a, s') of K transitions."""


def power_of_returns(
    mdp: TabularMDP,
    reward: TransitionReward,
    *,
    magnitude: float,
    demo: float,
    starts: np.ndarray,
    rng: np.random.Generator,
    n_samples: int = DEFAULT_MONTE_CARLO_SAMPLES,
    max_exact_support: int = DEFAULT_MAX_EXACT_SUPPORT,
) -> OptimisationPower:
    """Bits of optimisation in a mean return `demo` under `reward` (largest |R|: `magnitude`).

    The random policy starts from `starts` (S,) (the demonstrations' empirical start-state
    distribution) and acts uniformly for the full horizon. Its return distribution is computed
    exactly when it has at most `max_exact_support` distinct (state, partial return) pairs at
    every step, otherwise estimated from `n_samples` rollouts drawn with `rng`.
    """
    tolerance = RETURN_RESOLUTION * max(1.0, mdp.horizon * magnitude)
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
    mdp: TabularMDP,
    reward: TransitionReward,
    starts: np.ndarray,
    *,
    n: int,
    rng: np.random.Generator,
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
        returns += mdp.discount**t * reward(states, actions, next_states)
        states = next_states
    return returns


def _exact_return_distribution(
    mdp: TabularMDP,
    reward: TransitionReward,
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
    branch_r = reward(branch_state, branch_action, branch_next)
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
