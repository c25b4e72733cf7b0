"""The sparse report backend: the exact report's numbers without an (S, A, S) array.

`SparseReference` holds what does not depend on the trajectories or the inferred reward (the
transition support, the reference reward and its optimal and uniform-random returns), and
`Resampling` what a bootstrap resample reuses from the full data (its (t, s) pairs, the fitted
inverse temperatures, the named goals' plans). `sparse_measure` gives the verdict's evidence
with streamed backward passes (O(H * nnz) time, O(S * A) memory per pass),
`sparse_metrics` the report's distances (irl.divergence.distances of the dense pair, without
it), `sparse_power` the optimisation power, and `report_memory_bytes` estimates the peak memory
of the whole report up front.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from irl.algorithms.fast_mce import SparseDynamics
from irl.divergence.sparse import (
    VisitCounts,
    sparse_distances,
    sparse_epic_distance,
)
from irl.environments.tabular import TabularMDP
from irl.goal_directedness import (
    DEFAULT_MONTE_CARLO_SAMPLES,
    ActionData,
    GoalDirectedness,
    OptimisationPower,
    PlanningReward,
    directed_behaviour,
    power_of_returns,
    start_distribution,
)
from irl.hypotheses import Candidate, WarmCandidates, fit_hypotheses
from irl.planning import NormalizedReturn
from irl.planning_sparse import optimal_values, planning_dynamics, uniform_visits
from irl.rewards import LinearReward, TabularReward
from irl.rewards_sparse import SparseReward, TransitionSupport, sparse_reward
from irl.trajectories import TrajectorySet
from irl.verdict import DEFAULT_THRESHOLDS, Evidence, Thresholds, reads_goal_identity

ConcreteReward = TabularReward | LinearReward


@dataclass(frozen=True, eq=False)
class SparseReference:
    """An MDP and its reference (training) reward, with everything a resample reuses."""

    mdp: TabularMDP
    support: TransitionSupport
    reward: SparseReward
    expected: np.ndarray
    """(S, A) float64 r(s, a) of the reference reward."""
    optimal: float
    """Return of the reference's optimal policy (ties shared), from the initial distribution."""
    random: float
    """Return of the uniform-random policy under the reference."""
    absorbing: np.ndarray
    """(S,) bool: absorbing states (where a short trajectory is padded by staying)."""
    dynamics: SparseDynamics
    """The transitions in the passes' action-major layout."""
    uniform_visits: np.ndarray
    """(S,) discounted visits of the uniform-random policy (its return under any reward)."""
    n_parameters: int

    @classmethod
    def of(
        cls, mdp: TabularMDP, reference: ConcreteReward | SparseReward, *, n_parameters: int
    ) -> "SparseReference":
        """Precompute the reference's planning once (a backward and a forward pass)."""
        support = TransitionSupport.of(mdp)
        reward = as_sparse(reference, mdp, support)
        expected = reward.expected(support)
        dynamics = planning_dynamics(mdp)
        visits = uniform_visits(dynamics)
        optimal = float(mdp.initial_state_dist @ optimal_values(dynamics, expected))
        return cls(
            mdp=mdp,
            support=support,
            reward=reward,
            expected=expected,
            optimal=optimal,
            random=float(visits @ expected.mean(axis=1)),
            absorbing=mdp.is_absorbing(),
            dynamics=dynamics,
            uniform_visits=visits,
            n_parameters=n_parameters,
        )


def as_sparse(
    reward: ConcreteReward | SparseReward, mdp: TabularMDP, support: TransitionSupport
) -> SparseReward:
    """The reward in separable form (irl.rewards_sparse.sparse_reward)."""
    return reward if isinstance(reward, SparseReward) else sparse_reward(reward, mdp, support)


def trajectory_returns(
    reference: SparseReference, reward: SparseReward, trajectories: TrajectorySet
) -> np.ndarray:
    """(n_traj,) discounted returns, padded by staying in absorbing states (as
    irl.planning.discounted_returns)."""
    mdp, support = reference.mdp, reference.support
    states, actions, next_states = (np.asarray(x) for x in trajectories.transitions())
    returns = trajectories.discounted_returns(
        reward.at(support, states, actions, next_states), mdp.discount
    )
    last = np.asarray(trajectories.last_obs())
    padded = reference.absorbing[last] & (trajectories.lengths < mdp.horizon)
    if not padded.any():
        return np.asarray(returns)
    n_actions = mdp.n_actions
    stay_states = np.repeat(last, n_actions)
    every_action = np.tile(np.arange(n_actions), last.size)
    stay = reward.at(support, stay_states, every_action, stay_states)
    stay = stay.reshape(last.size, n_actions).mean(axis=1)
    powers = mdp.discount ** np.arange(mdp.horizon + 1, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(powers)])
    remaining = cumulative[mdp.horizon] - cumulative[np.minimum(trajectories.lengths, mdp.horizon)]
    return np.asarray(returns + np.where(padded, stay * remaining, 0.0))


def normalized(demo: float, optimal: float, random: float) -> NormalizedReturn:
    """irl.planning.normalized_return from its three returns."""
    spread = optimal - random
    scale = max(1.0, abs(optimal), abs(random))
    value = None if abs(spread) <= 1e-12 * scale else (demo - random) / spread
    return NormalizedReturn(demo=demo, optimal=optimal, random=random, normalized=value)


@dataclass(frozen=True)
class Measured:
    """The evidence of one (trajectories, inferred reward) pair and the parts it came from."""

    evidence: Evidence
    """Without optimisation power (the report adds it for the full data only)."""
    directed: GoalDirectedness
    under_training: NormalizedReturn
    under_inferred: NormalizedReturn


def sparse_measure(
    reference: SparseReference,
    trajectories: TrajectorySet,
    inferred: ConcreteReward | SparseReward,
    *,
    candidates: Sequence[Candidate] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    warm: "Resampling | None" = None,
) -> Measured:
    """The verdict's evidence without dense arrays: EPIC (closed form), normalised returns under
    the training and inferred rewards, the goal-directedness tests and the named-goal
    hypotheses (streamed soft-optimal passes at the visited (t, s) pairs).

    One backward pass gives the inferred reward's optimal return and the reference's uniform
    visits its random return; the reference's returns come from `reference`; the
    reward-with-bias fit is shared with the hypotheses' free fit.
    A bootstrap resample passes `warm` (Resampling.of the full data's measurement): its
    behaviour fits search near the full data's inverse temperatures, the candidates' plans are
    reused, and the named goals are fitted only when the verdict reads them
    (irl.verdict.reads_goal_identity).
    """
    mdp, support = reference.mdp, reference.support
    reward = as_sparse(inferred, mdp, support)
    planning = PlanningReward.of_sparse(reward, support)
    under_inferred = normalized(
        float(trajectory_returns(reference, reward, trajectories).mean()),
        float(mdp.initial_state_dist @ optimal_values(reference.dynamics, planning.expected)),
        float(reference.uniform_visits @ planning.expected.mean(axis=1)),
    )
    under_training = normalized(
        float(trajectory_returns(reference, reference.reward, trajectories).mean()),
        reference.optimal,
        reference.random,
    )
    directed, free_fit = directed_behaviour(
        mdp,
        trajectories,
        planning,
        n_parameters=reference.n_parameters,
        dynamics=reference.dynamics,
        rows=None if warm is None else warm.rows,
        around=None if warm is None else warm.inverse_temperature,
    )
    evidence = Evidence(
        normalized_training_return=under_training.normalized,
        epic=sparse_epic_distance(reward, reference.reward, discount=mdp.discount, support=support),
        n_trajectories=trajectories.n_trajectories,
        n_actions=mdp.n_actions,
        normalized_inferred_return=under_inferred.normalized,
        **directed.evidence_fields(),
        hypotheses=None,
    )
    if candidates and (warm is None or reads_goal_identity(evidence, thresholds)):
        hypotheses = fit_hypotheses(
            mdp,
            trajectories,
            candidates,
            free_reward=planning,
            free_parameters=reference.n_parameters,
            far_epic=thresholds.far_epic,
            free_fit=free_fit,
            support=support,
            dynamics=reference.dynamics,
            warm=None if warm is None else warm.candidates,
        )
        evidence = replace(evidence, hypotheses=hypotheses)
    return Measured(evidence, directed, under_training, under_inferred)


@dataclass(frozen=True, eq=False)
class Resampling:
    """What the measurement of a bootstrap resample reuses from the full data's: its (t, s)
    pairs (a resample visits no others), the behaviour fit's inverse temperature, and the
    candidates' plans and temperatures."""

    rows: ActionData
    inverse_temperature: float
    candidates: WarmCandidates | None

    @classmethod
    def of(
        cls,
        reference: SparseReference,
        trajectories: TrajectorySet,
        candidates: Sequence[Candidate],
        point: Measured,
    ) -> "Resampling":
        """From the full data's measurement `point` (with these candidates)."""
        mdp = reference.mdp
        warm = None
        if candidates and point.evidence.hypotheses is not None:
            warm = WarmCandidates.of(
                mdp,
                trajectories,
                candidates,
                point.evidence.hypotheses,
                support=reference.support,
                dynamics=reference.dynamics,
            )
        rows = warm.rows if warm is not None else ActionData.of(mdp, trajectories)
        return cls(rows, point.directed.inverse_temperature, warm)


def sparse_power(
    reference: SparseReference,
    trajectories: TrajectorySet,
    inferred: ConcreteReward | SparseReward,
    *,
    demo: float,
    rng: np.random.Generator,
    n_samples: int = DEFAULT_MONTE_CARLO_SAMPLES,
) -> OptimisationPower:
    """irl.goal_directedness.optimisation_power with the reward's transition lookups; `demo` is
    the trajectories' mean return under it (sparse_measure's under_inferred.demo)."""
    mdp, support = reference.mdp, reference.support
    reward = as_sparse(inferred, mdp, support)
    return power_of_returns(
        mdp,
        partial(reward.at, support),
        magnitude=reward.largest_magnitude(support),
        demo=demo,
        starts=start_distribution(mdp, trajectories),
        rng=rng,
        n_samples=n_samples,
    )


def sparse_metrics(
    reference: SparseReference,
    inferred: ConcreteReward | SparseReward,
    trajectories: TrajectorySet | None,
) -> dict[str, float | None]:
    """The report's `metrics`: every registered distance, reference first (as the exact report's
    ExactPair(mdp, reference, inferred, mdp.discount, None, visit counts))."""
    mdp = reference.mdp
    visited = (
        None
        if trajectories is None
        else VisitCounts.of(mdp.n_states, mdp.n_actions, trajectories.transitions())
    )
    return sparse_distances(
        mdp,
        reference.reward,
        as_sparse(inferred, mdp, reference.support),
        discount=mdp.discount,
        visited=visited,
        support=reference.support,
        dynamics=reference.dynamics,
    )


FLOAT = 8
INDEX = 8


def report_memory_bytes(
    *,
    n_states: int,
    n_actions: int,
    nnz: int,
    horizon: int,
    n_steps: int,
    n_features: int = 0,
    n_bootstrap: int = 0,
) -> int:
    """Upper estimate of the bytes the sparse report (and the fit and refits it needs) holds at
    its peak, beyond the MDP itself: O(nnz + H * S + S * A + N), independent of n_bootstrap
    except for the per-resample evidence (refits run one after another).

    Terms: the support's index arrays and a reordered copy of the transitions for the solver
    (~7 nnz words), the fit's (H + 1, S) soft values, ~10 (S, A) work arrays of the passes,
    STARC's chain and sparse LU factors (2 KB per state: 1.5 KB measured on a 10^5-state
    gridworld), the trajectory
    arrays and a resample (~8 words per step), the features, plus a fixed 64 MB for the
    interpreter and libraries.
    """
    support = 7 * nnz * INDEX
    solver = 2 * nnz * (FLOAT + 4) + (horizon + 1) * n_states * FLOAT
    passes = 10 * n_states * n_actions * FLOAT
    starc = 2048 * n_states + 2 * nnz * (FLOAT + 4)
    data = 8 * n_steps * INDEX + n_states * n_features * FLOAT
    per_resample = 1024 * n_bootstrap
    return int(support + solver + passes + starc + data + per_resample + 64 * 2**20)
