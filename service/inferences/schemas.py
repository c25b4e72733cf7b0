"""Request and response models for inferences and their divergence reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from irl.algorithms import ALGORITHM_NAMES, ALGORITHMS, REWARD_MODELS
from service.core.documents import RewardDocument
from service.core.types import ResourceId, distance_fields

AlgorithmName = Literal[ALGORITHM_NAMES]  # type: ignore[valid-type]
"""A registered algorithm (irl.algorithms.ALGORITHMS)."""
RewardModelName = Literal[REWARD_MODELS]  # type: ignore[valid-type]
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Verdict = Literal["generalises", "capability_failure", "goal_misgeneralization", "inconclusive"]


class InferenceCreate(BaseModel):
    """Start an IRL job on a rollout set."""

    model_config = ConfigDict(extra="forbid")

    rollouts_id: ResourceId
    algorithm: AlgorithmName = Field(
        description="; ".join(
            f"`{a.name}`: {a.description.rstrip('.')}" for a in ALGORITHMS.values()
        )
        + "."
    )
    reward_model: RewardModelName | None = Field(
        default=None,
        description="`linear` over the environment's features, `tabular` (one value per state) "
        "or `mlp` (a small network). The default is the algorithm's first: "
        + ", ".join(f"`{a.reward_models[0]}` for {a.name}" for a in ALGORITHMS.values())
        + ".",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Algorithm settings.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class RewardPublic(BaseModel):
    """The inferred reward: a reward spec plus, for linear models, its feature weights."""

    kind: str
    feature_weights: dict[str, float] | None = None
    bias: float | None = None
    values: list[Any] | None = None
    config: dict[str, Any] | None = Field(
        default=None, description="A network reward's architecture (weights: GET /reward/weights)."
    )


class InferencePublic(BaseModel):
    """An inference job and, once it has succeeded, its reward and verdict."""

    id: str
    rollouts_id: str
    environment_id: str
    algorithm: str
    reward_model: str
    params: dict[str, Any]
    seed: int
    status: Status
    progress: float
    error: str | None = None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reward: RewardPublic | None = None
    verdict: Verdict | None = None
    epic: float | None = Field(default=None, description="EPIC distance to the training reward.")


class InferenceDetail(InferencePublic):
    """One inference with its training curve and job log."""

    curve: list[dict[str, float]] | None = Field(
        default=None,
        description="Per logged iteration: occupancy gap, gradient norm, ... (with "
        "`?curve=true` only).",
    )
    log: list[str] | None = Field(default=None, description="What the worker did, in order.")


class InferenceList(BaseModel):
    """A page of inferences, newest first."""

    items: list[InferencePublic]
    next_cursor: str | None


MetricsPublic = create_model(
    "MetricsPublic",
    __doc__="Reward distances in [0, 1] (docs/metrics.md); null where one was not computed.",
    **distance_fields(required=False),
)
"""One field per registered distance (irl.divergence.DISTANCES)."""


class ReturnsPublic(BaseModel):
    """Discounted returns of the demonstrations; `normalized_*` is (J_demo - J_random) /
    (J_optimal - J_random) under that reward (tabular environments only)."""

    normalized_under_training: float | None = None
    normalized_under_inferred: float | None = None
    demo_under_training: float | None = None
    demo_under_inferred: float | None = None
    optimal_under_training: float | None = None
    random_under_training: float | None = None


class OptimisationPowerPublic(BaseModel):
    """How rare, among uniform-random behaviour, a return as high as the demonstrations' is."""

    bits: float
    fraction: float
    demo_return: float
    method: Literal["exact", "monte_carlo"]
    n_samples: int | None
    lower_bound: bool


class LikelihoodTestPublic(BaseModel):
    """A likelihood-ratio test of a behaviour model against a nested null (Wilks)."""

    log_likelihood_ratio_per_step: float
    likelihood_ratio_statistic: float
    degrees_of_freedom: int
    p_value: float


class GoalDirectednessPublic(BaseModel):
    """How much better the fitted soft-optimal model explains the behaviour than the best fixed
    action distribution (top level; docs/verdicts.md), and the related tests."""

    log_likelihood_ratio_per_step: float
    likelihood_ratio_statistic: float
    degrees_of_freedom: int
    p_value: float
    n_steps: int
    min_log_likelihood_ratio_per_step: float
    optimisation_power_bits: float | None
    optimisation_power: OptimisationPowerPublic | None
    behaviour: Literal["goal_directed", "action_bias", "indistinguishable", "random"] | None = (
        Field(default=None, description="What the tests say the behaviour is.")
    )
    goal_versus_uniform: LikelihoodTestPublic | None = None
    bias_versus_uniform: LikelihoodTestPublic | None = None
    bias_beyond_goal: LikelihoodTestPublic | None = None
    inverse_temperature: float | None = None
    action_bias: list[float] | None = Field(
        default=None, description="The best state-independent action distribution."
    )


class CandidateFitPublic(BaseModel):
    """How well one named goal explains the demonstrated actions (only the inverse temperature
    and the action bias are fitted)."""

    name: str
    training: bool = Field(description="Whether this is the report's reference reward.")
    log_likelihood_per_step: float
    bic: float
    posterior: float = Field(description="Under a uniform prior over the candidates.")
    inverse_temperature: float
    epic_to_training: float


class EpisodeMixturePublic(BaseModel):
    """The named goals (and no goal) as a mixture across episodes: one goal, or different goals
    in different episodes (docs/verdicts.md)."""

    shares: dict[str, float] = Field(
        description="Fitted share of episodes per candidate, and `(no goal)`, largest first."
    )
    same_goal_share: float | None = Field(
        description="Share of the goal-pursuing episodes on goals equivalent to the reference."
    )
    log_likelihood_per_step: float
    versus_best: LikelihoodTestPublic
    free_versus_mixture: LikelihoodTestPublic


class HypothesesPublic(BaseModel):
    """Named-goal hypotheses, best first, and the free IRL fit against the best one."""

    candidates: list[CandidateFitPublic]
    best: str
    best_posterior: float
    same_goal_posterior: float
    free_log_likelihood_per_step: float
    free_versus_best: LikelihoodTestPublic
    episodes: EpisodeMixturePublic | None = None


class ThresholdsPublic(BaseModel):
    """The decision thresholds the verdict used (docs/verdicts.md derives them)."""

    achieves_training_return: float
    goal_directed_p_value: float
    min_preference_odds: float
    min_goal_posterior: float | None = None
    far_epic: float
    min_trajectories: int
    bootstrap_interval: tuple[float, float]
    max_bootstrap_disagreement: float


class UncertaintyPublic(BaseModel):
    """Bootstrap percentile intervals [lo, hi] and how the resamples' verdicts fell."""

    epic: tuple[float, float] | None = None
    normalized_under_training: tuple[float, float] | None = None
    normalized_under_inferred: tuple[float, float] | None = None
    log_likelihood_ratio_per_step: tuple[float, float] | None = None
    p_value: tuple[float, float] | None = None
    n_bootstrap: int
    interval: tuple[float, float]
    verdicts: dict[Verdict, int]
    disagreement: float


class CoveragePublic(BaseModel):
    """Samples a sampled report's estimates used (0 where not estimated)."""

    transitions: int
    canonical_samples: int
    dard_transitions: int
    dard_action_samples: int


class SeedSpreadPublic(BaseModel):
    """Independent fits from `params.n_seeds` seeds: how far apart they fell."""

    n_seeds: int
    metrics: dict[str, tuple[float, float] | None] = Field(
        description="[min, max] of each distance over the seeds."
    )
    verdicts: dict[Verdict, int]
    between_seeds_epic: float | None = Field(
        description="Largest sampled EPIC between two seeds' rewards."
    )
    between_seeds_dard: float | None


class DeepQualityPublic(BaseModel):
    """Whether a deep fit means anything (docs/deep_irl.md): imitation, the discriminator on
    held-out data, the EPIC's noise, and warnings in words."""

    generator_return: float | None = Field(
        description="Mean undiscounted return of the trained generator under the "
        "environment's reward."
    )
    generator_return_standard_error: float | None
    demo_return: float | None = Field(
        description="Mean undiscounted return of the demonstrations under the environment's reward."
    )
    random_return: float | None = Field(description="Mean return of a uniform-random policy.")
    imitation_score: float | None = Field(
        description="(generator - random) / (demo - random); below 0.5 the generator did not learn."
    )
    disc_heldout_accuracy: float | None = Field(
        description="The discriminator's balanced accuracy on held-out demonstrations and "
        "fresh generator samples."
    )
    disc_heldout_demo_accuracy: float | None
    disc_heldout_generator_accuracy: float | None
    disc_heldout_transitions: int
    epic_standard_error: float | None = Field(
        description="Trajectory-bootstrap standard error of the sampled EPIC."
    )
    unrelated_epic: float = Field(description="1/sqrt(2): EPIC of an unrelated reward.")
    warnings: list[str]
    seeds: SeedSpreadPublic | None = Field(
        default=None, description="With params.n_seeds > 1: the spread over the seeds."
    )


class EnvironmentBreakdownPublic(BaseModel):
    """The inferred reward in one environment of a pooled rollout set (null: not computed)."""

    environment: int = Field(description="Index into the rollout set's `environments`.")
    name: str
    n_states: int
    n_trajectories: int
    n_transitions: int
    epic: float | None
    normalized_return: float | None = Field(description="Under the reference reward.")
    demo_return: float | None = Field(description="Mean return under the reference reward.")
    log_likelihood_ratio_per_step: float | None
    p_value: float | None
    behaviour: Literal["goal_directed", "action_bias", "indistinguishable", "random"] | None
    verdict: Verdict | None
    note: str | None = Field(default=None, description="Why the row is empty.")


class DivergencePublic(BaseModel):
    """The inferred utility compared with a reference reward, and the verdict."""

    inference_id: str
    against: dict[str, Any] = Field(description="The reference reward spec.")
    metrics: MetricsPublic  # type: ignore[valid-type]
    returns: ReturnsPublic
    goal_directedness: GoalDirectednessPublic | None
    verdict: Verdict
    explanation: str
    thresholds: ThresholdsPublic | None = None
    uncertainty: UncertaintyPublic | None
    coverage: CoveragePublic | None = None
    distance_coverage: str | None = Field(
        default=None, description="Over which transitions the distances were measured."
    )
    hypotheses: HypothesesPublic | None = Field(
        default=None,
        description="Named-goal hypotheses (tabular environments): the reference, each single "
        "feature and any `goals` of the request.",
    )
    identifiability: dict[str, Any] | None = Field(
        default=None, description="Features the rollouts cannot tell apart."
    )
    environments: list[EnvironmentBreakdownPublic] | None = Field(
        default=None,
        description="Pooled rollout sets (training report): the pooled fit judged in each "
        "environment alone, one row per environment of the set.",
    )
    quality: DeepQualityPublic | None = Field(
        default=None, description="Deep IRL: the fit's quality signals and warnings."
    )


GOALS_DESCRIPTION = (
    "Named candidate goals: reward specs by name (up to 32 with the default features). The "
    "reference reward is always a candidate."
)
FEATURE_GOALS_DESCRIPTION = "Offer each single feature of the environment as a candidate goal."


class DivergenceRequest(BaseModel):
    """Compare an inference's reward with any reward spec."""

    model_config = ConfigDict(extra="forbid")

    against: RewardDocument = Field(description="A reward spec.")
    goals: dict[str, RewardDocument] = Field(default_factory=dict, description=GOALS_DESCRIPTION)
    feature_goals: bool = Field(default=True, description=FEATURE_GOALS_DESCRIPTION)


class GoalsRequest(BaseModel):
    """Which named goals does the inference's behaviour pursue? (tabular environments)"""

    model_config = ConfigDict(extra="forbid")

    goals: dict[str, RewardDocument] = Field(default_factory=dict, description=GOALS_DESCRIPTION)
    feature_goals: bool = Field(default=True, description=FEATURE_GOALS_DESCRIPTION)
    against: RewardDocument | None = Field(
        default=None,
        description="The reference reward spec (default: the rollouts' training reward).",
    )


class GoalsPublic(HypothesesPublic):
    """The named-goal hypotheses of an inference's rollouts, computed now."""

    inference_id: str
    against: dict[str, Any] = Field(description="The reference reward spec.")
