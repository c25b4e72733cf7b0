"""Issue 17.6: appending chunks and submitting an inference are atomic with respect to each
other; chunk numbering never collides, whatever the concurrency."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from irl.io.trajectories import parse_trajectories, to_npz_bytes
from service.core.db import unit_of_work
from service.core.models import RolloutChunk
from service.core.settings import Settings
from tests.service.data import corridor_rollouts


def _chunk() -> bytes:
    return to_npz_bytes(parse_trajectories(corridor_rollouts()["trajectories"]))


async def _append(client: httpx.AsyncClient, rollouts_id: str) -> httpx.Response:
    return await client.post(
        f"/v1/rollouts/{rollouts_id}/chunks",
        files={"file": ("c.npz", _chunk(), "application/octet-stream")},
    )


def _positions(settings: Settings, rollouts_id: str) -> list[int]:
    with unit_of_work(settings) as uow:
        return list(
            uow.session.scalars(
                select(RolloutChunk.position)
                .where(RolloutChunk.rollouts_id == rollouts_id)
                .order_by(RolloutChunk.position)
            )
        )


async def test_parallel_appends_and_an_inference(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Ten parallel appends plus one inference: every append is stored in order or refused
    with 409 (no duplicate-key 500), and the set never grows after the inference."""
    created = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    per_chunk = created["n_trajectories"]
    inference = client.post(
        "/v1/inferences", json={"rollouts_id": created["id"], "algorithm": "mce_irl"}
    )
    responses = await asyncio.gather(
        *[_append(client, created["id"]) for _ in range(5)],
        inference,
        *[_append(client, created["id"]) for _ in range(5)],
    )
    statuses = [r.status_code for r in responses]
    assert statuses[5] == 202, responses[5].text
    appends = statuses[:5] + statuses[6:]
    assert set(appends) <= {200, 409}, [r.text for r in responses]
    stored = appends.count(200)
    assert _positions(settings, created["id"]) == list(range(1 + stored))
    final = (await client.get(f"/v1/rollouts/{created['id']}")).json()
    assert final["n_trajectories"] == per_chunk * (1 + stored)
    late = await _append(client, created["id"])
    assert late.status_code == 409, late.text
    assert "sealed" in late.json()["detail"]
    after = (await client.get(f"/v1/rollouts/{created['id']}")).json()
    assert after["n_trajectories"] == final["n_trajectories"]


async def test_parallel_appends_are_numbered_in_order(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """On PostgreSQL 9 of 10 parallel appends were `duplicate key ... pk_rollout_chunks` 500s."""
    created = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    responses = await asyncio.gather(*[_append(client, created["id"]) for _ in range(10)])
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert _positions(settings, created["id"]) == list(range(11))
    final = (await client.get(f"/v1/rollouts/{created['id']}")).json()
    assert final["n_trajectories"] == 11 * created["n_trajectories"]
