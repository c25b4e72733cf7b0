"""What a worker computes for an inference job: the IRL fit, then the divergence report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from irl.algorithms import ALGORITHMS, InferenceResult, Progress
from irl.algorithms.base import FitDiagnostics
from irl.algorithms.mce_irl import validate_params, warm_refit
from irl.callables import RewardFn
from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError
from irl.io.rewards import parse_reward_spec
from irl.report import ConcreteReward, Exact, Report, Sampled, build_report
from irl.rewards import EnvironmentReward, RewardSpec, reward_to_spec
from irl.rewards_net import NetworkReward
from irl.trajectories import TrajectorySet
from service.core import artifacts
from service.core.db import unit_of_work
from service.core.settings import Settings
from service.inferences import pooled, repository
from service.inferences.inputs import JobInputs, load_inputs
from service.inferences.reports import stored, subject

SAFETENSORS_MEDIA_TYPE = "application/vnd.safetensors"


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
    fit_diagnostics: dict[str, Any] | None = None
    """A deep fit's FitDiagnostics, kept with the inference for its later reports."""

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


def compute(
    inference_id: str,
    settings: Settings,
    *,
    progress: Callable[[Progress], None],
    should_stop: Callable[[], bool],
) -> InferenceOutcome:
    """Run the IRL algorithm, then report against the training reward (tabular rewards with a
    bootstrap of settings.bootstrap_resamples refits).

    Progress runs 0..0.5 while training and 0.5..1 over the bootstrap refits (0..1 when there is
    nothing to bootstrap); cancellation is honoured between iterations and between refits.
    """
    with unit_of_work(settings) as uow:
        inputs = load_inputs(uow.session, inference_id, settings)
    tabular = isinstance(inputs.environment, TabularMDP)
    bootstraps = tabular and inputs.rollouts.training_reward is not None
    n_refits = settings.bootstrap_resamples if bootstraps else 0
    share = 0.5 if n_refits else 1.0 / _n_seeds(inputs)
    fit = _fit(inputs, should_stop)
    result = fit(
        inputs.trajectories,
        inputs.inference.seed,
        lambda p: progress(replace(p, fraction=share * p.fraction)),
    )
    log = [_fit_line(inputs, result)]
    reports: dict[str, dict[str, Any]] = {}
    if inputs.rollouts.training_reward is not None:
        report = _training_report(settings, inputs, result, fit, n_refits, share, progress)
        if isinstance(report, str):
            log.append(f"no divergence report: {report}")
        else:
            reports["training"] = report
            if n_refits:
                log.append(f"bootstrap: {n_refits} resamples refitted{_refit_note(inputs)}")
            report.update(pooled.breakdown(settings, inputs, result.reward, report))
    return _outcome(inputs, result, tuple(log), reports)


Fit = Callable[[TrajectorySet, int, Callable[[Progress], None] | None], InferenceResult]
"""The job's algorithm as a function of (trajectories, seed, progress callback)."""


def _fit(inputs: JobInputs, should_stop: Callable[[], bool]) -> Fit:
    """The job's registered algorithm with its stored settings."""
    job = inputs.inference
    algorithm = ALGORITHMS[job.algorithm]

    def fit(
        trajectories: TrajectorySet, seed: int, on_progress: Callable[[Progress], None] | None
    ) -> InferenceResult:
        return algorithm.fit(
            environment=inputs.environment,
            trajectories=trajectories,
            reward_model=job.reward_model,
            params=job.params,
            rng=np.random.default_rng(seed),
            progress=on_progress,
            should_stop=should_stop,
        )

    return fit


def _training_report(
    settings: Settings,
    inputs: JobInputs,
    result: InferenceResult,
    fit: Fit,
    n_refits: int,
    share: float,
    progress: Callable[[Progress], None],
) -> dict[str, Any] | str:
    """The stored report against the training reward, or why there is none."""
    job = inputs.inference
    inferred = result.reward
    try:
        reference = parse_reward_spec(
            inputs.rollouts.training_reward,
            loc="training_reward",
            mdp=None if isinstance(inputs.environment, GymnasiumEnvSpec) else inputs.mdp,
        )
        with unit_of_work(settings) as uow:
            compared = subject(uow.session, inputs, inferred, reference, loc="training_reward")
    except InvalidInputError as exc:
        return str(exc)
    refits = iter(range(1, n_refits + 1))
    warm = _warm_refit(inputs, result) if n_refits else None

    def refit(trajectories: TrajectorySet) -> ConcreteReward:
        index = next(refits)
        fraction = share + (1 - share) * index / (n_refits + 1)
        progress(Progress(iteration=index, max_iter=n_refits, fraction=fraction, metrics={}))
        if warm is not None:
            return warm(trajectories)
        reward = fit(trajectories, job.seed + index, None).reward
        assert not isinstance(reward, NetworkReward)
        return reward

    report = build_report(
        compared,
        inputs.trajectories,
        rng=np.random.default_rng(job.seed),
        refit=refit if n_refits and isinstance(compared, Exact) else None,
        n_bootstrap=n_refits,
    )
    if isinstance(compared, Sampled):
        report = _deep_report(report, compared, reference, result, inputs, fit, share, progress)
    return stored(compared, reference, report, inputs)


def _deep_report(
    report: Report,
    compared: Sampled,
    reference: RewardSpec,
    result: InferenceResult,
    inputs: JobInputs,
    fit: Fit,
    share: float,
    progress: Callable[[Progress], None],
) -> Report:
    """A deep fit's report with its quality signals (irl.report.quality); where the
    environment has a tabular view and the reference is its reward, the full tabular report
    of the projected network (irl.report.projection) instead of the sampled one. With
    params.n_seeds > 1 the other seeds are trained here (progress share each) and their spread
    added (irl.report.deep.with_seeds)."""
    from irl.report.deep import projected_report, seed_spread, with_quality, with_seeds
    from irl.report.projection import tabular_view

    seed, ts, env = inputs.inference.seed, inputs.trajectories, inputs.environment
    assert isinstance(env, GymnasiumEnvSpec)
    view = tabular_view(env.id, env.kwargs)
    projected = view is not None and isinstance(reference, EnvironmentReward)

    def report_of(reward: RewardFn) -> Report:
        rng = np.random.default_rng(seed)
        if view is not None and projected:
            return projected_report(reward, view, ts, rng=rng)
        return build_report(replace(compared, inferred=reward), ts, rng=rng)

    quality = with_quality(
        report, compared, result.diagnostics, ts, rng=np.random.default_rng(seed)
    ).quality
    point = replace(report_of(compared.inferred) if projected else report, quality=quality)
    n_seeds = _n_seeds(inputs)
    if n_seeds == 1:
        return point
    rewards, reports = [compared.inferred], [point]
    for k in range(1, n_seeds):

        def on_progress(p: Progress, k: int = k) -> None:
            progress(replace(p, fraction=share * (k + p.fraction)))

        reward = fit(ts, seed + k, on_progress).reward
        assert isinstance(reward, NetworkReward)
        rewards.append(reward)
        reports.append(report_of(reward))
    spread = seed_spread(
        reports,
        rewards,
        ts,
        discount=compared.discount,
        sample_next=compared.sample_next,
        rng=np.random.default_rng(seed),
    )
    return with_seeds(point, spread)


def _n_seeds(inputs: JobInputs) -> int:
    """Independent fits a deep job trains (params.n_seeds); 1 for tabular algorithms."""
    if not isinstance(inputs.environment, GymnasiumEnvSpec):
        return 1
    return inputs.deep_params().n_seeds


def _warm_refit(
    inputs: JobInputs, result: InferenceResult
) -> Callable[[TrajectorySet], ConcreteReward] | None:
    """MCE IRL's bootstrap refit started from the full-data fit (irl.algorithms.mce_irl
    .warm_refit: from the full-data fit, stopped as the job's params.bootstrap_refit says), or
    None for others."""
    job = inputs.inference
    if job.algorithm != "mce_irl" or job.reward_model not in ("linear", "tabular"):
        return None
    assert not isinstance(result.reward, NetworkReward)
    return warm_refit(
        inputs.mdp, reward_model=job.reward_model, params=job.params, fitted=result.reward
    )


def _refit_note(inputs: JobInputs) -> str:
    """How the bootstrap refitted (for the job's log): MCE IRL's warm refits say where they
    stopped (params.bootstrap_refit, docs/metrics.md "Bootstrap refits")."""
    job = inputs.inference
    if job.algorithm != "mce_irl" or job.reward_model not in ("linear", "tabular"):
        return ""
    if job.reward_model == "tabular":
        return " (warm L-BFGS from the full-data fit, to its stopping rule)"
    refit = validate_params(job.params, loc="params").bootstrap_refit
    return f" ({refit} refits from the full-data fit)"


def _fit_line(inputs: JobInputs, result: InferenceResult) -> str:
    """The job log's line about the fit."""
    job, n = inputs.inference, inputs.trajectories.n_trajectories
    if isinstance(inputs.environment, GymnasiumEnvSpec):
        return (
            f"{job.algorithm} on {n} trajectories in {inputs.environment.id}: "
            f"{result.n_iterations} rounds ({inputs.deep_params().total_timesteps} timesteps)"
        )
    return (
        f"{job.algorithm} ({job.reward_model}) on {n} trajectories: {result.n_iterations} "
        f"iterations, {'converged' if result.converged else 'stopped at max_iter'}"
    )


def _outcome(
    inputs: JobInputs,
    result: InferenceResult,
    log: tuple[str, ...],
    reports: dict[str, dict[str, Any]],
) -> InferenceOutcome:
    """What the job stores: the reward as a spec (and a network's weights), curve, log, reports."""
    reward = result.reward
    if isinstance(reward, NetworkReward):
        return InferenceOutcome(
            reward_kind="network",
            reward_spec={
                "kind": "network",
                "algorithm": inputs.inference.algorithm,
                "config": reward.config,
            },
            weights=reward.to_safetensors(),
            curve=result.curve,
            log=log,
            reports=reports,
            fit_diagnostics=None if result.diagnostics is None else _plain(result.diagnostics),
        )
    return InferenceOutcome(
        reward_kind=inputs.inference.reward_model,
        reward_spec=reward_to_spec(reward),
        curve=result.curve,
        log=log,
        reports=reports,
    )


def _plain(diagnostics: FitDiagnostics) -> dict[str, Any]:
    """FitDiagnostics as JSON numbers (its values may be numpy scalars)."""
    return {
        name: None
        if value is None
        else int(value)
        if isinstance(value, int | np.integer)
        else float(value)
        for name, value in asdict(diagnostics).items()
    }


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
