"""Service settings, read from `MESASCOPE_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_GYM_ALLOW_LIST: tuple[str, ...] = (
    "mesascope/*",
    "seals/*",
    "CartPole-v1",
    "MountainCar-v0",
    "Acrobot-v1",
    "Pendulum-v1",
)


class Settings(BaseSettings):
    """Everything configurable about one mesascope deployment."""

    model_config = SettingsConfigDict(env_prefix="MESASCOPE_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./mesascope-data")
    database_url: str = ""
    queue_url: str = ""

    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_bulk_bytes: int = Field(default=2 * 1024**3, ge=1024)
    max_transitions: int = Field(default=10_000_000, ge=1)
    max_states: int = Field(default=100_000, ge=1)
    allowed_gym_ids: Annotated[tuple[str, ...], NoDecode] = DEFAULT_GYM_ALLOW_LIST

    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    reaper_interval_seconds: float = Field(default=10.0, gt=0)
    requeue_stale_after_seconds: float = Field(default=300.0, gt=0)
    torch_threads: int = Field(default=1, ge=1)
    worker_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="CPU niceness added to job-worker processes, so API requests on the same "
        "machine stay quick while jobs use every core. Keep lease_seconds generous with it: a "
        "niced worker on a saturated machine renews its lease late.",
    )
    bootstrap_resamples: int = Field(default=20, ge=0, le=1000)
    max_job_memory_bytes: int = Field(
        default=8 * 1024**3,
        ge=2**20,
        description="Memory one tabular job's fit and report may need (estimated before it is "
        "queued; a larger job is refused with 422).",
    )
    threads: int = Field(
        default=32, ge=1, le=1000, description="Threads serving sync routes in each API process."
    )
    db_pool_size: int | None = Field(
        default=None, ge=1, description="Connections per API process (default: `threads` + 2)."
    )
    db_pool_timeout_seconds: float = Field(
        default=1.0, gt=0, description="Wait for a free connection before answering 503."
    )
    max_in_flight: int | None = Field(
        default=None, ge=1, description="Requests served at once before 503 (default: 4 x threads)."
    )
    sqlite_busy_seconds: float = Field(
        default=30.0, gt=0, description="SQLite: wait this long for another writer to finish."
    )
    retry_after_seconds: int = Field(default=1, ge=1, le=3600)
    session_secret: SecretStr | None = Field(
        default=None, description="Signs dashboard sessions; else a key file in data_dir."
    )

    @field_validator("allowed_gym_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept a comma-separated string from the environment."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Settings:
        """Point the database and queue at SQLite files under `data_dir` unless configured."""
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'mesascope.db').resolve()}"
        if not self.queue_url:
            self.queue_url = f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"
        if self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix(
                "postgresql://"
            )
        if not self.queue_url.startswith(("sqlite:///", "redis://", "rediss://")):
            raise ValueError(
                "MESASCOPE_QUEUE_URL must start with sqlite:///, redis:// or rediss://"
            )
        if self.environment == "production" and self.lease_seconds < 5:
            raise ValueError(
                "MESASCOPE_LEASE_SECONDS below 5 s would reap healthy jobs in production"
            )
        if self.environment == "production" and not self.is_sqlite and not self.session_secret:
            raise ValueError(
                "set MESASCOPE_SESSION_SECRET: API machines sharing a database must sign "
                "dashboard sessions with the same secret"
            )
        return self

    @property
    def pool_size(self) -> int:
        """Database connections per process: one per serving thread, plus the auth gate's."""
        return self.db_pool_size or self.threads + 2

    @property
    def in_flight_limit(self) -> int:
        """Requests admitted at once; the rest get a quick 503 with Retry-After."""
        return self.max_in_flight or 4 * self.threads

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    # --- process supervision and worker heartbeats (issue 17.5) ---------------------------
    heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="Seconds between a worker's heartbeats."
    )
    worker_stale_seconds: float = Field(
        default=15.0, gt=0, description="/readyz counts a worker alive this long after a beat."
    )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
