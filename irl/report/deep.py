"""Deep-IRL reports: the fit's quality signals, and the full report on a tabular view."""

from dataclasses import replace

import numpy as np

from irl.algorithms.base import FitDiagnostics
from irl.callables import RewardFn
from irl.report import Exact, Report, Sampled, build_report, reward_parameters
from irl.report.projection import TabularView, project, state_trajectories
from irl.report.quality import deep_quality, epic_standard_error
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
    quality = deep_quality(diagnostics, epic=epic, epic_standard_error=se)
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
