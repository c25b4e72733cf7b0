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
class FitDiagnostics:
    """What a deep fit measured about itself after training (None where it does not apply).

    Returns are undiscounted episode returns under the environment's own reward; accuracies
    are the discriminator's on demonstration transitions held out of training and on fresh
    generator samples (irl.algorithms.deep_quality).
    """

    generator_return: float | None = None
    """Mean return of the trained generator's evaluation episodes."""
    generator_return_standard_error: float | None = None
    generator_episodes: int = 0
    demo_return: float | None = None
    """Mean return of the demonstrations."""
    random_return: float | None = None
    """Mean return of a uniform-random policy's evaluation episodes."""
    random_return_standard_error: float | None = None
    disc_heldout_accuracy: float | None = None
    """Balanced accuracy: the mean of the two below."""
    disc_heldout_demo_accuracy: float | None = None
    disc_heldout_generator_accuracy: float | None = None
    disc_heldout_transitions: int = 0
    """Held-out demonstration transitions (as many generator samples are scored)."""


@dataclass(frozen=True)
class InferenceResult:
    """An inferred reward with its optimisation curve."""

    reward: "TabularReward | LinearReward | NetworkReward"
    """LinearReward (weights by feature name) for linear models, else TabularReward over states."""
    curve: tuple[Mapping[str, float], ...] = field(hash=False)
    """One entry per logged step: {"iteration", "linf_delta", "grad_norm"}."""
    n_iterations: int
    converged: bool
    diagnostics: FitDiagnostics | None = None
    """Deep fits only: the quality signals measured after training."""
