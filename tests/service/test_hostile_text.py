"""Text PostgreSQL cannot store (NUL characters) and malformed ids are refused with 422 problems,
never a 500, on every backend."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.service.data import corridor_environment, corridor_rollouts

NUL = "\u0000"


def _with_feature_names(names: list[str]) -> dict:
    env = corridor_environment()
    env["features"]["names"] = names
    return env


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("POST", "/v1/rollouts", corridor_rollouts(name=f"a{NUL}b"), "name"),
        ("POST", "/v1/rollouts", corridor_rollouts(tags={f"k{NUL}": "v"}), "tags"),
        ("POST", "/v1/rollouts", corridor_rollouts(split=f"t{NUL}"), "split"),
        (
            "POST",
            "/v1/environments",
            {**corridor_environment(), "name": f"x{NUL}"},
            "environment.name",
        ),
        (
            "POST",
            "/v1/environments",
            _with_feature_names([f"go{NUL}al", "lamp"]),
            "environment.features.names",
        ),
        (
            "POST",
            "/v1/inferences",
            {"rollouts_id": f"ro_{NUL}", "algorithm": "mce_irl"},
            "rollouts_id",
        ),
        ("GET", "/v1/rollouts/ro_%00x", None, "rollouts_id"),
        ("GET", "/v1/inferences?rollouts_id=%00", None, "rollouts_id"),
        ("GET", "/v1/rollouts?tag=a%00=b", None, "tag"),
        ("GET", "/v1/rollouts?split=%00", None, "split"),
        ("GET", "/v1/inferences?algorithm=%00", None, "algorithm"),
    ],
)
async def test_unstorable_text_is_a_422(
    client: httpx.AsyncClient, method: str, path: str, body: dict | None, loc: str
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert any(e["loc"].startswith(loc) for e in response.json()["errors"]), response.text
    assert (await client.get("/v1/rollouts")).json()["items"] == []


async def test_malformed_json_names_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/rollouts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "body"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inferences/not-an-id",
        "/v1/rollouts/RO_12",
        "/v1/environments/x",
        "/v1/inferences/x/reward",
    ],
)
async def test_a_malformed_id_is_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404, response.text
    assert "not found" in response.json()["detail"]


async def test_a_body_without_content_type_says_to_send_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/environments",
        content=json.dumps(corridor_environment()),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert response.json()["title"] == "Unprocessable content"
    assert "Content-Type: application/json" in response.json()["errors"][0]["msg"]


async def test_every_422_has_one_title(client: httpx.AsyncClient) -> None:
    pydantic_422 = await client.post("/v1/inferences", json={"rollouts_id": 5})
    irl_422 = await client.post("/v1/environments", json={"kind": "tabular"})
    assert pydantic_422.status_code == irl_422.status_code == 422
    assert pydantic_422.json()["title"] == irl_422.json()["title"] == "Unprocessable content"


async def test_a_key_without_bearer_says_what_to_send(
    client: httpx.AsyncClient, api_key: str
) -> None:
    response = await client.get("/v1/environments", headers={"Authorization": api_key})
    assert response.status_code == 401
    assert "Authorization: Bearer msk_" in response.json()["detail"]


async def test_a_wrong_method_names_the_allowed_ones(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/environments")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]
