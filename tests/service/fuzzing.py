"""The app under schemathesis, shared by tests/service/test_schemathesis.py and benchmarks/fuzz.py:
a migrated database, the app on it, and its OpenAPI schema configured with a key and every check
(the exceptions below say why each is not a defect of the service)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from service.app import create_app
from service.core.db import migrate
from service.core.settings import Settings
from service.ops.heartbeat import Heartbeat
from tests.service.conftest import new_key

OPAQUE_OR_FREE_FORM = [
    # Lists take an opaque `cursor` (base64 of a sort key): a well-formed string that is not
    # one the list issued is a 422 the schema cannot express.
    "GET /v1/environments",
    "GET /v1/rollouts",
    "GET /v1/inferences",
    # Environment, reward and trajectory documents have JSON Schemas (service/core/documents.py),
    # but what makes one valid goes beyond any schema: each (s, a) row's probabilities sum to 1,
    # len(obs) = len(acts) + 1, reward shapes match the environment's sizes, ids in a body name
    # resources of the project. irl/io refuses those with a located 422 (`trajectories[3].acts`).
    # Schema-invalid documents are still generated (negative_data_rejection) and must be refused.
    "POST /v1/environments",
    "POST /v1/rollouts",
    "POST /v1/rollouts/bulk",
    "POST /v1/rollouts/{rollouts_id}/chunks",
    "POST /v1/inferences",
    "POST /v1/inferences/{inference_id}/divergence",
    "POST /v1/inferences/{inference_id}/goals",
    "POST /v1/comparisons",
]
"""Operations where `positive_data_acceptance` is off: schema-valid requests that the server
rightly refuses with 422, for reasons outside what OpenAPI can describe."""

CHECKS: dict[str, Any] = {
    # A body over the size limit is refused with 413 before it is parsed: also a rejection.
    "negative_data_rejection": {
        "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422, 428, 429, "5xx"]
    },
}


def fuzz_schema(
    database_url: str | None, *, max_examples: int, seed: int, max_time: int | None = None
) -> schemathesis.BaseSchema:
    """The app on a migrated database (with a live worker heartbeat, so /readyz is 200), and
    its schema with a key, every check and every phase."""
    settings = Settings(
        environment="test",
        max_body_bytes=200_000,
        data_dir=Path(tempfile.mkdtemp(prefix="mesascope-fuzz-")),
        **({"database_url": database_url} if database_url else {}),
    )
    migrate(settings.database_url)
    Heartbeat(settings, concurrency=1).start()
    app = create_app(settings, enqueue=lambda _: None, queue_check=lambda: None)
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            **({"max-time": max_time} if max_time else {}),
            "headers": {"Authorization": f"Bearer {new_key(settings)}"},
            "checks": CHECKS,
            "generation": {"max-examples": max_examples, "database": "none"},
            "phases": {"stateful": {"max-steps": max_examples}},
            "suppress-health-check": ["all"],
            "operations": [
                {
                    "include-name": OPAQUE_OR_FREE_FORM,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
            ],
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
