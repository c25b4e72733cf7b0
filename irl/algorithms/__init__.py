"""Inverse RL algorithms and their shared result, progress and cancellation types."""

from irl.algorithms.base import Cancelled, InferenceResult, Progress, ProgressCallback
from irl.algorithms.deep import (
    ALGORITHMS as DEEP_ALGORITHMS,
)
from irl.algorithms.deep import (
    DeepIrlParams,
    deep_irl,
    validate_deep_params,
)
from irl.algorithms.fast_mce import MceObjective, SparseDynamics, fit_fast_mce
from irl.algorithms.mce_irl import (
    MceIrlParams,
    RewardModel,
    Solver,
    check_mce_irl_fit,
    demo_occupancy,
    final_occupancy,
    mce_irl,
    mce_objective,
    validate_params,
)

__all__ = [
    "DEEP_ALGORITHMS",
    "Cancelled",
    "DeepIrlParams",
    "InferenceResult",
    "MceIrlParams",
    "MceObjective",
    "Progress",
    "ProgressCallback",
    "RewardModel",
    "Solver",
    "SparseDynamics",
    "check_mce_irl_fit",
    "deep_irl",
    "demo_occupancy",
    "final_occupancy",
    "fit_fast_mce",
    "mce_irl",
    "mce_objective",
    "validate_deep_params",
    "validate_params",
]
