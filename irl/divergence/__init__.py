"""Reward comparison invariant to potential shaping and positive rescaling, and exact regret."""

from irl.divergence.dard import dard_canonicalize, dard_distance
from irl.divergence.epic import (
    epic_canonicalize,
    epic_distance,
    pearson_distance,
    transition_coverage,
)
from irl.divergence.registry import (
    DISTANCES,
    METRICS,
    Distance,
    ExactPair,
    SampledPair,
    distances,
    tabular_distances,
)
from irl.divergence.regret import regret, symmetric_regret
from irl.divergence.sampled import (
    NextStateSampler,
    RewardFn,
    TransitionBatch,
    sample_successors,
    sampled_dard_canonical,
    sampled_dard_distance,
    sampled_epic_canonical,
    sampled_epic_distance,
)
from irl.divergence.starc import starc_canonicalize, starc_distance

__all__ = [
    "DISTANCES",
    "METRICS",
    "Distance",
    "ExactPair",
    "NextStateSampler",
    "RewardFn",
    "SampledPair",
    "TransitionBatch",
    "dard_canonicalize",
    "dard_distance",
    "distances",
    "epic_canonicalize",
    "epic_distance",
    "pearson_distance",
    "regret",
    "sample_successors",
    "sampled_dard_canonical",
    "sampled_dard_distance",
    "sampled_epic_canonical",
    "sampled_epic_distance",
    "starc_canonicalize",
    "starc_distance",
    "symmetric_regret",
    "tabular_distances",
    "transition_coverage",
]
