"""The API's report models mirror irl's report dataclasses field by field."""

import dataclasses

import pytest
from pydantic import BaseModel

from irl.divergence import METRICS
from irl.episodes import EpisodeMixture
from irl.goal_directedness import LikelihoodTest, OptimisationPower
from irl.hypotheses import CandidateFit, Hypotheses
from irl.report import Coverage, GoalDirectednessReport, Report, Returns, Uncertainty
from irl.report.pooled import EnvironmentBreakdown
from irl.report.quality import DeepQuality, SeedSpread
from irl.verdict import Thresholds
from service.inferences.schemas import (
    CandidateFitPublic,
    CoveragePublic,
    DeepQualityPublic,
    DivergencePublic,
    EnvironmentBreakdownPublic,
    EpisodeMixturePublic,
    GoalDirectednessPublic,
    HypothesesPublic,
    LikelihoodTestPublic,
    MetricsPublic,
    OptimisationPowerPublic,
    ReturnsPublic,
    SeedSpreadPublic,
    ThresholdsPublic,
    UncertaintyPublic,
)

PAIRS = [
    (Returns, ReturnsPublic),
    (GoalDirectednessReport, GoalDirectednessPublic),
    (OptimisationPower, OptimisationPowerPublic),
    (Thresholds, ThresholdsPublic),
    (Uncertainty, UncertaintyPublic),
    (Coverage, CoveragePublic),
    (LikelihoodTest, LikelihoodTestPublic),
    (CandidateFit, CandidateFitPublic),
    (Hypotheses, HypothesesPublic),
    (DeepQuality, DeepQualityPublic),
    (SeedSpread, SeedSpreadPublic),
    (EnvironmentBreakdown, EnvironmentBreakdownPublic),
    (EpisodeMixture, EpisodeMixturePublic),
]


@pytest.mark.parametrize(("dataclass", "model"), PAIRS)
def test_model_mirrors_dataclass(dataclass: type, model: type[BaseModel]) -> None:
    assert [f.name for f in dataclasses.fields(dataclass)] == list(model.model_fields)


def test_divergence_model_has_every_report_field() -> None:
    report_fields = {f.name for f in dataclasses.fields(Report)}
    assert report_fields <= set(DivergencePublic.model_fields)
    assert set(DivergencePublic.model_fields) - report_fields == {
        "inference_id",
        "against",
        "environments",
    }


def test_metrics_model_has_one_field_per_registered_distance() -> None:
    assert tuple(MetricsPublic.model_fields) == METRICS
