"""Validating and storing rollout sets (in one or more chunks); loading them for workers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, BinaryIO

import numpy as np
from sqlalchemy.orm import Session

from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.identifiability import identifiability
from irl.io.trajectories import (
    check_tabular,
    environment_indices,
    from_npz_bytes,
    parse_trajectories,
    pooled_from_npz_bytes,
    to_npz_bytes,
)
from irl.rewards import LinearReward, TabularReward, reward_to_spec
from irl.rewards_sparse import TransitionSupport, sparse_reward
from irl.trajectories import TrajectorySet, concatenate
from service.core import artifacts
from service.core.errors import ConflictError, NotFoundError
from service.core.models import Environment, RolloutSet
from service.core.settings import Settings
from service.environments import service as environments
from service.environments.service import EnvModel
from service.rewards import service as rewards
from service.rollouts import pooled, repository
from service.rollouts.schemas import RolloutsCreate, RolloutsMetadata, RolloutsPublic
from service.rollouts.summary import RolloutSummary, mce_irl_problems, summarise_chunks

NPZ_MEDIA_TYPE = "application/x-npz"


def _per_trajectory(
    ts: TrajectorySet, mdp: TabularMDP | None, training: TabularReward | LinearReward | None
) -> dict[str, np.ndarray]:
    """Per-trajectory numbers of one chunk (small: one value per trajectory)."""
    discount = mdp.discount if mdp is not None else 1.0
    parts = {"lengths": ts.lengths, "terminal": ts.terminal}
    if ts.rews is not None:
        parts["observed_return"] = ts.discounted_returns(ts.rews, discount)
    if mdp is not None and training is not None:
        support = TransitionSupport.of(mdp)
        rewards = sparse_reward(training, mdp, support).at(support, *ts.transitions())
        parts["training_return"] = ts.discounted_returns(rewards, discount)
    return parts


def summarise(
    chunks: Iterator[TrajectorySet],
    mdp: TabularMDP | None,
    training: TabularReward | LinearReward | None,
    *,
    fit: list[Problem] | None,
) -> dict[str, Any]:
    """Counts, statistics, identifiability and the stored summary (with the MCE IRL fit
    problems `fit` of the whole set), reading one chunk at a time."""
    parts: list[dict[str, np.ndarray]] = []

    def each() -> Iterator[TrajectorySet]:
        for ts in chunks:
            parts.append(_per_trajectory(ts, mdp, training))
            yield ts

    summary, visits = summarise_chunks(each(), mdp)
    merged = {
        key: np.concatenate([p[key] for p in parts])
        for key in parts[0]
        if all(key in p for p in parts)
    }
    lengths = merged["lengths"]
    stats: dict[str, Any] = {
        "mean_length": float(lengths.mean()),
        "min_length": int(lengths.min()),
        "max_length": int(lengths.max()),
        "terminal_fraction": float(merged["terminal"].mean()),
    }
    for key in ("observed_return", "training_return"):
        if key in merged:
            stats[key] = {"mean": float(merged[key].mean()), "std": float(merged[key].std())}
    report = None
    if mdp is not None and visits is not None:
        report = identifiability(mdp.features, mdp.feature_names, visits).to_dict()
    return {
        "n_trajectories": int(lengths.size),
        "n_transitions": int(lengths.sum()),
        "statistics": stats,
        "identifiability": report,
        "summary": replace(summary, mce_irl_problems=fit).to_json(),
    }


def create(
    session: Session, project_id: str, body: RolloutsCreate, settings: Settings
) -> RolloutSet:
    """Validate a JSON upload whole, then store it (nothing is stored on any error)."""
    _check_environment_fields(body)
    ts = parse_trajectories(body.trajectories, max_transitions=settings.max_transitions)
    n_environments = None if body.environments is None else len(body.environments)
    environment = environment_indices(body.trajectories, n_environments=n_environments)
    return _store(
        session, project_id, body, ts, settings, loc="trajectories", environment=environment
    )


def create_bulk(
    session: Session,
    project_id: str,
    metadata: RolloutsMetadata,
    data: BinaryIO,
    settings: Settings,
) -> RolloutSet:
    """Validate a binary (pickle-free .npz) upload, then store the archive as sent."""
    _check_environment_fields(metadata)
    if metadata.environments is not None:
        data.seek(0)
        ts, environment = pooled_from_npz_bytes(
            data,
            n_environments=len(metadata.environments),
            max_transitions=settings.max_transitions,
        )
        return _store(
            session, project_id, metadata, ts, settings, loc="file", environment=environment
        )
    # The archive is parsed in the call itself so `_store` holds the only reference to the arrays
    # and can drop them before the blob is written (peak memory: bytes + arrays, not more).
    return _store(
        session,
        project_id,
        metadata,
        _parse_archive(data, settings),
        settings,
        loc="file",
        archive=data,
    )


def _check_environment_fields(metadata: RolloutsMetadata) -> None:
    """Refuse a set with both or neither of `environment` and `environments`."""
    if (metadata.environment is None) == (metadata.environments is None):
        raise InvalidInputError.at(
            "environments" if metadata.environments is not None else "environment",
            "give exactly one of `environment` (one environment) and `environments` (a pooled set)",
        )


def _parse_archive(data: BinaryIO, settings: Settings) -> TrajectorySet:
    data.seek(0)
    return from_npz_bytes(data, loc="file", max_transitions=settings.max_transitions)


def _check(ts: TrajectorySet, mdp: TabularMDP | None, loc: str) -> None:
    if mdp is not None:
        check_tabular(ts, mdp, loc=loc)


def _training(
    session: Session,
    project_id: str,
    spec: dict[str, Any] | None,
    mdp: TabularMDP | None,
    ts: TrajectorySet | None,
) -> TabularReward | LinearReward | None:
    """The concrete training reward of a rollout set, where it can be evaluated."""
    if spec is None or mdp is None or (spec.get("kind") == "observed" and ts is None):
        return None
    parsed = rewards.parse(spec, loc="training_reward", mdp=mdp)
    return rewards.concrete(
        session, project_id, parsed, mdp=mdp, trajectories=ts, loc="training_reward"
    )


def _environment(
    session: Session,
    project_id: str,
    metadata: RolloutsMetadata,
    ts: TrajectorySet,
    environment: np.ndarray | None,
    settings: Settings,
    *,
    loc: str,
) -> tuple[Environment, EnvModel, TrajectorySet, list[dict[str, Any]] | None]:
    """The set's environment (row, model), its trajectories in that environment's states, and
    a pooled set's members (None for one environment)."""
    if metadata.environments is None:
        assert metadata.environment is not None
        row, model = environments.resolve(session, project_id, metadata.environment, settings)
        return row, model, ts, None
    assert environment is not None
    upload = pooled.resolve(
        session, project_id, metadata.environments, ts, environment, settings, loc=loc
    )
    return upload.row, upload.mdp, upload.trajectories, upload.members


def _store(
    session: Session,
    project_id: str,
    metadata: RolloutsMetadata,
    ts: TrajectorySet,
    settings: Settings,
    *,
    loc: str,
    archive: BinaryIO | None = None,
    environment: np.ndarray | None = None,
) -> RolloutSet:
    """Check the trajectories against the environment and training reward, then store all.

    A pooled set (`environment`: each trajectory's index into `metadata.environments`) is
    stored in its pooled environment, its states offset there (the archive is rewritten)."""
    env_row, model, ts, members = _environment(
        session, project_id, metadata, ts, environment, settings, loc=loc
    )
    if members is not None:
        archive = None  # the states were offset: store the pooled arrays
    mdp = model if isinstance(model, TabularMDP) else None
    _check(ts, mdp, loc)
    training_spec = None
    if metadata.training_reward is not None:
        training_spec = reward_to_spec(
            rewards.parse(metadata.training_reward, loc="training_reward", mdp=mdp)
        )
    training = _training(session, project_id, training_spec, mdp, ts)
    summary = summarise(iter([ts]), mdp, training, fit=mce_irl_problems(ts, mdp))
    if members is not None:
        summary["statistics"][pooled.STATISTICS_KEY] = members
    source: BinaryIO = io.BytesIO(to_npz_bytes(ts)) if archive is None else archive
    del ts  # storing the archive needs no arrays: free them first
    row = repository.add(
        session,
        tags=metadata.tags,
        project_id=project_id,
        environment_id=env_row.id,
        name=metadata.name,
        split=metadata.split,
        training_reward=training_spec,
        **summary,
    )
    _add_chunk(
        session, project_id, row, source, summary["n_trajectories"], summary["n_transitions"]
    )
    return row


def _add_chunk(
    session: Session,
    project_id: str,
    row: RolloutSet,
    source: BinaryIO,
    n_trajectories: int,
    n_transitions: int,
) -> None:
    """Store the chunk's archive and number it atomically (409 once the set is sealed)."""
    artifact_id = artifacts.put_file(
        session, project_id=project_id, media_type=NPZ_MEDIA_TYPE, source=source
    )
    position = repository.claim_chunk_position(session, row.id)
    if position is None:
        raise _sealed(row.id)
    repository.add_chunk(
        session,
        row.id,
        position=position,
        artifact_id=artifact_id,
        n_trajectories=n_trajectories,
        n_transitions=n_transitions,
    )


def _sealed(rollouts_id: str) -> ConflictError:
    return ConflictError(
        f"rollout set {rollouts_id!r} is sealed: an inference was submitted on it; "
        "upload a new rollout set instead"
    )


def append_chunk(
    session: Session, project_id: str, rollouts_id: str, data: BinaryIO, settings: Settings
) -> RolloutSet:
    """Add more trajectories (an .npz chunk) to a rollout set not yet sealed by an inference.

    Concurrent appends to one set are serialised by the set's row lock (taken when the chunk
    is numbered) and stored in that order; the counts and summary are recomputed after it."""
    row = get_row(session, project_id, rollouts_id)
    if row.sealed_at is not None:
        raise _sealed(rollouts_id)
    if pooled.members_of(row) is not None:
        raise ConflictError(
            f"rollout set {rollouts_id!r} is pooled: its environments are weighted by their "
            "trajectory counts, so it is uploaded whole; upload a new rollout set instead"
        )
    ts = _parse_archive(data, settings)
    mdp = _mdp(session, project_id, row, settings)
    _check(ts, mdp, "file")
    n_trajectories, n_transitions = ts.n_trajectories, ts.n_transitions
    del ts
    _add_chunk(session, project_id, row, data, n_trajectories, n_transitions)
    session.refresh(row)  # appends committed while this one waited for the lock
    if row.n_transitions + n_transitions > settings.max_transitions:
        raise ConflictError(
            f"rollout set {rollouts_id!r} would exceed "
            f"{settings.max_transitions} transitions (MESASCOPE_MAX_TRANSITIONS)"
        )
    training = _training(session, project_id, row.training_reward, mdp, None)
    # The fit check needs the whole set at once (tabular sets only: small integer arrays).
    whole = load_trajectories(session, row) if mdp is not None else None
    chunks = iter([whole]) if whole is not None else _chunks(session, row)
    fit = mce_irl_problems(whole, mdp) if whole is not None else None
    for field, value in summarise(chunks, mdp, training, fit=fit).items():
        setattr(row, field, value)
    session.flush()
    return row


def _mdp(
    session: Session, project_id: str, row: RolloutSet, settings: Settings
) -> TabularMDP | None:
    """The rollout set's environment when it is tabular."""
    model = environments.load(
        environments.get_row(session, project_id, row.environment_id, with_spec=True), settings
    )
    return model if isinstance(model, TabularMDP) else None


def summary_of(
    session: Session, project_id: str, row: RolloutSet, settings: Settings
) -> RolloutSummary:
    """The stored summary of the set's arrays; rows stored before summaries existed get theirs
    computed (decoding the chunks) and stored on first need, once."""
    if row.summary is not None:
        return RolloutSummary.from_json(row.summary)
    mdp = _mdp(session, project_id, row, settings)
    ts = load_trajectories(session, row)
    summary, _ = summarise_chunks([ts], mdp)
    summary = replace(summary, mce_irl_problems=mce_irl_problems(ts, mdp))
    repository.set_summary(session, row, summary.to_json())
    return summary


def _chunks(session: Session, row: RolloutSet) -> Iterator[TrajectorySet]:
    """The rollout set's chunks, loaded one at a time."""
    for artifact_id in repository.chunk_artifacts(session, row.id):
        yield from_npz_bytes(artifacts.get_bytes(session, artifact_id))


def get_row(session: Session, project_id: str, rollouts_id: str) -> RolloutSet:
    """The project's rollout set, or 404."""
    row = repository.get(session, project_id, rollouts_id)
    if row is None:
        raise NotFoundError(f"rollout set {rollouts_id!r} not found")
    return row


def load_trajectories(session: Session, row: RolloutSet) -> TrajectorySet:
    """All of the rollout set's arrays (pickle-free npz chunks, concatenated)."""
    return concatenate(list(_chunks(session, row)))


def delete(session: Session, project_id: str, rollouts_id: str) -> None:
    """Delete a rollout set unless inferences still use it (409)."""
    row = get_row(session, project_id, rollouts_id)
    used = repository.count_inferences(session, row.id)
    if used:
        raise ConflictError(
            f"rollout set {rollouts_id!r} is used by {used} inference(s); delete them first"
        )
    artifact_ids = repository.chunk_artifacts(session, row.id)
    repository.remove(session, row)
    for artifact_id in artifact_ids:
        artifacts.remove(session, artifact_id)


def to_public(row: RolloutSet) -> RolloutsPublic:
    """The API view of a rollout set row."""
    return RolloutsPublic(
        id=row.id,
        name=row.name,
        environment_id=row.environment_id,
        split=row.split,
        tags=dict(row.tags),
        training_reward=row.training_reward,
        n_trajectories=row.n_trajectories,
        n_transitions=row.n_transitions,
        statistics=row.statistics,
        identifiability=row.identifiability,
        created_at=row.created_at,
    )
