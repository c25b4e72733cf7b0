"""Reward comparison invariant to potential shaping and positive rescaling, and exact regret."""

from irl.divergence.dard import dard_canonicalize, dard_distance
from irl.divergence.epic import (
    epic_canonicalize,
    epic_distance,
    pearson_distance,
    transition_coverage,
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
from irl.divergence.tabular import METRICS, tabular_distances

__all__ = [
    "METRICS",
    "NextStateSampler",
    "RewardFn",
    "TransitionBatch",
    "dard_canonicalize",
    "dard_distance",
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
