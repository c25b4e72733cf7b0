"""Inference jobs: validation at submit time, the computation a worker runs, and reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms import (
    InferenceResult,
    Progress,
    RewardModel,
    check_mce_irl_fit,
    mce_irl,
    validate_params,
)
from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.report import divergence_report
from irl.rewards import RewardSpec, parse_reward_spec, reward_to_spec
from irl.trajectories import TrajectorySet
from service.core.db import unit_of_work
from service.core.errors import ConflictError, NotFoundError, UnprocessableError, invalid_input
from service.core.models import Inference, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences import repository
from service.inferences.schemas import (
    InferenceCreate,
    InferenceDetail,
    InferencePublic,
    RewardPublic,
)
from service.rewards import service as rewards
from service.rewards.service import ConcreteReward
from service.rollouts import service as rollouts

AGAINST_KINDS = ("training", "observed", "environment")
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


def _fail(loc: str, msg: str) -> UnprocessableError:
    return invalid_input(InvalidInputError([Problem(loc, msg)]))


def create(
    session: Session, project_id: str, body: InferenceCreate, settings: Settings
) -> Inference:
    """Check the job can run (algorithm fits environment and data), then queue it."""
    ro = rollouts.repository.get(session, project_id, body.rollouts_id)
    if ro is None:
        raise _fail("rollouts_id", f"unknown rollout set {body.rollouts_id!r}")
    env_row = environments.get_row(session, project_id, ro.environment_id, with_spec=True)
    if env_row.kind != "tabular":
        raise _fail(
            "algorithm",
            f"{body.algorithm} needs a tabular environment; {env_row.name!r} is {env_row.kind}",
        )
    try:
        params = validate_params(body.params, loc="params")
        mdp = environments.load(env_row, settings)
        assert isinstance(mdp, TabularMDP)
        check_mce_irl_fit(mdp, rollouts.load_trajectories(session, ro), loc="rollouts_id")
    except InvalidInputError as exc:
        raise invalid_input(exc) from exc
    return repository.add(
        session,
        project_id=project_id,
        rollouts_id=ro.id,
        environment_id=env_row.id,
        algorithm=body.algorithm,
        reward_model=body.reward_model,
        params=asdict(params),
        seed=body.seed,
    )


def get_row(session: Session, project_id: str, inference_id: str) -> Inference:
    """The project's inference, or 404."""
    row = repository.get(session, project_id, inference_id)
    if row is None:
        raise NotFoundError(f"inference {inference_id!r} not found")
    return row


def cancel(session: Session, project_id: str, inference_id: str) -> Inference:
    """Cancel a queued job now, or ask its worker to stop; 409 once it has finished."""
    row = get_row(session, project_id, inference_id)
    if not (
        repository.cancel_queued(session, row.id) or repository.request_cancel(session, row.id)
    ):
        raise ConflictError(f"inference {inference_id!r} has already {row.status}")
    session.refresh(row)
    return row


def delete(session: Session, project_id: str, inference_id: str) -> None:
    """Delete an inference and its results (a running worker then discards its work)."""
    repository.remove(session, get_row(session, project_id, inference_id))


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


def _succeeded(session: Session, project_id: str, inference_id: str) -> Inference:
    row = get_row(session, project_id, inference_id)
    if row.status != "succeeded":
        raise ConflictError(
            f"inference {inference_id!r} is {row.status}; a divergence needs a succeeded inference"
        )
    return row


def divergence(
    session: Session, project_id: str, inference_id: str, against: str, settings: Settings
) -> dict[str, Any]:
    """The stored report against `training`, `observed` or `environment` (computed once)."""
    row = _succeeded(session, project_id, inference_id)
    stored = repository.report(session, row.id, against)
    if stored is not None:
        return {"inference_id": row.id, **stored.report}
    ro = repository.rollouts_for(session, row)
    if against == "training" and ro.training_reward is None:
        raise UnprocessableError(
            "no training reward is known for this inference's rollouts",
            errors=[
                Problem(
                    "against",
                    "give `training_reward` with the rollouts, or POST a "
                    "reward spec to this endpoint",
                )
            ],
        )
    spec = ro.training_reward if against == "training" else {"kind": against}
    body = custom_divergence(session, project_id, row, spec, settings, loc="against")
    repository.add_report(
        session, row.id, against, {k: v for k, v in body.items() if k != "inference_id"}
    )
    return body


def custom_divergence(
    session: Session, project_id: str, row: Inference, spec: Any, settings: Settings, *, loc: str
) -> dict[str, Any]:
    """A report of the inference's reward against any reward spec."""
    _succeeded(session, project_id, row.id)
    inputs = load_inputs(session, row.id, settings)
    if not reportable(inputs.mdp):
        raise UnprocessableError(f"{inputs.mdp.n_states} states are too many for exact distances")
    parsed: RewardSpec = rewards.parse(spec, loc=loc, mdp=inputs.mdp)
    reference = rewards.concrete(
        session, project_id, parsed, mdp=inputs.mdp, trajectories=inputs.trajectories, loc=loc
    )
    inferred = rewards.concrete(
        session,
        project_id,
        rewards.parse(
            repository.rewards_for(session, [row.id])[row.id], loc="reward", mdp=inputs.mdp
        ),
        mdp=inputs.mdp,
        trajectories=None,
        loc="reward",
    )
    report = divergence_report(
        mdp=inputs.mdp,
        trajectories=inputs.trajectories,
        inferred=inferred,
        reference=reference,
        n_parameters=n_parameters(row.reward_model, inputs.mdp),
    )
    return {
        "inference_id": row.id,
        "against": reward_to_spec(reference),
        "identifiability": inputs.rollouts.identifiability,
        **report,
    }


def reward_public(spec: Mapping[str, Any] | None) -> RewardPublic | None:
    """The API view of an inferred reward spec."""
    if spec is None:
        return None
    if spec["kind"] == "linear":
        return RewardPublic(
            kind="linear", feature_weights=dict(spec["weights"]), bias=spec.get("bias", 0.0)
        )
    return RewardPublic(kind=spec["kind"], values=spec.get("values"))


def to_public(row: Inference, reward_spec: Mapping[str, Any] | None = None) -> InferencePublic:
    """The API view of an inference row (list view)."""
    return InferencePublic(**_public_fields(row, reward_spec))


def to_detail(row: Inference, reward_spec: Mapping[str, Any] | None = None) -> InferenceDetail:
    """The API view of one inference, with its curve and log."""
    return InferenceDetail(**_public_fields(row, reward_spec), curve=row.curve, log=row.log)


def _public_fields(row: Inference, reward_spec: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(
        id=row.id,
        rollouts_id=row.rollouts_id,
        environment_id=row.environment_id,
        algorithm=row.algorithm,
        reward_model=row.reward_model,
        params=dict(row.params),
        seed=row.seed,
        status=row.status,
        progress=row.progress,
        error=row.error,
        attempts=row.attempts,
        cancel_requested=row.cancel_requested,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        reward=reward_public(reward_spec),
        verdict=row.verdict,
        epic=row.epic,
    )
