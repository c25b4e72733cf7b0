"""Environments: store, fetch, list, and refuse malformed specs with a named field."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.service.data import corridor_environment


async def test_create_and_fetch(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/environments", json=corridor_environment())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("env_")
    assert (body["n_states"], body["n_actions"], body["horizon"]) == (7, 3, 8)
    assert body["feature_names"] == ["goal", "lamp"]
    fetched = await client.get(f"/v1/environments/{body['id']}", params={"include": "spec"})
    assert fetched.json()["spec"]["n_states"] == 7
    listed = await client.get("/v1/environments")
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]


async def test_pagination_walks_newest_first(client: httpx.AsyncClient) -> None:
    ids = [
        (await client.post("/v1/environments", json=corridor_environment())).json()["id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/environments", params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5


def _broken(path: str, value: object) -> dict:
    env = corridor_environment()
    target = env
    *parents, last = path.split(".")
    for part in parents:
        target = target[part]
    target[last] = value
    return env


@pytest.mark.parametrize(
    ("env", "loc"),
    [
        (_broken("kind", "hexagonal"), "environment.kind"),
        (_broken("n_states", -3), "environment.n_states"),
        (_broken("transitions", [[0, 0, 0, 0.5]]), "environment.transitions"),
        (_broken("transitions", [[0, 0, 99, 1.0]]), "environment.transitions"),
        (
            _broken("initial_state_dist", [1.0, float("nan"), 0, 0, 0, 0, 0]),
            "environment.initial_state_dist",
        ),
        (_broken("horizon", "eight"), "environment.horizon"),
        (
            _broken("reward", {"kind": "linear", "weights": {"colour": 1.0}}),
            "environment.reward.weights.colour",
        ),
        ({"kind": "gymnasium", "id": "ALE/Pong-v5"}, "environment.id"),
    ],
)
async def test_bad_specs_are_422_naming_the_field(
    client: httpx.AsyncClient, env: dict, loc: str
) -> None:
    # json.dumps writes NaN literally, as many clients do; the server must still refuse it.
    response = await client.post(
        "/v1/environments", content=json.dumps(env), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["loc"].startswith(loc) for e in problem["errors"]), problem
    assert (await client.get("/v1/environments")).json()["items"] == []


async def test_transition_rows_must_sum_to_one(client: httpx.AsyncClient) -> None:
    env = corridor_environment()
    env["transitions"] = [row for row in env["transitions"] if row[:2] != [3, 2]]
    response = await client.post("/v1/environments", json=env)
    assert response.status_code == 422
    assert "s=3, a=2" in response.text
