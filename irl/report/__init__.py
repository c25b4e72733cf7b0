"""The divergence report: one builder, two backends.

`build_report` compares an inferred reward with a reference: exactly when both are tabular
rewards of a tabular MDP (`Exact`: distances, returns, goal-directedness, verdict, bootstrap),
by sampling when they are functions of observations (`Sampled`: distance estimates; the verdict
is inconclusive). The worker, `/divergence` and the dashboard all read its `Report`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from irl.divergence import NextStateSampler, RewardFn
from irl.environments.tabular import TabularMDP
from irl.goal_directedness import DEFAULT_MONTE_CARLO_SAMPLES
from irl.report.exact import (
    DEFAULT_SEED,
    ConcreteReward,
    exact_report,
    reward_parameters,
)
from irl.report.sampled import sampled_pair, sampled_report
from irl.report.types import Coverage, GoalDirectednessReport, Report, Returns
from irl.trajectories import TrajectorySet
from irl.uncertainty import DEFAULT_N_BOOTSTRAP, Refit, Uncertainty
from irl.verdict import DEFAULT_THRESHOLDS, Thresholds


@dataclass(frozen=True, eq=False)
class Exact:
    """A tabular inferred reward against a tabular reference in `mdp`."""

    mdp: TabularMDP
    inferred: ConcreteReward
    reference: ConcreteReward
    n_parameters: int
    """Free parameters of the fit (degrees of freedom of the likelihood-ratio test)."""
    goals: Mapping[str, ConcreteReward] | None = None
    """Named candidate goals besides the reference (irl.hypotheses)."""
    feature_goals: bool = True
    """Whether each single feature is also a candidate goal."""


@dataclass(frozen=True, eq=False)
class Sampled:
    """An inferred reward function against a reference function, or against rewards recorded
    on the visited transitions ((N,) float)."""

    inferred: RewardFn
    reference: RewardFn | np.ndarray
    discount: float
    sample_next: NextStateSampler | None = None
    """The environment's dynamics, where known (for DARD)."""


def build_report(
    subject: Exact | Sampled,
    trajectories: TrajectorySet,
    *,
    rng: np.random.Generator | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    refit: Refit | None = None,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    n_monte_carlo: int = DEFAULT_MONTE_CARLO_SAMPLES,
) -> Report:
    """The report of `subject` on the trajectories, from the backend that fits it.

    `refit` (exact only) bootstraps the verdict; `rng` drives resampling and Monte Carlo
    (default: seeded DEFAULT_SEED, so a report is a function of its inputs).
    """
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    if isinstance(subject, Exact):
        return exact_report(
            mdp=subject.mdp,
            trajectories=trajectories,
            inferred=subject.inferred,
            reference=subject.reference,
            n_parameters=subject.n_parameters,
            thresholds=thresholds,
            refit=refit,
            n_bootstrap=n_bootstrap,
            rng=rng,
            n_monte_carlo=n_monte_carlo,
            goals=subject.goals,
            feature_goals=subject.feature_goals,
        )
    return sampled_report(
        inferred=subject.inferred,
        reference=subject.reference,
        trajectories=trajectories,
        discount=subject.discount,
        rng=rng,
        sample_next=subject.sample_next,
    )


__all__ = [
    "ConcreteReward",
    "Coverage",
    "Exact",
    "GoalDirectednessReport",
    "Report",
    "Returns",
    "Sampled",
    "Uncertainty",
    "build_report",
    "exact_report",
    "reward_parameters",
    "sampled_pair",
    "sampled_report",
]
