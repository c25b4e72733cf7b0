"""Regression tests for what schemathesis' conformance checks found (tests/service/fuzzing.py)."""

from __future__ import annotations

import httpx

from service.app import create_app
from service.core.settings import Settings


async def test_allow_lists_only_the_methods_of_the_literal_path(client: httpx.AsyncClient) -> None:
    # /v1/rollouts/{rollouts_id} (GET, DELETE) also matches /v1/rollouts/bulk, which is POST only.
    response = await client.options("/v1/rollouts/bulk")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert (await client.options("/v1/rollouts/ro_1")).headers["allow"] == "DELETE, GET"


async def test_an_unparsable_body_is_a_documented_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/environments", content=b"\xb6\xe8", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    spec = create_app(Settings()).openapi()
    for path, method in [
        ("/v1/environments", "post"),
        ("/v1/rollouts", "post"),
        ("/v1/rollouts/bulk", "post"),
        ("/v1/rollouts/{rollouts_id}/chunks", "post"),
        ("/v1/inferences", "post"),
        ("/v1/inferences/{inference_id}/divergence", "post"),
        ("/v1/comparisons", "post"),
    ]:
        assert {"400", "401", "413", "422", "503"} <= set(spec["paths"][path][method]["responses"])
    assert "401" in spec["paths"]["/metrics"]["get"]["responses"]
    assert "Retry-After" in spec["paths"]["/v1/rollouts"]["get"]["responses"]["503"]["headers"]
