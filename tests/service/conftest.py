"""Fixtures for service tests: migrated databases (SQLite and PostgreSQL), apps and clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from service.app import create_app
from service.auth.service import create_key
from service.core.db import migrate, unit_of_work
from service.core.settings import Settings
from service.inferences import jobs

PG_ADMIN_DSN = os.environ.get("MESASCOPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    """Whether the machine's PostgreSQL answers."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_service(available: bool, name: str) -> None:
    """Skip locally when a service is down; in CI that is a failure, never a skip."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not reachable, and CI must run every test")
    pytest.skip(f"{name} is not reachable")


def fresh_postgres_database() -> str:
    """Create an empty database on the local server and return its SQLAlchemy URL."""
    name = f"mesascope_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return (
        PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        + f"/{name}"
    )


def drop_postgres_database(url: str) -> None:
    """Drop a database made by `fresh_postgres_database`."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database (`alembic upgrade head`), once per backend per session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'mesascope.db'}"
        migrate(url)
        yield url
        return
    require_service(postgres_available(), "PostgreSQL at 127.0.0.1:5432")
    url = fresh_postgres_database()
    migrate(url)
    yield url
    from service.core.db import engine_for

    engine_for(url).dispose()
    drop_postgres_database(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: the shared migrated database, a private queue file."""
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        max_body_bytes=2_000_000,
        lease_seconds=5,
        reaper_interval_seconds=0.5,
    )


class Queue:
    """Records enqueued job ids; `drain()` runs them in this process like a worker would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ids: list[str] = []

    def __call__(self, inference_id: str) -> None:
        self.ids.append(inference_id)

    def drain(self) -> list[str]:
        statuses = []
        while self.ids:
            statuses.append(jobs.run(self.ids.pop(0), self.settings))
        return statuses


@pytest.fixture
def queue(settings: Settings) -> Queue:
    """The test app's queue."""
    return Queue(settings)


def new_key(settings: Settings, project: str | None = None) -> str:
    """An API key in its own project, so each test sees only its own rows."""
    with unit_of_work(settings) as uow:
        return create_key(uow.session, name="test", project=project or f"p-{uuid.uuid4().hex}")


@pytest.fixture
def api_key(settings: Settings) -> str:
    """A key in a fresh project."""
    return new_key(settings)


@pytest.fixture
async def client(
    settings: Settings, queue: Queue, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An async client on the app, authenticated with `api_key`."""
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {api_key}"}
    ) as c:
        yield c
