"""Deep-IRL reports: the fit's quality signals, the full report on a tabular view, and the
spread over independently trained seeds."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations

import numpy as np

from irl.algorithms.base import FitDiagnostics
from irl.callables import NextStateSampler, RewardFn
from irl.divergence.sampled import estimate_dard, estimate_epic
from irl.report import Exact, Report, Sampled, build_report, reward_parameters
from irl.report.projection import TabularView, project, state_trajectories
from irl.report.quality import (
    SeedSpread,
    deep_quality,
    epic_standard_error,
    is_constant,
)
from irl.trajectories import TrajectorySet


def with_quality(
    report: Report,
    subject: Sampled,
    diagnostics: FitDiagnostics | None,
    trajectories: TrajectorySet,
    *,
    rng: np.random.Generator,
) -> Report:
    """The report with its `quality` filled in (the EPIC's standard error where EPIC was
    estimated, i.e. the reference is a function)."""
    epic = report.metrics.get("epic")
    se = None
    if epic is not None and not isinstance(subject.reference, np.ndarray):
        se = epic_standard_error(
            subject.inferred,
            subject.reference,
            trajectories,
            discount=subject.discount,
            rng=rng,
        )
    reference = subject.reference
    visited = (
        reference if isinstance(reference, np.ndarray) else reference(*trajectories.transitions())
    )
    quality = deep_quality(
        diagnostics, epic=epic, epic_standard_error=se, constant_reference=is_constant(visited)
    )
    return replace(report, quality=quality)


PROJECTED_COVERAGE = (
    "exact, on the tabular view: the network projected onto the maze's states (its mean over "
    "actions at each state's observation)"
)


def projected_report(
    inferred: RewardFn,
    view: TabularView,
    trajectories: TrajectorySet,
    *,
    rng: np.random.Generator,
) -> Report:
    """The tabular report (Exact) of a reward network projected onto the view's MDP, against
    the maze's training reward, on the trajectories mapped to state indices."""
    assert view.mdp.reward is not None  # a maze's MDP carries its training reward
    subject = Exact(
        view.mdp,
        project(inferred, view),
        view.mdp.reward,
        reward_parameters("tabular", view.mdp),
    )
    report = build_report(subject, state_trajectories(trajectories, view), rng=rng)
    return replace(report, distance_coverage=PROJECTED_COVERAGE)


def seed_spread(
    reports: Sequence[Report],
    rewards: Sequence[RewardFn],
    trajectories: TrajectorySet,
    *,
    discount: float,
    sample_next: NextStateSampler | None,
    rng: np.random.Generator,
) -> SeedSpread:
    """The spread of independently trained fits: each distance's [min, max], the verdicts,
    and the largest sampled EPIC (and DARD) between two seeds' rewards."""
    names = list(reports[0].metrics)
    metrics: dict[str, tuple[float, float] | None] = {}
    for name in names:
        values = [v for r in reports if (v := r.metrics.get(name)) is not None]
        metrics[name] = (min(values), max(values)) if values else None
    visited = trajectories.transitions()
    epics, dards = [], []
    for a, b in combinations(rewards, 2):
        epics.append(estimate_epic(a, b, visited, discount=discount, rng=rng))
        if sample_next is not None:
            dards.append(
                estimate_dard(a, b, visited, discount=discount, rng=rng, sample_next=sample_next)
            )
    return SeedSpread(
        n_seeds=len(reports),
        metrics=metrics,
        verdicts=dict(Counter(r.verdict for r in reports)),
        between_seeds_epic=max(epics) if epics else None,
        between_seeds_dard=max(dards) if dards else None,
    )


def with_seeds(report: Report, spread: SeedSpread) -> Report:
    """The report with the seeds' spread in its quality; `inconclusive` when the seeds'
    verdicts differ."""
    assert report.quality is not None
    quality = replace(report.quality, seeds=spread)
    if len(spread.verdicts) == 1:
        return replace(report, quality=quality)
    fell = ", ".join(f"{v.replace('_', ' ')} {n}" for v, n in spread.verdicts.items())
    explanation = (
        f"inconclusive: the verdict flips across {spread.n_seeds} independently trained fits "
        f"({fell}). The first seed's reading was: {report.explanation}"
    )
    return replace(report, quality=quality, verdict="inconclusive", explanation=explanation)
