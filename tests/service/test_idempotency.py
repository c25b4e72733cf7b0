"""Issue 16.2: writes sent with an Idempotency-Key are safe to retry (same key and body: the
same response and no second row; same key, different body: 422), scoped to the API key."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from irl.io.trajectories import parse_trajectories, to_npz_bytes
from service.core.settings import Settings
from tests.service.conftest import new_key
from tests.service.data import corridor_rollouts


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def _count(client: httpx.AsyncClient, path: str) -> int:
    return len((await client.get(path)).json()["items"])


async def test_retried_upload_returns_the_first_response(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts()
    first = await client.post("/v1/rollouts", json=body, headers=_key("k-1"))
    again = await client.post("/v1/rollouts", json=body, headers=_key("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await _count(client, "/v1/rollouts") == 1


async def test_same_key_with_a_different_body_is_a_422(client: httpx.AsyncClient) -> None:
    await client.post("/v1/rollouts", json=corridor_rollouts(), headers=_key("k-2"))
    other = await client.post(
        "/v1/rollouts", json=corridor_rollouts(name="other"), headers=_key("k-2")
    )
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["loc"] == "Idempotency-Key"
    assert await _count(client, "/v1/rollouts") == 1


async def test_without_a_key_every_request_stores(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post("/v1/rollouts", json=corridor_rollouts())).status_code == 201
    assert await _count(client, "/v1/rollouts") == 2


async def test_keys_are_scoped_to_the_api_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = corridor_rollouts()
    mine = await client.post("/v1/rollouts", json=body, headers=_key("shared"))
    other_key = new_key(settings)
    theirs = await client.post(
        "/v1/rollouts",
        json=body,
        headers={**_key("shared"), "Authorization": f"Bearer {other_key}"},
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


async def test_retried_bulk_upload_and_chunk(client: httpx.AsyncClient) -> None:
    archive = to_npz_bytes(parse_trajectories(corridor_rollouts()["trajectories"]))
    metadata = json.dumps({"name": "bulk", "environment": corridor_rollouts()["environment"]})

    async def bulk() -> httpx.Response:
        return await client.post(
            "/v1/rollouts/bulk",
            data={"metadata": metadata},
            files={"file": ("r.npz", archive, "application/octet-stream")},
            headers=_key("bulk-1"),
        )

    first, again = await bulk(), await bulk()
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()

    async def chunk(key: str) -> httpx.Response:
        return await client.post(
            f"/v1/rollouts/{first.json()['id']}/chunks",
            files={"file": ("c.npz", archive, "application/octet-stream")},
            headers=_key(key),
        )

    appended, retried = await chunk("chunk-1"), await chunk("chunk-1")
    assert appended.status_code == retried.status_code == 200, appended.text
    assert retried.json() == appended.json()
    assert appended.json()["n_trajectories"] == 2 * first.json()["n_trajectories"]
    assert await _count(client, "/v1/rollouts") == 1


async def test_retried_inference_is_queued_once(client: httpx.AsyncClient, queue) -> None:
    rollouts = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    body = {"rollouts_id": rollouts["id"], "algorithm": "mce_irl"}
    first = await client.post("/v1/inferences", json=body, headers=_key("inf-1"))
    again = await client.post("/v1/inferences", json=body, headers=_key("inf-1"))
    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json()
    assert await _count(client, "/v1/inferences") == 1
    assert queue.ids == [first.json()["id"]]
    reused = await client.post("/v1/inferences", json={**body, "seed": 1}, headers=_key("inf-1"))
    assert reused.status_code == 422


async def test_concurrent_requests_with_one_key_store_once(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts()
    responses = await asyncio.gather(
        *[client.post("/v1/rollouts", json=body, headers=_key("race")) for _ in range(4)]
    )
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    assert await _count(client, "/v1/rollouts") == 1


@pytest.mark.parametrize("value", ["", "x" * 256, "with space", "\u00e9"])
async def test_malformed_keys_are_a_422(client: httpx.AsyncClient, value: str) -> None:
    response = await client.post(
        "/v1/rollouts",
        json=corridor_rollouts(),
        headers={"Idempotency-Key": value.encode("utf-8")},
    )
    assert response.status_code == 422, response.text
    assert await _count(client, "/v1/rollouts") == 0


async def test_expired_keys_are_free_again(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from service.idempotency import service as idempotency

    monkeypatch.setattr(idempotency, "KEY_LIFETIME", timedelta(seconds=-1))
    body = corridor_rollouts()
    first = await client.post("/v1/rollouts", json=body, headers=_key("old"))
    again = await client.post("/v1/rollouts", json=body, headers=_key("old"))
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"]
