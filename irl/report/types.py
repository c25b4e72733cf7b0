"""The divergence report as typed values: what the worker stores and the API returns.

`Report.to_dict()` is the JSON form; the service's response models mirror these classes field
by field (tests/service/test_report_schema.py checks that they do).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from irl.goal_directedness import LikelihoodTest, OptimisationPower
from irl.hypotheses import Hypotheses
from irl.identifiability import IdentifiabilityReport
from irl.report.quality import DeepQuality
from irl.uncertainty import Uncertainty
from irl.verdict import Behaviour, Thresholds, Verdict


@dataclass(frozen=True)
class Returns:
    """Discounted returns of the demonstrations; `normalized_*` is (J_demo - J_random) /
    (J_optimal - J_random) under that reward (exact reports only)."""

    normalized_under_training: float | None = None
    normalized_under_inferred: float | None = None
    demo_under_training: float | None = None
    """Mean return of the demonstrations under the reference reward."""
    demo_under_inferred: float | None = None
    """Mean return of the demonstrations under the inferred reward (sampled reports)."""
    optimal_under_training: float | None = None
    random_under_training: float | None = None


@dataclass(frozen=True)
class GoalDirectednessReport:
    """The likelihood-ratio tests of the fitted behaviour model against the bias-inclusive null
    (top level) and its relatives, the effect-size minimum, what they say the behaviour is, and
    optimisation power (irl.goal_directedness)."""

    log_likelihood_ratio_per_step: float
    """Gain of the inferred reward (with an action bias) over the best fixed action
    distribution, nats per step."""
    likelihood_ratio_statistic: float
    degrees_of_freedom: int
    p_value: float
    n_steps: int
    min_log_likelihood_ratio_per_step: float
    optimisation_power_bits: float | None
    optimisation_power: OptimisationPower | None
    behaviour: Behaviour
    """goal_directed, action_bias, indistinguishable or random (irl.verdict.behaviour)."""
    goal_versus_uniform: LikelihoodTest
    bias_versus_uniform: LikelihoodTest
    bias_beyond_goal: LikelihoodTest
    inverse_temperature: float
    action_bias: tuple[float, ...]
    """The best state-independent action distribution (A,)."""


@dataclass(frozen=True)
class Coverage:
    """How many samples a sampled report's estimates used (0 where not estimated)."""

    transitions: int
    canonical_samples: int
    dard_transitions: int
    dard_action_samples: int


@dataclass(frozen=True)
class Report:
    """An inferred reward against a reference reward: distances, returns, goal-directedness,
    the verdict and the explanation a person can check."""

    metrics: Mapping[str, float | None] = field(hash=False)
    """Every registered distance (irl.divergence.DISTANCES) by name; None: not computed."""
    returns: Returns
    goal_directedness: GoalDirectednessReport | None
    verdict: Verdict
    explanation: str
    thresholds: Thresholds | None = None
    uncertainty: Uncertainty | None = None
    coverage: Coverage | None = None
    distance_coverage: str | None = None
    """Over which transitions the distances were measured (their values depend on it)."""
    hypotheses: Hypotheses | None = None
    """The named-goal hypotheses (exact reports)."""
    identifiability: IdentifiabilityReport | None = None
    """Features the data cannot tell apart, over the states the agent could reach (exact
    reports; the explanation marks the same features)."""
    quality: DeepQuality | None = None
    """Deep fits: whether imitation worked, the discriminator's held-out accuracy, the EPIC's
    noise, and warnings (irl.report.quality)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists)."""
        return _lists(asdict(self))


def _lists(value: Any) -> Any:
    """The same structure with tuples as lists and mappings as dicts."""
    if isinstance(value, Mapping):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value
