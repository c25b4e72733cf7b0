"""Property-based fuzzing of every operation from the app's own OpenAPI: never a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.core.db import migrate
from service.core.settings import Settings
from tests.service.conftest import new_key

pytestmark = pytest.mark.slow

# Built at import: schemathesis needs the schema when it generates the tests.
CONFIG = Settings(
    environment="test",
    data_dir=Path(tempfile.mkdtemp(prefix="mesascope-fuzz-")),
    max_body_bytes=200_000,
)
migrate(CONFIG.database_url)
KEY = new_key(CONFIG)
APP = create_app(CONFIG, enqueue=lambda _: None, queue_check=lambda: None)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=[not_a_server_error])
