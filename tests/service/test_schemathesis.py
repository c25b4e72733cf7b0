"""Property-based testing of every operation from the app's own OpenAPI, with every schemathesis
check (status codes, content types, response schemas and headers, negative and positive data),
stateless and stateful (along the OpenAPI links from create to read, cancel, delete and
divergence), on SQLite and on PostgreSQL (which refuses some values SQLite stores, e.g. NUL
characters in text). benchmarks/fuzz.py runs thousands of cases of the same."""

from __future__ import annotations

import atexit
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.core.db import engine_for
from tests.service.conftest import (
    drop_postgres_database,
    fresh_postgres_database,
    postgres_available,
)
from tests.service.fuzzing import fuzz_schema

pytestmark = pytest.mark.slow
EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
STATEFUL = settings(
    max_examples=10,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

SQLITE_SCHEMA = fuzz_schema(None, max_examples=EXAMPLES, seed=17)
PG_URL = fresh_postgres_database() if postgres_available() else None
if PG_URL is not None:
    atexit.register(lambda: (engine_for(PG_URL).dispose(), drop_postgres_database(PG_URL)))
PG_SCHEMA = fuzz_schema(PG_URL, max_examples=EXAMPLES, seed=17) if PG_URL else SQLITE_SCHEMA


def require_postgres() -> None:
    if PG_URL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable, and CI must run every test")
        pytest.skip("PostgreSQL is not reachable")


@SQLITE_SCHEMA.parametrize()
@FUZZ
def test_conformance_sqlite(case: schemathesis.Case) -> None:
    case.call_and_validate()


@PG_SCHEMA.parametrize()
@FUZZ
def test_conformance_postgres(case: schemathesis.Case) -> None:
    require_postgres()
    case.call_and_validate()


def test_links_connect_create_to_read() -> None:
    """Every create operation links to the operations that take the id it returns."""
    raw = SQLITE_SCHEMA.raw_schema["paths"]
    linked = {
        path: sorted(raw[path][method]["responses"][status]["links"])
        for path, method, status in [
            ("/v1/environments", "post", "201"),
            ("/v1/rollouts", "post", "201"),
            ("/v1/rollouts/bulk", "post", "201"),
            ("/v1/inferences", "post", "202"),
        ]
    }
    assert "get_environment" in linked["/v1/environments"]
    assert {"get_rollouts", "delete_rollouts"} <= set(linked["/v1/rollouts"])
    assert {"get_rollouts", "append_rollouts_chunk"} <= set(linked["/v1/rollouts/bulk"])
    assert {"cancel_inference", "get_divergence", "delete_inference"} <= set(
        linked["/v1/inferences"]
    )
    # ... and the state machine draws the targets' ids from what those operations returned.
    sources = set(SQLITE_SCHEMA.as_state_machine().bundles)
    assert {"POST /v1/environments -> 201", "POST /v1/inferences -> 202"} <= sources


def test_stateful_sqlite() -> None:
    SQLITE_SCHEMA.as_state_machine().run(settings=STATEFUL)


def test_stateful_postgres() -> None:
    require_postgres()
    PG_SCHEMA.as_state_machine().run(settings=STATEFUL)
