"""The exact report: a tabular inferred reward against a tabular reference, with the verdict.

Returns, regret, distances and the behaviour likelihoods are computed exactly, on the sparse
backend (irl.report.sparse): closed forms, sums over the transition support and streamed
backward passes, so no (S, A, S) array and no (H, S, A) policy is ever built.
"""

from collections.abc import Mapping
from dataclasses import fields, replace
from functools import partial

import numpy as np

from irl.environments.tabular import TabularMDP
from irl.goal_directedness import DEFAULT_MONTE_CARLO_SAMPLES, start_distribution
from irl.hypotheses import default_candidates
from irl.identifiability import IdentifiabilityReport, reachable_identifiability
from irl.report.sparse import (
    ConcreteReward,
    Resampling,
    SparseReference,
    sparse_measure,
    sparse_metrics,
    sparse_power,
)
from irl.report.types import GoalDirectednessReport, Report, Returns
from irl.rewards import LinearReward
from irl.trajectories import TrajectorySet
from irl.uncertainty import DEFAULT_N_BOOTSTRAP, Refit, bootstrap
from irl.verdict import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    behaviour,
    decide,
    describe_weights,
    explain,
)

DEFAULT_SEED = 0
"""Seed of the generator used when the caller passes none, so a report is a function of its
inputs (it only matters for Monte Carlo optimisation power and the bootstrap)."""


EXACT_COVERAGE = (
    "EPIC and STARC: uniform over (s, a, s'); DARD: the feasible transitions; Pearson: the "
    "visited transitions (POST /v1/comparisons with another `coverage` gives other values)"
)


def reward_parameters(reward_model: str, mdp: TabularMDP) -> int:
    """Free parameters of a fitted reward model (the likelihood-ratio test's degrees of
    freedom): one per feature for `linear`, one per state otherwise."""
    return len(mdp.feature_names) if reward_model == "linear" else mdp.n_states


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
    prepared = SparseReference.of(mdp, reference, n_parameters=n_parameters)
    candidates = default_candidates(
        mdp, reference, goals, features=feature_goals, support=prepared.support
    )
    evaluate = partial(sparse_measure, prepared, candidates=candidates, thresholds=thresholds)
    point = evaluate(trajectories, inferred)
    power = sparse_power(
        prepared,
        trajectories,
        inferred,
        demo=point.under_inferred.demo,
        rng=rng,
        n_samples=n_monte_carlo,
    )
    evidence = replace(point.evidence, optimisation_power_bits=power.bits)
    verdict, reason = decide(evidence, thresholds)
    uncertainty = None
    epic_interval: tuple[float, float] | None = None
    if refit is not None:
        warm = Resampling.of(prepared, trajectories, candidates, point)
        resampled = bootstrap(
            trajectories=trajectories,
            refit=refit,
            evaluate=lambda ts, reward: evaluate(ts, reward, warm=warm).evidence,
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
    state_visits = np.bincount(trajectories.obs, minlength=mdp.n_states).astype(np.float64)
    identifiable = reachable_identifiability(
        mdp, state_visits, start_distribution(mdp, trajectories)
    )
    directed, under_training, under_inferred = (
        point.directed,
        point.under_training,
        point.under_inferred,
    )
    return Report(
        metrics={**sparse_metrics(prepared, inferred, trajectories), "epic": evidence.epic},
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
