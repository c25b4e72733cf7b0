"""Pooled rollout sets: several environments in one set, one inference over all of them, a
per-environment breakdown; bad input refused naming the field, with nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.core.settings import Settings
from tests.service.conftest import Queue
from tests.service.pooled_data import grid_spec, pooled_npz, pooled_rollouts
from tests.service.test_dashboard import assert_accessible


async def _nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/rollouts")).json()["items"] == []
    assert (await client.get("/v1/environments")).json()["items"] == []


def _members(body: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [
        (m["name"], m["n_states"], m["state_offset"], m["n_trajectories"])
        for m in body["statistics"]["environments"]
    ]


async def test_pooled_inference_gives_the_pooled_verdict_and_one_row_per_environment(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    response = await client.post("/v1/rollouts", json=pooled_rollouts())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["n_trajectories"] == 16
    assert _members(body) == [("grid-2x3", 6, 0, 6), ("grid-3x3", 9, 6, 10)]
    pooled_env = (await client.get(f"/v1/environments/{body['environment_id']}")).json()
    assert (pooled_env["n_states"], pooled_env["horizon"]) == (15, 8)
    rollout_page = await client.get(f"/rollouts/{body['id']}")
    assert rollout_page.status_code == 200
    assert_accessible(rollout_page.text)
    assert "1. <code>" in rollout_page.text.split("data-pooled", 1)[1].split("</table>", 1)[0]

    job = await client.post(
        "/v1/inferences",
        json={"rollouts_id": body["id"], "algorithm": "mce_irl", "reward_model": "linear"},
    )
    assert job.status_code == 202, job.text
    assert queue.drain() == ["succeeded"]
    report = (await client.get(f"/v1/inferences/{job.json()['id']}/divergence")).json()
    assert report["verdict"] == "generalises"
    rows = report["environments"]
    assert [(r["name"], r["n_trajectories"]) for r in rows] == [("grid-2x3", 6), ("grid-3x3", 10)]
    for row in rows:
        assert row["epic"] < 0.3 and row["normalized_return"] > 0.5
        assert row["p_value"] < 0.05

    page = await client.get(f"/inferences/{job.json()['id']}")
    assert page.status_code == 200
    assert_accessible(page.text)
    table = page.text.split("data-environments", 1)[1].split("</table>", 1)[0]
    assert "0. grid-2x3" in table and "1. grid-3x3" in table


async def test_bulk_npz_upload_names_environments_in_a_member(client: httpx.AsyncClient) -> None:
    body = pooled_rollouts()
    metadata = {k: v for k, v in body.items() if k != "trajectories"}
    response = await client.post(
        "/v1/rollouts/bulk",
        data={"metadata": json.dumps(metadata)},
        files={"file": ("pooled.npz", pooled_npz(body), "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    assert _members(response.json()) == [("grid-2x3", 6, 0, 6), ("grid-3x3", 9, 6, 10)]
    appended = await client.post(
        f"/v1/rollouts/{response.json()['id']}/chunks",
        files={"file": ("more.npz", pooled_npz(body), "application/octet-stream")},
    )
    assert appended.status_code == 409 and "pooled" in appended.text


def _naming(index: int, environment: Any) -> dict[str, Any]:
    body = pooled_rollouts()
    body["trajectories"][index]["environment"] = environment
    return body


def _other(**overrides: Any) -> dict[str, Any]:
    return pooled_rollouts(environments=[grid_spec(2, 3), grid_spec(3, 3, **overrides)])


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        (_naming(7, 2), "trajectories[7].environment", "not in the set"),
        (_naming(7, -1), "trajectories[7].environment", "not in the set"),
        (_naming(0, 1), "trajectories[0]", ""),
        (
            _other(features={"names": ["door", "red", "green"], "values": [[0, 0, 0]] * 9}),
            "environments[1].features.names",
            "must equal",
        ),
        (_other(discount=0.9), "environments[1].discount", "0.9 vs 1.0"),
        (_other(horizon=9), "environments[1].horizon", "9 vs 8"),
        (pooled_rollouts(environment=grid_spec(2, 3)), "environments", "exactly one"),
    ],
)
async def test_bad_pooled_uploads_are_422_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], loc: str, text: str
) -> None:
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["loc"].startswith(loc) and text in e["msg"] for e in errors), errors
    await _nothing_stored(client)


async def test_a_trajectory_without_its_environment_is_refused(client: httpx.AsyncClient) -> None:
    body = pooled_rollouts()
    del body["trajectories"][3]["environment"]
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "trajectories[3].environment"
    await _nothing_stored(client)


async def test_bulk_environment_index_out_of_the_set_is_refused(client: httpx.AsyncClient) -> None:
    body = _naming(2, 5)
    metadata = {k: v for k, v in body.items() if k != "trajectories"}
    response = await client.post(
        "/v1/rollouts/bulk",
        data={"metadata": json.dumps(metadata)},
        files={"file": ("pooled.npz", pooled_npz(body), "application/octet-stream")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "file.environment[2]"
    await _nothing_stored(client)


async def test_pooled_states_over_the_limit_are_refused_though_each_fits(
    settings: Settings, queue: Queue, api_key: str
) -> None:
    small = settings.model_copy(update={"max_states": 12})
    app = create_app(small, enqueue=queue, queue_check=lambda: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        response = await client.post("/v1/rollouts", json=pooled_rollouts())
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["loc"] == "environments" and "15 states in all" in error["msg"]
        await _nothing_stored(client)
