"""What a worker computes for an inference job: the IRL fit, then the divergence report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms import InferenceResult, Progress, RewardModel, mce_irl, validate_params
from irl.algorithms.deep import Algorithm as DeepAlgorithm
from irl.algorithms.deep import deep_irl, validate_deep_params
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.environments.gym_dynamics import environment_successors
from irl.environments.gym_rewards import environment_reward
from irl.errors import InvalidInputError, Problem
from irl.io.rewards import parse_reward_spec
from irl.report import divergence_report
from irl.report_network import network_divergence_report
from irl.rewards import reward_to_spec
from irl.rewards_net import NetworkReward
from irl.trajectories import TrajectorySet
from service.core import artifacts
from service.core.db import unit_of_work
from service.core.models import Inference, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences import repository
from service.rewards import service as rewards
from service.rewards.service import ConcreteReward
from service.rollouts import service as rollouts

DEEP_ALGORITHMS = ("airl", "gail", "density")
"""Algorithms for gymnasium environments; they fit reward networks."""
SAFETENSORS_MEDIA_TYPE = "application/vnd.safetensors"
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
    weights: bytes | None = None
    """A network reward's safetensors state dict (its config is in reward_spec)."""

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
    environment: TabularMDP | GymnasiumEnvSpec
    trajectories: TrajectorySet

    @property
    def mdp(self) -> TabularMDP:
        """The tabular environment (for tabular algorithms)."""
        assert isinstance(self.environment, TabularMDP)
        return self.environment


def load_inputs(session: Session, inference_id: str, settings: Settings) -> JobInputs:
    """Read the job's rollouts and environment."""
    inference = repository.get_any(session, inference_id)
    if inference is None:
        raise InvalidInputError([Problem("inference", f"{inference_id} no longer exists")])
    ro = repository.rollouts_for(session, inference)
    env_row = environments.get_row(session, inference.project_id, ro.environment_id, with_spec=True)
    model = environments.load(env_row, settings)
    return JobInputs(inference, ro, model, rollouts.load_trajectories(session, ro))


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
        deep = inputs.inference.algorithm in DEEP_ALGORITHMS
        training = None if deep else _training_reward(uow.session, inputs)
    if deep:
        return compute_deep(
            inputs, inputs.rollouts.training_reward, progress=progress, should_stop=should_stop
        )
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
    inferred = _concrete(result.reward)
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
            return _concrete(fit(trajectories, job.seed + index, None).reward)

        reports["training"] = {
            "against": reward_to_spec(training),
            "identifiability": inputs.rollouts.identifiability,
            **divergence_report(
                mdp=mdp,
                trajectories=inputs.trajectories,
                inferred=inferred,
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
        reward_spec=reward_to_spec(inferred),
        curve=result.curve,
        log=tuple(log),
        reports=reports,
    )


def _concrete(reward: ConcreteReward | NetworkReward) -> ConcreteReward:
    """A tabular algorithm's reward (never a network)."""
    assert not isinstance(reward, NetworkReward)
    return reward


def compute_deep(
    inputs: JobInputs,
    training_spec: Mapping[str, Any] | None,
    *,
    progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> InferenceOutcome:
    """Deep IRL (AIRL, GAIL, density) on a gymnasium environment; the reward is a network."""
    job, spec = inputs.inference, inputs.environment
    assert isinstance(spec, GymnasiumEnvSpec)
    params = validate_deep_params(job.params, algorithm=job.algorithm, loc="params")
    result = deep_irl(
        algorithm=cast(DeepAlgorithm, job.algorithm),
        env=spec.id,
        env_kwargs=dict(spec.kwargs),
        trajectories=inputs.trajectories,
        rng=np.random.default_rng(job.seed),
        params=params,
        progress=progress,
        should_stop=should_stop,
    )
    reward = result.reward
    assert isinstance(reward, NetworkReward)
    log = [
        f"{job.algorithm} on {inputs.trajectories.n_trajectories} trajectories in "
        f"{spec.id}: {result.n_iterations} rounds ({params.total_timesteps} timesteps)"
    ]
    reports = {}
    reference = network_reference(spec.id, training_spec, inputs.trajectories)
    if reference is not None:
        reports["training"] = {
            "against": dict(training_spec or {}),
            **network_divergence_report(
                inferred=reward,
                trajectories=inputs.trajectories,
                discount=params.discount,
                rng=np.random.default_rng(job.seed),
                **reference,
            ),
        }
    elif training_spec is not None:
        log.append(
            f"no divergence report: no known function for the training reward "
            f"{training_spec.get('kind')!r} in {spec.id}"
        )
    return InferenceOutcome(
        reward_kind="network",
        reward_spec={"kind": "network", "algorithm": job.algorithm, "config": reward.config},
        weights=reward.to_safetensors(),
        curve=result.curve,
        log=tuple(log),
        reports=reports,
    )


def network_reference(
    env_id: str, spec: Mapping[str, Any] | None, trajectories: TrajectorySet
) -> dict[str, Any] | None:
    """The reference a network reward is compared with: the environment's known reward
    function (with its dynamics, when known, for DARD), or the rewards recorded in the
    rollouts; None when neither is available."""
    if spec is None:
        return None
    if spec.get("kind") == "environment":
        known = environment_reward(env_id)
        if known is None:
            return None
        return {
            "reference": lambda obs, acts, next_obs: known(obs, acts, next_obs, None),
            "sample_next": environment_successors(env_id),
        }
    if spec.get("kind") == "observed" and trajectories.rews is not None:
        return {"recorded": trajectories.rews}
    return None


def store_outcome(session: Session, inference_id: str, outcome: InferenceOutcome) -> None:
    """Store the reward and reports of a job whose final status was just written."""
    artifact_id = None
    if outcome.weights is not None:
        artifact_id = artifacts.put(
            session,
            project_id=repository.project_of(session, inference_id),
            data=outcome.weights,
            media_type=SAFETENSORS_MEDIA_TYPE,
        ).id
    repository.add_reward(
        session,
        inference_id,
        kind=outcome.reward_kind,
        spec=outcome.reward_spec,
        artifact_id=artifact_id,
    )
    for against, body in outcome.reports.items():
        repository.add_report(session, inference_id, against, body)
