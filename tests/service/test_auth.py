"""API keys: 401 without one, and a key sees only its own project's rows."""

from __future__ import annotations

import httpx

from service.core.settings import Settings
from tests.service.conftest import new_key
from tests.service.data import corridor_environment


async def test_missing_key_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/environments", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_wrong_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/rollouts", headers={"Authorization": "Bearer msk_nope"})
    assert response.status_code == 401
    assert "invalid" in response.json()["detail"]


async def test_other_projects_rows_are_invisible(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post("/v1/environments", json=corridor_environment())
    env_id = created.json()["id"]
    other = {"Authorization": f"Bearer {new_key(settings)}"}
    assert (await client.get(f"/v1/environments/{env_id}", headers=other)).status_code == 404
    listing = await client.get("/v1/environments", headers=other)
    assert listing.json()["items"] == []
    assert (await client.get(f"/v1/environments/{env_id}")).status_code == 200


async def test_healthz_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert response.json() == {"status": "ok"}
