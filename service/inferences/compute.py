"""What a worker computes for an inference job: the IRL fit, then the divergence report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms import InferenceResult, Progress, RewardModel, mce_irl, validate_params
from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.report import divergence_report
from irl.rewards import parse_reward_spec, reward_to_spec
from irl.trajectories import TrajectorySet
from service.core.db import unit_of_work
from service.core.models import Inference, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences import repository
from service.rewards import service as rewards
from service.rewards.service import ConcreteReward
from service.rollouts import service as rollouts

MAX_REPORT_ENTRIES = 50_000_000
"""Largest S*A*S for which exact distances are computed (dense float64: 400 MB)."""


@dataclass(frozen=True)
class InferenceOutcome:
    """What a finished job stores: the reward, reports, and the numbers listed with it."""

    reward_kind: str
    reward_spec: dict[str, Any]
    curve: tuple[Mapping[str, float], ...]
    log: tuple[str, ...]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def verdict(self) -> str | None:
        """The verdict against the training reward, if there is one."""
        training = self.reports.get("training")
        return training["verdict"] if training else None

    @property
    def epic(self) -> float | None:
        """EPIC distance to the training reward, if there is one."""
        training = self.reports.get("training")
        return training["metrics"].get("epic") if training else None


@dataclass(frozen=True)
class JobInputs:
    """Everything a job reads from the database, loaded before the long computation."""

    inference: Inference
    rollouts: RolloutSet
    mdp: TabularMDP
    trajectories: TrajectorySet


def load_inputs(session: Session, inference_id: str, settings: Settings) -> JobInputs:
    """Read the job's rollouts and environment."""
    inference = repository.get_any(session, inference_id)
    if inference is None:
        raise InvalidInputError([Problem("inference", f"{inference_id} no longer exists")])
    ro = repository.rollouts_for(session, inference)
    env_row = environments.get_row(session, inference.project_id, ro.environment_id, with_spec=True)
    mdp = environments.load(env_row, settings)
    assert isinstance(mdp, TabularMDP)
    return JobInputs(inference, ro, mdp, rollouts.load_trajectories(session, ro))


def n_parameters(reward_model: str, mdp: TabularMDP) -> int:
    """Free reward parameters the fit had (degrees of freedom of the likelihood-ratio test)."""
    return len(mdp.feature_names) if reward_model == "linear" else mdp.n_states


def _training_reward(session: Session, inputs: JobInputs) -> ConcreteReward | None:
    """The rollouts' training reward, evaluated in the job's environment (None if unknown)."""
    if inputs.rollouts.training_reward is None:
        return None
    spec = parse_reward_spec(inputs.rollouts.training_reward, loc="training_reward", mdp=inputs.mdp)
    return rewards.concrete(
        session,
        inputs.inference.project_id,
        spec,
        mdp=inputs.mdp,
        trajectories=inputs.trajectories,
        loc="training_reward",
    )


def reportable(mdp: TabularMDP) -> bool:
    """Whether exact distances fit in memory (they use dense S×A×S arrays)."""
    return mdp.n_states * mdp.n_actions * mdp.n_states <= MAX_REPORT_ENTRIES


def compute(
    inference_id: str,
    settings: Settings,
    *,
    progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> InferenceOutcome:
    """Run the IRL algorithm, then report against the training reward with a bootstrap.

    Progress runs 0..0.5 while training and 0.5..1 over the bootstrap refits (0..1 when there is
    nothing to report); cancellation is honoured between iterations and between refits.
    """
    with unit_of_work(settings) as uow:
        inputs = load_inputs(uow.session, inference_id, settings)
        training = _training_reward(uow.session, inputs)
    job, mdp = inputs.inference, inputs.mdp
    params = asdict(validate_params(job.params, loc="params"))
    will_report = training is not None and reportable(mdp)
    share = 0.5 if will_report and settings.bootstrap_resamples else 1.0

    def fit(
        trajectories: TrajectorySet, seed: int, on_progress: Callable[[Progress], None] | None
    ) -> InferenceResult:
        return mce_irl(
            mdp=mdp,
            trajectories=trajectories,
            reward_model=cast(RewardModel, job.reward_model),
            rng=np.random.default_rng(seed),
            progress=on_progress,
            should_stop=should_stop,
            **params,
        )

    result = fit(
        inputs.trajectories, job.seed, lambda p: progress(replace(p, fraction=share * p.fraction))
    )
    log = [
        f"{job.algorithm} ({job.reward_model}) on {inputs.trajectories.n_trajectories} "
        f"trajectories: {result.n_iterations} iterations, "
        f"{'converged' if result.converged else 'stopped at max_iter'}"
    ]
    reports = {}
    if training is not None and not will_report:
        log.append(f"no divergence report: {mdp.n_states} states are too many for exact distances")
    if training is not None and will_report:
        refits = iter(range(1, settings.bootstrap_resamples + 1))

        def refit(trajectories: TrajectorySet) -> ConcreteReward:
            index = next(refits)
            progress(
                Progress(
                    iteration=index,
                    max_iter=settings.bootstrap_resamples,
                    fraction=share + (1 - share) * index / (settings.bootstrap_resamples + 1),
                    metrics={},
                )
            )
            return fit(trajectories, job.seed + index, None).reward

        reports["training"] = {
            "against": reward_to_spec(training),
            "identifiability": inputs.rollouts.identifiability,
            **divergence_report(
                mdp=mdp,
                trajectories=inputs.trajectories,
                inferred=result.reward,
                reference=training,
                n_parameters=n_parameters(job.reward_model, mdp),
                refit=refit if settings.bootstrap_resamples else None,
                n_bootstrap=settings.bootstrap_resamples,
                rng=np.random.default_rng(job.seed),
            ),
        }
        if settings.bootstrap_resamples:
            log.append(f"bootstrap: {settings.bootstrap_resamples} resamples refitted")
    return InferenceOutcome(
        reward_kind=job.reward_model,
        reward_spec=reward_to_spec(result.reward),
        curve=result.curve,
        log=tuple(log),
        reports=reports,
    )


def store_outcome(session: Session, inference_id: str, outcome: InferenceOutcome) -> None:
    """Store the reward and reports of a job whose final status was just written."""
    repository.add_reward(session, inference_id, kind=outcome.reward_kind, spec=outcome.reward_spec)
    for against, body in outcome.reports.items():
        repository.add_report(session, inference_id, against, body)
