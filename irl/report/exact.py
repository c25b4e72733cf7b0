"""The exact report backend: a tabular inferred reward against a tabular reference, with the
verdict (returns, regret and the behaviour likelihood are computed exactly)."""

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from functools import partial

import numpy as np

from irl.divergence import ExactPair, distances, epic_distance
from irl.environments.tabular import TabularMDP
from irl.goal_directedness import (
    DEFAULT_MONTE_CARLO_SAMPLES,
    GoalDirectedness,
    goal_directedness,
    optimisation_power,
    start_distribution,
)
from irl.hypotheses import Candidate, Hypotheses, default_candidates, fit_hypotheses
from irl.identifiability import IdentifiabilityReport, reachable_identifiability
from irl.planning import NormalizedReturn, normalized_return
from irl.report.types import GoalDirectednessReport, Report, Returns
from irl.rewards import LinearReward, TabularReward, reward_array
from irl.trajectories import TrajectorySet
from irl.uncertainty import DEFAULT_N_BOOTSTRAP, Refit, bootstrap
from irl.verdict import (
    DEFAULT_THRESHOLDS,
    Evidence,
    Thresholds,
    behaviour,
    decide,
    describe_weights,
    explain,
)

ConcreteReward = TabularReward | LinearReward
DEFAULT_SEED = 0
"""Seed of the generator used when the caller passes none, so a report is a function of its
inputs (it only matters for Monte Carlo optimisation power and the bootstrap)."""
MAX_EXACT_ENTRIES = 50_000_000
"""Largest S*A*S for which exact distances are computed (dense float64: 400 MB)."""


EXACT_COVERAGE = (
    "EPIC and STARC: uniform over (s, a, s'); DARD: the feasible transitions; Pearson: the "
    "visited transitions (POST /v1/comparisons with another `coverage` gives other values)"
)


def reward_parameters(reward_model: str, mdp: TabularMDP) -> int:
    """Free parameters of a fitted reward model (the likelihood-ratio test's degrees of
    freedom): one per feature for `linear`, one per state otherwise."""
    return len(mdp.feature_names) if reward_model == "linear" else mdp.n_states


def fits_exact(mdp: TabularMDP) -> bool:
    """Whether exact distances fit in memory (they use dense S×A×S arrays)."""
    return mdp.n_states * mdp.n_actions * mdp.n_states <= MAX_EXACT_ENTRIES


def describe_reward(
    reward: ConcreteReward, mdp: TabularMDP, notes: Mapping[str, str] | None = None
) -> str:
    """Which features (linear) or states (tabular) a reward loads on, divided by the max |value|;
    `notes` qualifies a feature's weight (e.g. "not identifiable")."""
    if isinstance(reward, LinearReward):
        return describe_weights(reward.weights, notes=notes)
    values = np.asarray(reward.values, dtype=np.float64)
    by_state = values.reshape(mdp.n_states, -1).mean(axis=1)
    scale = float(np.abs(by_state).max())
    shown = by_state / scale if scale > 0 else by_state
    top = np.argsort(-shown, kind="stable")[:3]
    if mdp.layout is not None:
        names = [f"cell ({mdp.layout.cells[s][0]}, {mdp.layout.cells[s][1]})" for s in top]
    else:
        names = [f"state {s}" for s in top]
    return ", ".join(f"{name} ({shown[s]:.2f})" for name, s in zip(names, top, strict=True))


def identifiability_notes(report: IdentifiabilityReport) -> dict[str, str]:
    """What the explanation says beside a feature whose weight the data cannot determine."""
    notes: dict[str, str] = {}
    for group in report.indistinguishable:
        for name in group:
            others = ", ".join(f"`{g}`" for g in group if g != name)
            notes[name] = f"not identifiable: ≡ {others}"
    for name in report.constant:
        notes[name] = "not identifiable: constant where the agent could go"
    for name in report.one_sided:
        notes[name] = "one-sided: never where the agent went"
    return notes


def visit_counts(mdp: TabularMDP, trajectories: TrajectorySet) -> np.ndarray:
    """(S, A, S) float64: how often the trajectories took each transition."""
    counts = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    np.add.at(counts, trajectories.transitions(), 1.0)
    return counts


def measure(
    mdp: TabularMDP,
    reference: np.ndarray,
    n_parameters: int,
    candidates: Sequence[Candidate],
    far_epic: float,
    trajectories: TrajectorySet,
    inferred: ConcreteReward,
) -> tuple[Evidence, GoalDirectedness, NormalizedReturn, NormalizedReturn]:
    """Evidence for the verdict from trajectories and an inferred reward (no optimisation power)."""
    r_inferred = reward_array(inferred, mdp)
    under_training = normalized_return(mdp, reference, trajectories)
    under_inferred = normalized_return(mdp, r_inferred, trajectories)
    directed = goal_directedness(mdp, trajectories, r_inferred, n_parameters=n_parameters)
    hypotheses: Hypotheses | None = None
    if candidates:
        hypotheses = fit_hypotheses(
            mdp,
            trajectories,
            candidates,
            free_reward=r_inferred,
            free_parameters=n_parameters,
            far_epic=far_epic,
        )
    evidence = Evidence(
        normalized_training_return=under_training.normalized,
        epic=epic_distance(r_inferred, reference, discount=mdp.discount),
        n_trajectories=trajectories.n_trajectories,
        n_actions=mdp.n_actions,
        normalized_inferred_return=under_inferred.normalized,
        **directed.evidence_fields(),
        hypotheses=hypotheses,
    )
    return evidence, directed, under_training, under_inferred


def exact_report(
    *,
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    inferred: ConcreteReward,
    reference: ConcreteReward,
    n_parameters: int,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    refit: Refit | None = None,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    rng: np.random.Generator | None = None,
    n_monte_carlo: int = DEFAULT_MONTE_CARLO_SAMPLES,
    goals: Mapping[str, ConcreteReward] | None = None,
    feature_goals: bool = True,
) -> Report:
    """Distances, returns, goal-directedness, the named-goal hypotheses and the verdict.

    The candidate goals are the reference (the training reward), `goals` by name and, with
    `feature_goals`, each single feature of the MDP (irl.hypotheses.default_candidates).

    With `refit` (the inference algorithm as a function of trajectories), a bootstrap of
    n_bootstrap resamples gives `uncertainty` and can turn the verdict inconclusive; without it
    `uncertainty` is None. `rng` drives resampling and Monte Carlo (default: seeded DEFAULT_SEED).
    """
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    r_reference, r_inferred = reward_array(reference, mdp), reward_array(inferred, mdp)
    candidates = default_candidates(mdp, reference, goals, features=feature_goals)
    evaluate = partial(measure, mdp, r_reference, n_parameters, candidates, thresholds.far_epic)
    point, directed, under_training, under_inferred = evaluate(trajectories, inferred)
    power = optimisation_power(mdp, r_inferred, trajectories, rng=rng, n_samples=n_monte_carlo)
    evidence = replace(point, optimisation_power_bits=power.bits)
    verdict, reason = decide(evidence, thresholds)
    uncertainty = None
    epic_interval: tuple[float, float] | None = None
    if refit is not None:
        resampled = bootstrap(
            trajectories=trajectories,
            refit=refit,
            evaluate=lambda ts, reward: evaluate(ts, reward)[0],
            rng=rng,
            n_bootstrap=n_bootstrap,
            thresholds=thresholds,
        )
        uncertainty = resampled.summary(verdict)
        epic_interval = resampled.bounds("epic")
        if verdict != "inconclusive" and (
            resampled.disagreement(verdict) > thresholds.max_bootstrap_disagreement
        ):
            reason = (
                f"the data cannot decide: {verdict} on the full data, but "
                f"{resampled.disagreement(verdict):.0%} of {n_bootstrap} bootstrap resamples "
                f"reach another verdict ({_counts(uncertainty.verdicts)}; at most "
                f"{thresholds.max_bootstrap_disagreement:.0%} allowed)"
            )
            verdict = "inconclusive"
    visits = visit_counts(mdp, trajectories)
    pair = ExactPair(mdp, r_reference, r_inferred, mdp.discount, None, visits)
    state_visits = np.bincount(trajectories.obs, minlength=mdp.n_states).astype(np.float64)
    identifiable = reachable_identifiability(
        mdp, state_visits, start_distribution(mdp, trajectories)
    )
    return Report(
        metrics={**distances(pair), "epic": evidence.epic},
        returns=Returns(
            normalized_under_training=under_training.normalized,
            normalized_under_inferred=under_inferred.normalized,
            demo_under_training=under_training.demo,
            optimal_under_training=under_training.optimal,
            random_under_training=under_training.random,
        ),
        goal_directedness=GoalDirectednessReport(
            **{f.name: getattr(directed, f.name) for f in fields(directed)},
            min_log_likelihood_ratio_per_step=thresholds.min_gain_per_step(mdp.n_actions),
            optimisation_power_bits=power.bits,
            optimisation_power=power,
            behaviour=behaviour(evidence, thresholds),
        ),
        hypotheses=evidence.hypotheses,
        identifiability=identifiable,
        verdict=verdict,
        explanation=explain(
            evidence,
            verdict,
            reason,
            utility=describe_reward(inferred, mdp, identifiability_notes(identifiable)),
            training=describe_reward(reference, mdp),
            thresholds=thresholds,
            epic_interval=epic_interval,
        ),
        thresholds=thresholds,
        uncertainty=uncertainty,
        distance_coverage=EXACT_COVERAGE,
    )


def _counts(verdicts: Mapping[str, int]) -> str:
    """'goal_misgeneralization 15, inconclusive 5'."""
    return ", ".join(f"{verdict} {count}" for verdict, count in verdicts.items())
