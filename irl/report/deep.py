"""Deep-IRL reports: a sampled report with the fit's quality signals attached."""

from dataclasses import replace

import numpy as np

from irl.algorithms.base import FitDiagnostics
from irl.report import Report, Sampled
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
