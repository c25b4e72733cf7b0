"""Inverse RL algorithms and their shared result, progress and cancellation types.

The deep (adversarial) algorithms need torch: they are imported on first use of their names.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from irl.algorithms.base import Cancelled, InferenceResult, Progress, ProgressCallback
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

if TYPE_CHECKING:
    from irl.algorithms.deep import ALGORITHMS as DEEP_ALGORITHMS
    from irl.algorithms.deep import DeepIrlParams, deep_irl, validate_deep_params

_DEEP_NAMES = {
    "DEEP_ALGORITHMS": "ALGORITHMS",
    "DeepIrlParams": "DeepIrlParams",
    "deep_irl": "deep_irl",
    "validate_deep_params": "validate_deep_params",
}


def __getattr__(name: str) -> Any:
    """The deep algorithms' names, importing irl.algorithms.deep (and torch) on first use."""
    if name in _DEEP_NAMES:
        return getattr(import_module("irl.algorithms.deep"), _DEEP_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
