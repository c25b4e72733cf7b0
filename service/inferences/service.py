"""Inference jobs: checks at submit time, cancellation, divergence reports and API views."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms import ALGORITHMS
from irl.algorithms.base import FitDiagnostics
from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.report import Report, Sampled, build_report
from irl.trajectories import TrajectorySet
from service.core import artifacts, generations
from service.core.db import PoolConfig, UnitOfWork, engine_for, unit_of_work
from service.core.errors import ConflictError, NotFoundError, UnprocessableError, invalid_input
from service.core.metrics import JOBS_SUBMITTED
from service.core.models import Inference
from service.core.pagination import page_of
from service.core.settings import Settings
from service.environments import service as environments
from service.inferences import budget, reports, repository
from service.inferences.inputs import load_inputs
from service.inferences.schemas import (
    DivergencePublic,
    GoalsRequest,
    InferenceCreate,
    InferenceDetail,
    InferenceList,
    InferencePublic,
    RewardPublic,
)
from service.rewards import repository as rewards_repository
from service.rewards import service as rewards
from service.rollouts import service as rollouts


def _fail(loc: str, msg: str) -> UnprocessableError:
    return invalid_input(InvalidInputError([Problem(loc, msg)]))


def create(
    session: Session, project_id: str, body: InferenceCreate, settings: Settings
) -> Inference:
    """Check the job can run (algorithm fits environment and data), then queue it.

    Problems are raised as UnprocessableError, a DomainError, which dashboard pages catch too.
    """
    ro = rollouts.repository.get(session, project_id, body.rollouts_id)
    if ro is None:
        raise _fail("rollouts_id", f"unknown rollout set {body.rollouts_id!r}")
    env_row = environments.get_row(session, project_id, ro.environment_id)
    algorithm = ALGORITHMS[body.algorithm]
    if env_row.kind != algorithm.environment_kind:
        raise _fail(
            "algorithm",
            f"{algorithm.name} needs a {algorithm.environment_kind} environment; "
            f"{env_row.name!r} is {env_row.kind}",
        )
    reward_model = body.reward_model or algorithm.reward_models[0]
    if reward_model not in algorithm.reward_models:
        raise _fail(
            "reward_model",
            f"{algorithm.name} fits {' or '.join(f'`{m}`' for m in algorithm.reward_models)} "
            "rewards",
        )
    # Sealing first waits for appends in flight, so the checks below and the job see exactly
    # the chunks the set holds from now on (later appends get 409).
    rollouts.repository.seal(session, ro)
    try:
        params = algorithm.validate_params(body.params, loc="params")
        if algorithm.environment_kind == "tabular":
            problems = rollouts.summary_of(session, project_id, ro, settings).mce_irl_problems
            if problems:
                raise InvalidInputError(problems)
            budget.check_memory(session, env_row, ro, settings)
    except InvalidInputError as exc:
        raise invalid_input(exc) from exc
    return repository.add(
        session,
        project_id=project_id,
        rollouts_id=ro.id,
        environment_id=env_row.id,
        algorithm=algorithm.name,
        reward_model=reward_model,
        params=params,
        seed=body.seed,
    )


def submit(
    uow: UnitOfWork,
    project_id: str,
    body: InferenceCreate,
    settings: Settings,
    enqueue: Callable[[str], None],
) -> Inference:
    """Create an inference (`create`) and enqueue its job once the transaction has committed."""
    row = create(uow.session, project_id, body, settings)
    uow.after_commit.append(lambda: enqueue(row.id))
    JOBS_SUBMITTED.labels(algorithm=body.algorithm).inc()
    return row


def list_json(
    settings: Settings,
    pages: generations.RenderedPages,
    project_id: str,
    *,
    filters: dict[str, Any],
    tag: tuple[str, str] | None,
    cursor: str | None,
    limit: int,
) -> generations.Rendered:
    """A page of the project's inferences as the JSON `GET /v1/inferences` sends, rendered once
    per generation: served from `pages` while no transaction has changed any inference since."""
    key = (project_id, tuple(filters.items()), tag, cursor, limit)
    with engine_for(settings.database_url, PoolConfig.of(settings)).connect() as connection:
        generation = generations.current(connection)  # before the rows (see generations)
    if (cached := pages.get(key, generation)) is not None:
        return cached
    with unit_of_work(settings) as uow:
        rows = repository.list_page(
            uow.session, project_id, filters=filters, tag=tag, cursor=cursor, limit=limit
        )
        rewards = repository.rewards_for(uow.session, [r.id for r in rows[:limit]])
        page = InferenceList(**page_of(rows, limit, lambda r: to_public(r, rewards.get(r.id))))
    return pages.put(key, generation, page.model_dump_json(by_alias=True).encode())


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
    """Delete an inference, its results and its reward's weights artifact (a running worker
    then discards its work)."""
    row = get_row(session, project_id, inference_id)
    artifact_id = rewards_repository.reward_artifact(session, row.id)
    repository.remove(session, row)
    if artifact_id is not None:
        artifacts.remove(session, artifact_id)


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


def training_report(session: Session, inference_id: str) -> DivergencePublic | None:
    """The stored report against the training reward, typed (None before there is one)."""
    stored = repository.report(session, inference_id, "training")
    if stored is None:
        return None
    return DivergencePublic.model_validate({"inference_id": inference_id, **stored.report})


def custom_divergence(
    session: Session,
    project_id: str,
    row: Inference,
    spec: Any,
    settings: Settings,
    *,
    loc: str,
    goals: Mapping[str, Any] | None = None,
    feature_goals: bool = True,
) -> dict[str, Any]:
    """A report of the inference's reward against any reward spec, with the named goals."""
    _succeeded(session, project_id, row.id)
    inputs = load_inputs(session, row.id, settings)
    tabular = isinstance(inputs.environment, TabularMDP)
    reference = rewards.parse(spec, loc=loc, mdp=inputs.mdp if tabular else None)
    if goals and not tabular:
        raise InvalidInputError.at("goals", "named goals are tested in tabular environments only")
    compared = reports.subject(
        session,
        inputs,
        reports.inferred_reward(session, inputs),
        reference,
        loc=loc,
        goals=goals,
        feature_goals=feature_goals,
    )
    report = build_report(compared, inputs.trajectories, rng=np.random.default_rng(row.seed))
    if isinstance(compared, Sampled):
        report = _with_quality(report, compared, row, inputs.trajectories)
    return {"inference_id": row.id, **reports.stored(compared, reference, report, inputs)}


def _with_quality(
    report: Report, compared: Sampled, row: Inference, trajectories: TrajectorySet
) -> Report:
    """A deep fit's report with its quality: the fit's own measurements, stored with the
    inference, and the EPIC's noise and warnings against this report's reference. (The seeds'
    spread, `quality.seeds`, is in the training report only: the other seeds' rewards are not
    kept.)"""
    from irl.report.deep import with_quality

    stored = row.fit_diagnostics
    known = FitDiagnostics.__dataclass_fields__
    diagnostics = (
        None
        if stored is None
        else FitDiagnostics(**{name: value for name, value in stored.items() if name in known})
    )
    rng = np.random.default_rng(row.seed)
    return with_quality(report, compared, diagnostics, trajectories, rng=rng)


def goals(
    session: Session,
    project_id: str,
    inference_id: str,
    body: GoalsRequest,
    settings: Settings,
) -> dict[str, Any]:
    """Named-goal hypotheses of a finished tabular inference's rollouts, computed now."""
    row = _succeeded(session, project_id, inference_id)
    if body.against is None:
        ro = repository.rollouts_for(session, row)
        if ro.training_reward is None:
            raise InvalidInputError.at(
                "against", "no training reward is known for this inference's rollouts; give one"
            )
        spec, loc = ro.training_reward, "training_reward"
    else:
        spec, loc = body.against, "against"
    inputs = load_inputs(session, row.id, settings)
    if not isinstance(inputs.environment, TabularMDP):
        raise InvalidInputError.at(
            "inference", "named goals are tested in tabular environments only"
        )
    reference = rewards.parse(spec, loc=loc, mdp=inputs.mdp)
    result = reports.hypotheses(
        session, inputs, reference, body.goals, feature_goals=body.feature_goals, loc=loc
    )
    return {"inference_id": row.id, "against": dict(spec), **result.to_dict()}


def reward_spec(session: Session, project_id: str, inference_id: str) -> dict[str, Any]:
    """The inferred reward's spec; a network's spec also names where its weights are."""
    row = get_row(session, project_id, inference_id)
    spec = repository.rewards_for(session, [row.id]).get(row.id)
    if spec is None:
        raise ConflictError(f"inference {inference_id!r} is {row.status}; no reward yet")
    if spec["kind"] == "network":
        return {**spec, "weights_url": f"/v1/inferences/{row.id}/reward/weights"}
    return spec


def reward_weights(session: Session, project_id: str, inference_id: str) -> bytes:
    """A network reward's safetensors bytes (409 for rewards that are not networks)."""
    row = get_row(session, project_id, inference_id)
    artifact_id = rewards_repository.reward_artifact(session, row.id)
    if artifact_id is None:
        raise ConflictError(
            f"inference {inference_id!r} has no network weights "
            f"(status {row.status}, reward model {row.reward_model})"
        )
    return artifacts.get_bytes(session, artifact_id)


def reward_public(spec: Mapping[str, Any] | None) -> RewardPublic | None:
    """The API view of an inferred reward spec."""
    if spec is None:
        return None
    if spec["kind"] == "linear":
        return RewardPublic(
            kind="linear", feature_weights=dict(spec["weights"]), bias=spec.get("bias", 0.0)
        )
    if spec["kind"] == "network":
        return RewardPublic(kind="network", config=spec.get("config"))
    return RewardPublic(kind=spec["kind"], values=spec.get("values"))


def to_public(row: Inference, reward_spec: Mapping[str, Any] | None = None) -> InferencePublic:
    """The API view of an inference row (list view)."""
    return InferencePublic(**_public_fields(row, reward_spec))


def to_detail(
    row: Inference, reward_spec: Mapping[str, Any] | None = None, *, curve: bool = False
) -> InferenceDetail:
    """The API view of one inference, with its log and, if asked for, its training curve."""
    return InferenceDetail(
        **_public_fields(row, reward_spec), curve=row.curve if curve else None, log=row.log
    )


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
