"""Types shared by inference algorithms: progress reports, cancellation and results."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from irl.rewards import LinearReward, TabularReward

if TYPE_CHECKING:
    from irl.rewards_net import NetworkReward


@dataclass(frozen=True)
class Progress:
    """A progress report, sent between optimisation chunks (e.g. to update a job's status)."""

    iteration: int
    max_iter: int
    fraction: float
    """Share of the iteration budget used, in [0, 1]."""
    metrics: Mapping[str, float] = field(hash=False)
    """Latest convergence metrics, e.g. linf_delta and grad_norm."""


ProgressCallback = Callable[[Progress], None]


class Cancelled(Exception):
    """Raised by an algorithm when its should_stop() callback returned True."""


@dataclass(frozen=True)
class InferenceResult:
    """An inferred reward with its optimisation curve."""

    reward: "TabularReward | LinearReward | NetworkReward"
    """LinearReward (weights by feature name) for linear models, else TabularReward over states."""
    curve: tuple[Mapping[str, float], ...] = field(hash=False)
    """One entry per logged step: {"iteration", "linf_delta", "grad_norm"}."""
    n_iterations: int
    converged: bool
