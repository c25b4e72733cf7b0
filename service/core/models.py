"""SQLAlchemy ORM models: every table of mesascope. All SQL lives in the repositories."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random, URL-safe identifier with a type prefix (`inf_...`)."""
    return f"{prefix}_{secrets.token_hex(12)}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Project(Base):
    """A tenant: every other row belongs to exactly one project."""

    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key; only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class DashboardSession(Base):
    """A dashboard login; the cookie names it, and deleting the row ends the session."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Artifact(Base):
    """A binary blob (npz trajectory arrays, safetensors weights) readable by every worker."""

    __tablename__ = "artifacts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Environment(Base):
    """An environment spec (tabular MDP or gymnasium id), stored as canonical JSON."""

    __tablename__ = "environments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    spec: Mapped[dict[str, Any]] = deferred(mapped_column(JSON, nullable=False))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "project_id", "created_at"),)


class RolloutSet(Base):
    """A set of uploaded trajectories; arrays live in an artifact as a pickle-free npz."""

    __tablename__ = "rollout_sets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    split: Mapped[str | None] = mapped_column(String(50))
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    training_reward: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    n_trajectories: Mapped[int] = mapped_column(Integer)
    n_transitions: Mapped[int] = mapped_column(Integer)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    identifiability: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))
    """What pages and checks need of the arrays (`RolloutSummary`); None on rows stored before
    summaries existed until first needed."""
    n_chunks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many chunks the set holds; appends number theirs by incrementing it (row-locked)."""
    sealed_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the first inference was submitted: from then on no chunk can be appended."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "project_id", "created_at", "id"),)


class RolloutChunk(Base):
    """One stored piece of a rollout set's arrays; large uploads arrive in several chunks."""

    __tablename__ = "rollout_chunks"
    rollouts_id: Mapped[str] = mapped_column(
        ForeignKey("rollout_sets.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"))
    n_trajectories: Mapped[int] = mapped_column(Integer)
    n_transitions: Mapped[int] = mapped_column(Integer)


class RolloutTag(Base):
    """One `key=value` tag of a rollout set, in its own table so filters use an index."""

    __tablename__ = "rollout_tags"
    rollouts_id: Mapped[str] = mapped_column(
        ForeignKey("rollout_sets.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))

    __table_args__ = (Index(None, "key", "value"),)


class Inference(Base):
    """An IRL job and its lifecycle; the row, not the queue, is the source of truth."""

    __tablename__ = "inferences"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    rollouts_id: Mapped[str] = mapped_column(ForeignKey("rollout_sets.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(30))
    reward_model: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    enqueued_at: Mapped[datetime | None] = mapped_column()
    verdict: Mapped[str | None] = mapped_column(String(40))
    epic: Mapped[float | None] = mapped_column(Float)
    curve: Mapped[list[dict[str, float]] | None] = deferred(mapped_column(JSON))
    log: Mapped[list[str] | None] = deferred(mapped_column(JSON))
    fit_diagnostics: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON))
    """A deep fit's own measurements (irl.algorithms.base.FitDiagnostics): every report of it
    carries them as its quality signals, whatever the reference."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index(None, "project_id", "created_at", "id"),
        Index(None, "project_id", "status", "created_at", "id"),
        Index(None, "project_id", "verdict", "created_at", "id"),
        Index(None, "project_id", "epic", "id"),
        Index(None, "status", "lease_expires_at"),
    )


class InferredReward(Base):
    """The reward a finished inference recovered, as a reward spec (plus weights artifact)."""

    __tablename__ = "inferred_rewards"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    inference_id: Mapped[str] = mapped_column(
        ForeignKey("inferences.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DivergenceReport(Base):
    """A comparison of an inferred reward with a reference reward (training, environment, ...)."""

    __tablename__ = "divergence_reports"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    inference_id: Mapped[str] = mapped_column(
        ForeignKey("inferences.id", ondelete="CASCADE"), index=True
    )
    against: Mapped[str] = mapped_column(String(20))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("inference_id", "against"),)


class WorkerHeartbeat(Base):
    """A job worker process (`mesascope worker`, or the one `serve` starts) saying it is alive:
    one row per process, `beat_at` refreshed every `heartbeat_seconds`; `/readyz` reads it."""

    __tablename__ = "worker_heartbeats"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class IdempotencyRecord(Base):
    """The stored response to a write sent with an `Idempotency-Key` header, per API key, so a
    retry with the same key and body gets the same response and stores nothing twice."""

    __tablename__ = "idempotency_keys"
    api_key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class CacheGeneration(Base):
    """A counter bumped by every transaction that changes what a cached view shows
    (`service.core.generations`): API processes compare it with the generation their cached
    page was rendered at, so one cheap query tells them whether the page is still current."""

    __tablename__ = "cache_generations"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
