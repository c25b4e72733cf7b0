"""Named-goal hypotheses: which of the candidate goals a researcher names does the behaviour pursue?

Each candidate is a reward (the training reward always; by default each single feature of a
feature environment; any the request names). For each, only what is not the goal is fitted: the
inverse temperature beta >= 0 and the action bias b of pi ∝ exp(Q_soft[beta r] + b)
(irl.goal_directedness.fit_behaviour). Every candidate then has the same A free parameters, so
under a uniform prior over the candidates the BIC approximation of the posterior is
softmax(log-likelihood). The free IRL fit, in the same family, tells whether the behaviour is
explained significantly and substantially better than by the best candidate ("none of the named
goals"). docs/verdicts.md derives the thresholds.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from irl.algorithms.fast_mce import SparseDynamics
from irl.divergence.sparse import sparse_epic_distance
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.goal_directedness import (
    ActionData,
    BehaviourFit,
    LikelihoodTest,
    Logits,
    PlanningReward,
    behaviour_logits,
    fit_behaviour,
    likelihood_test,
)
from irl.planning_sparse import planning_dynamics
from irl.rewards import LinearReward, TabularReward
from irl.rewards_sparse import TransitionSupport, sparse_reward
from irl.trajectories import TrajectorySet

TRAINING = "training"
"""The training reward's candidate name when it is not a single feature."""
MAX_CANDIDATES = 32
"""Most candidates one report fits (each costs one behaviour fit, about 20 plans)."""
STANDARDISED_DECIMALS = 9
WARM_PLANS_REMEMBERED = 8
"""Plans (inverse temperatures) kept per candidate across bootstrap resamples: the local
search's points around the full data's beta recur from one resample to the next."""


@dataclass(frozen=True)
class Candidate:
    """A named goal to test."""

    name: str
    reward: TabularReward | LinearReward
    training: bool = False
    """Whether this is the training reward (the reference of the report)."""


@dataclass(frozen=True)
class CandidateFit:
    """How well one named goal explains the demonstrated actions."""

    name: str
    training: bool
    log_likelihood_per_step: float
    """Mean log-probability of the demonstrated actions, nats per step."""
    bic: float
    """-2 log L + k ln N with k = A (beta and A - 1 bias parameters), N steps."""
    posterior: float
    """Posterior probability under a uniform prior over the candidates (BIC approximation)."""
    inverse_temperature: float
    """Fitted beta, for the reward scaled to a range of 1 per step."""
    epic_to_training: float
    """EPIC distance of this candidate to the training reward (0 for the training reward)."""


@dataclass(frozen=True)
class Hypotheses:
    """The candidates' fits, best first, and the free IRL fit against the best one."""

    candidates: tuple[CandidateFit, ...]
    best: str
    best_posterior: float
    same_goal_posterior: float
    """Posterior mass on candidates that are the training goal's (EPIC to it below far_epic)."""
    free_log_likelihood_per_step: float
    """The free IRL fit's log-likelihood per step (its reward direction, with beta and bias)."""
    free_versus_best: LikelihoodTest
    """The free fit against the best candidate (dof: free parameters - 1)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            **asdict(self),
            "candidates": [asdict(c) for c in self.candidates],
        }


@dataclass(frozen=True, eq=False)
class WarmCandidates:
    """What the candidates' fits on a bootstrap resample reuse from the full data: its (t, s)
    pairs, each candidate's plans there (kept across resamples) and fitted beta."""

    rows: ActionData
    logits: tuple[Logits, ...]
    inverse_temperatures: tuple[float, ...]

    @classmethod
    def of(
        cls,
        mdp: TabularMDP,
        trajectories: TrajectorySet,
        candidates: Sequence[Candidate],
        fitted: Hypotheses,
        *,
        support: TransitionSupport,
        dynamics: SparseDynamics,
    ) -> "WarmCandidates":
        """From the full data's hypotheses (`fitted`, of these candidates)."""
        rows = ActionData.of(mdp, trajectories)
        beta = {fit.name: fit.inverse_temperature for fit in fitted.candidates}
        plans = tuple(
            behaviour_logits(
                mdp,
                rows,
                PlanningReward.of_sparse(sparse_reward(c.reward, mdp, support), support),
                dynamics,
                remember=WARM_PLANS_REMEMBERED,
            )
            for c in candidates
        )
        return cls(rows, plans, tuple(beta[c.name] for c in candidates))


def default_candidates(
    mdp: TabularMDP,
    training: TabularReward | LinearReward,
    named: Mapping[str, TabularReward | LinearReward] | None = None,
    *,
    features: bool = True,
    support: TransitionSupport | None = None,
) -> tuple[Candidate, ...]:
    """The training reward, the named goals, and (with `features`) each single feature.

    A candidate equal to an earlier one up to a positive scale and a constant (which explain the
    actions identically) is left out; the training reward takes the name of a single feature it
    equals ("door" rather than "training"). Features are offered only while the candidates stay
    within MAX_CANDIDATES (not, e.g., the one-hot state indicators of a large environment).
    """
    support = TransitionSupport.of(mdp) if support is None else support
    named = dict(named or {})
    if len(named) + 1 > MAX_CANDIDATES:
        raise InvalidInputError.at("goals", f"at most {MAX_CANDIDATES - 1} named goals")
    room = len(named) + 1 + len(mdp.feature_names) <= MAX_CANDIDATES
    singles = (
        {name: LinearReward({name: 1.0}) for name in mdp.feature_names} if features and room else {}
    )
    training_key = _standardised(training, mdp, support)
    training_name = next(
        (name for name, r in singles.items() if _standardised(r, mdp, support) == training_key),
        TRAINING,
    )
    chosen: list[Candidate] = [Candidate(training_name, training, training=True)]
    seen = {training_key}
    for name, reward in [*named.items(), *singles.items()]:
        key = _standardised(reward, mdp, support)
        if key in seen or any(c.name == name for c in chosen):
            continue
        seen.add(key)
        chosen.append(Candidate(name, reward))
    return tuple(chosen)


def fit_hypotheses(
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    candidates: Sequence[Candidate],
    *,
    free_reward: np.ndarray | PlanningReward,
    free_parameters: int,
    far_epic: float,
    free_fit: BehaviourFit | None = None,
    support: TransitionSupport | None = None,
    dynamics: SparseDynamics | None = None,
    warm: "WarmCandidates | None" = None,
) -> Hypotheses:
    """Fit beta and bias per candidate; posterior over candidates; free fit against the best.

    free_reward: the IRL fit (dense (S, A, S) or PlanningReward); free_parameters: its number of
    reward parameters; free_fit: its behaviour fit, when already made
    (irl.goal_directedness.directed_behaviour). Candidates are planned with streamed passes on
    `support` and `dynamics` (built from the MDP when not given); a bootstrap resample passes
    `warm` (the full data's pairs, plans and inverse temperatures).
    """
    if not candidates:
        raise InvalidInputError.at("goals", "no candidate goal")
    support = TransitionSupport.of(mdp) if support is None else support
    dynamics = planning_dynamics(mdp) if dynamics is None else dynamics
    data = ActionData.of(mdp, trajectories, rows=None if warm is None else warm.rows)
    n = max(data.n_steps, 1)
    training = next((c for c in candidates if c.training), candidates[0])
    r_training = sparse_reward(training.reward, mdp, support)
    fits = []
    for i, candidate in enumerate(candidates):
        r = sparse_reward(candidate.reward, mdp, support)
        fit = fit_behaviour(
            mdp,
            data,
            PlanningReward.of_sparse(r, support),
            dynamics=dynamics,
            logits=None if warm is None else warm.logits[i],
            around=None if warm is None else warm.inverse_temperatures[i],
        )
        distance = (
            0.0
            if candidate is training
            else sparse_epic_distance(r, r_training, discount=mdp.discount, support=support)
        )
        fits.append((candidate, fit, distance))
    ll = np.array([fit.log_likelihood for _, fit, _ in fits])
    posterior = np.exp(ll - ll.max())
    posterior /= posterior.sum()
    k = mdp.n_actions
    results = [
        CandidateFit(
            name=c.name,
            training=c.training,
            log_likelihood_per_step=fit.log_likelihood / n,
            bic=-2.0 * fit.log_likelihood + k * float(np.log(n)),
            posterior=float(p),
            inverse_temperature=fit.inverse_temperature,
            epic_to_training=float(distance),
        )
        for (c, fit, distance), p in zip(fits, posterior, strict=True)
    ]
    order = sorted(range(len(results)), key=lambda i: (-results[i].posterior, i))
    ranked = tuple(results[i] for i in order)
    free = (
        fit_behaviour(mdp, data, free_reward, dynamics=dynamics) if free_fit is None else free_fit
    )
    return Hypotheses(
        candidates=ranked,
        best=ranked[0].name,
        best_posterior=ranked[0].posterior,
        same_goal_posterior=float(
            sum(r.posterior for r in results if r.epic_to_training < far_epic)
        ),
        free_log_likelihood_per_step=free.log_likelihood / n,
        free_versus_best=likelihood_test(
            free.log_likelihood, float(ll.max()), max(free_parameters - 1, 1), data.n_steps
        ),
    )


def _standardised(
    reward: TabularReward | LinearReward, mdp: TabularMDP, support: TransitionSupport
) -> bytes:
    """A key equal for rewards that differ by a positive scale and a constant on the MDP's
    transitions (where they explain behaviour identically)."""
    values = sparse_reward(reward, mdp, support).on_transitions(support)
    centred = values - values.mean()
    scale = float(np.abs(centred).max())
    shown = centred / scale if scale > 0 else centred
    return (np.round(shown, STANDARDISED_DECIMALS) + 0.0).tobytes()
