"""Property-based fuzzing of every operation from the app's own OpenAPI: never a 5xx, on SQLite
and on PostgreSQL (which refuses some values SQLite stores, e.g. NUL characters in text)."""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.core.db import engine_for, migrate
from service.core.settings import Settings
from service.ops.heartbeat import Heartbeat
from tests.service.conftest import (
    drop_postgres_database,
    fresh_postgres_database,
    new_key,
    postgres_available,
)

pytestmark = pytest.mark.slow
FUZZ = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def _app(database_url: str | None) -> tuple[schemathesis.BaseSchema, str]:
    """A migrated database, an app on it, its OpenAPI schema and a key (built at import, since
    schemathesis needs the schema when it generates the tests)."""
    config = Settings(
        environment="test",
        max_body_bytes=200_000,
        data_dir=Path(tempfile.mkdtemp(prefix="mesascope-fuzz-")),
        **({"database_url": database_url} if database_url else {}),
    )
    migrate(config.database_url)
    Heartbeat(config, concurrency=1).start()  # a live worker, so /readyz is 200 (not a 5xx)
    app = create_app(config, enqueue=lambda _: None, queue_check=lambda: None)
    return schemathesis.openapi.from_asgi("/openapi.json", app), new_key(config)


SQLITE_SCHEMA, SQLITE_KEY = _app(None)
PG_URL = fresh_postgres_database() if postgres_available() else None
if PG_URL is not None:
    atexit.register(lambda: (engine_for(PG_URL).dispose(), drop_postgres_database(PG_URL)))
PG_SCHEMA, PG_KEY = _app(PG_URL) if PG_URL else (SQLITE_SCHEMA, SQLITE_KEY)


@SQLITE_SCHEMA.parametrize()
@FUZZ
def test_no_server_errors_sqlite(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {SQLITE_KEY}"}, checks=[not_a_server_error]
    )


@PG_SCHEMA.parametrize()
@FUZZ
def test_no_server_errors_postgres(case: schemathesis.Case) -> None:
    if PG_URL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable, and CI must run every test")
        pytest.skip("PostgreSQL is not reachable")
    case.call_and_validate(
        headers={"Authorization": f"Bearer {PG_KEY}"}, checks=[not_a_server_error]
    )
