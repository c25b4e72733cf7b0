"""The inference algorithms mesascope runs, declared once.

Each algorithm says which kind of environment and which reward models it takes, validates its
settings, and fits a reward with one signature. The service's `algorithm` choices, submit-time
checks, the worker's dispatch and the dashboard's forms all come from `ALGORITHMS`.

Adding an algorithm: a module with a class that satisfies `Algorithm`, then one entry in
`ALGORITHMS` below (and a paragraph in docs/). Keep torch out of its module's top level: import
it inside `fit`, so `irl` stays importable without it.
"""

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import numpy as np

from irl.algorithms.base import InferenceResult, ProgressCallback
from irl.algorithms.deep_params import AIRL, DENSITY, GAIL
from irl.algorithms.mce_irl import MCE_IRL
from irl.environments.tabular import GymnasiumEnvSpec, TabularMDP
from irl.trajectories import TrajectorySet

EnvironmentKind = Literal["tabular", "gymnasium"]


class Algorithm(Protocol):
    """An inverse RL algorithm as the service runs it."""

    @property
    def name(self) -> str:
        """The API's `algorithm` value."""

    @property
    def description(self) -> str:
        """One sentence for the API schema and the dashboard."""

    @property
    def environment_kind(self) -> EnvironmentKind:
        """The kind of environment it needs."""

    @property
    def reward_models(self) -> tuple[str, ...]:
        """The reward models it fits; the first is the default."""

    def validate_params(self, params: Any, *, loc: str) -> dict[str, Any]:
        """The settings to store for a job (InvalidInputError naming `loc` when invalid)."""
        ...

    def fit(
        self,
        *,
        environment: TabularMDP | GymnasiumEnvSpec,
        trajectories: TrajectorySet,
        reward_model: str,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        progress: ProgressCallback | None,
        should_stop: Callable[[], bool] | None,
    ) -> InferenceResult:
        """Infer a reward from the trajectories (stored `params`, as validate_params made them).

        Reports progress between iterations and raises Cancelled once should_stop() is true.
        """
        ...


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (MCE_IRL, AIRL, GAIL, DENSITY)}
ALGORITHM_NAMES: tuple[str, ...] = tuple(ALGORITHMS)
REWARD_MODELS: tuple[str, ...] = tuple(
    dict.fromkeys(model for a in ALGORITHMS.values() for model in a.reward_models)
)
"""Every reward model some algorithm fits, in registry order."""
