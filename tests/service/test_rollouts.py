"""Rollout uploads: stored whole, Minari aliases, and bad input refused with nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.service.data import corridor_environment, corridor_rollouts


async def _nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/rollouts")).json()["items"] == []
    assert (await client.get("/v1/environments")).json()["items"] == []


async def test_upload_inline_environment(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/rollouts", json=corridor_rollouts())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["n_trajectories"], body["n_transitions"]) == (30, 240)
    assert body["training_reward"] == {"kind": "linear", "weights": {"goal": 1.0}, "bias": 0.0}
    assert body["statistics"]["training_return"]["mean"] > 1
    assert body["tags"] == {"agent": "scripted"}
    env = await client.get(f"/v1/environments/{body['environment_id']}")
    assert env.status_code == 200
    assert body["identifiability"] is not None


async def test_upload_by_environment_reference(client: httpx.AsyncClient) -> None:
    env_id = (await client.post("/v1/environments", json=corridor_environment())).json()["id"]
    response = await client.post("/v1/rollouts", json=corridor_rollouts({"id": env_id}))
    assert response.status_code == 201
    assert response.json()["environment_id"] == env_id
    assert len((await client.get("/v1/environments")).json()["items"]) == 1


async def test_minari_field_names(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts()
    body["trajectories"] = [
        {
            "observations": t["obs"],
            "actions": t["acts"],
            "rewards": [0.0] * len(t["acts"]),
            "terminations": [False] * len(t["acts"]),
            "truncations": [False] * (len(t["acts"]) - 1) + [True],
        }
        for t in body["trajectories"]
    ]
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["statistics"]["observed_return"]["mean"] == 0.0


def _with_trajectory(index: int, **fields: Any) -> dict[str, Any]:
    body = corridor_rollouts()
    body["trajectories"][index].update(fields)
    return body


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        (_with_trajectory(3, acts=[2] * 7), "trajectories[3]", "expected"),
        (_with_trajectory(2, obs=[0, 1, 2, 3, 4, 5, 6, 6, 70]), "trajectories[2].obs", "70"),
        (_with_trajectory(1, acts=[2, 2, 2, 2, 2, 2, 9, 0]), "trajectories[1].acts", "9"),
        (_with_trajectory(0, rews=[0.0] * 7 + [float("nan")]), "trajectories[0].rews", "finite"),
        (_with_trajectory(0, obs=["a"] * 9), "trajectories[0].obs", ""),
        (
            corridor_rollouts(training_reward={"kind": "linear", "weights": {"red": 1}}),
            "training_reward.weights.red",
            "unknown feature",
        ),
        (corridor_rollouts(trajectories=[]), "trajectories", ""),
        (corridor_rollouts(environment={"kind": "tabular"}), "environment", ""),
    ],
)
async def test_bad_uploads_are_422_and_store_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], loc: str, text: str
) -> None:
    response = await client.post(
        "/v1/rollouts", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["loc"].startswith(loc) and text in e["msg"] for e in errors), errors
    await _nothing_stored(client)


async def test_infeasible_transition_is_named(client: httpx.AsyncClient) -> None:
    body = _with_trajectory(0, obs=[0, 5, 5, 5, 5, 5, 5, 5, 5], acts=[2] * 8)
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 422
    assert "trajectories[0]" in response.text and "probability 0" in response.text


async def test_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts()
    body["trajectories"] = body["trajectories"] * 1200  # 2.5 MB > the test limit of 2 MB
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    await _nothing_stored(client)


async def test_filters_get_and_delete(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/rollouts", json=corridor_rollouts(split="train"))).json()
    second = (
        await client.post(
            "/v1/rollouts", json=corridor_rollouts(split="test", tags={"agent": "other"})
        )
    ).json()
    by_split = (await client.get("/v1/rollouts", params={"split": "test"})).json()["items"]
    assert [r["id"] for r in by_split] == [second["id"]]
    by_tag = (await client.get("/v1/rollouts", params={"tag": "agent=scripted"})).json()["items"]
    assert [r["id"] for r in by_tag] == [first["id"]]
    assert (await client.get("/v1/rollouts", params={"tag": "nonsense"})).status_code == 422
    assert (await client.delete(f"/v1/rollouts/{first['id']}")).status_code == 204
    assert (await client.get(f"/v1/rollouts/{first['id']}")).status_code == 404


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts()
    body["trajectories"] = body["trajectories"] * 1200
    payload = json.dumps(body).encode()

    async def chunks():  # no Content-Length: the limit must hold while streaming
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    response = await client.post(
        "/v1/rollouts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    await _nothing_stored(client)
