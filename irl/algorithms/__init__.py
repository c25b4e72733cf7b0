"""Inverse RL algorithms and their shared result, progress and cancellation types.

Training the deep algorithms (irl.algorithms.deep) and imitation's MCE solver needs torch; they
are imported only when used, so this package imports without it.
"""

from irl.algorithms.base import Cancelled, InferenceResult, Progress, ProgressCallback
from irl.algorithms.deep_params import DEEP_ALGORITHMS, DeepIrlParams, validate_deep_params
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
from irl.algorithms.registry import ALGORITHM_NAMES, ALGORITHMS, REWARD_MODELS, Algorithm

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_NAMES",
    "DEEP_ALGORITHMS",
    "REWARD_MODELS",
    "Algorithm",
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
    "demo_occupancy",
    "final_occupancy",
    "fit_fast_mce",
    "mce_irl",
    "mce_objective",
    "validate_deep_params",
    "validate_params",
]
