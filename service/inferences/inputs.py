"""What an inference job reads from the database before its long computation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from irl.algorithms.deep_params import DeepIrlParams, validate_deep_params
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.trajectories import TrajectorySet
from service.core.models import Inference, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences import repository
from service.rollouts import service as rollouts


@dataclass(frozen=True)
class JobInputs:
    """An inference with its rollouts, environment and trajectories."""

    inference: Inference
    rollouts: RolloutSet
    environment: TabularMDP | GymnasiumEnvSpec
    trajectories: TrajectorySet

    @property
    def mdp(self) -> TabularMDP:
        """The tabular environment (for tabular algorithms)."""
        assert isinstance(self.environment, TabularMDP)
        return self.environment

    def deep_params(self) -> DeepIrlParams:
        """The deep IRL settings the job ran with (defaults filled in)."""
        return validate_deep_params(self.inference.params, algorithm=self.inference.algorithm)


def load_inputs(session: Session, inference_id: str, settings: Settings) -> JobInputs:
    """Read the job's rollouts and environment."""
    inference = repository.get_any(session, inference_id)
    if inference is None:
        raise InvalidInputError([Problem("inference", f"{inference_id} no longer exists")])
    ro = repository.rollouts_for(session, inference)
    env_row = environments.get_row(session, inference.project_id, ro.environment_id, with_spec=True)
    model = environments.load(env_row, settings)
    return JobInputs(inference, ro, model, rollouts.load_trajectories(session, ro))
