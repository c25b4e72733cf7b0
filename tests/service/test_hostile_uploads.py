"""Issue 17's hostile uploads and issue 16's hostile text, through the API: a precise 422
with nothing stored, never a 500."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import numpy as np
import pytest

from tests.service.data import corridor_rollouts

CARTPOLE = {"kind": "gymnasium", "id": "CartPole-v1"}


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


async def _bulk(client: httpx.AsyncClient, data: bytes) -> httpx.Response:
    metadata = json.dumps({"name": "hostile", "environment": CARTPOLE})
    return await client.post(
        "/v1/rollouts/bulk",
        data={"metadata": metadata},
        files={"file": ("r.npz", data, "application/octet-stream")},
    )


async def _nothing_stored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/rollouts")).json()["items"] == []


@pytest.mark.parametrize("lengths", [[2**63 - 1, 2**63 - 1, 4], [2**62] * 4])
async def test_overflowing_lengths_are_a_422(client: httpx.AsyncClient, lengths: list) -> None:
    """Issue 17.1: stored with n_transitions 2 (or 0), then segfaulted a density worker."""
    data = _npz(
        obs=np.zeros((5, 4)),
        acts=np.zeros(2),
        terminal=np.ones(len(lengths), bool),
        lengths=np.array(lengths, dtype=np.int64),
    )
    response = await _bulk(client, data)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "file.lengths[0]"
    await _nothing_stored(client)


async def test_huge_declared_shape_is_a_422(client: httpx.AsyncClient) -> None:
    """Issue 17.2: a 691-byte .npy header declaring shape (10**11,) was a 500."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("obs.npy", header.getvalue())
    response = await _bulk(client, buffer.getvalue())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "file.obs"
    await _nothing_stored(client)


async def test_lone_surrogate_in_a_name_is_a_422(client: httpx.AsyncClient) -> None:
    """Issue 16: `"\\ud800"` in a rollout name was a 500."""
    body = json.dumps(corridor_rollouts(name="NAME")).replace('"NAME"', '"a\\ud800b"')
    response = await client.post(
        "/v1/rollouts", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"].startswith("name")
    await _nothing_stored(client)


async def test_boolean_state_index_is_a_422(client: httpx.AsyncClient) -> None:
    """Issue 16: `true` was accepted as a state index."""
    body = corridor_rollouts()
    body["trajectories"][0]["obs"][1] = True
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "trajectories[0].obs[1]"
    await _nothing_stored(client)


@pytest.mark.parametrize(
    "environment",
    [
        {"kind": "gymnasium", "id": "seals/../os:system"},
        {"kind": "gymnasium", "id": "seals/x:os"},
        {"kind": "gymnasium", "id": "mesascope/x:this"},
        {**CARTPOLE, "kwargs": {"entry_point": "os:system"}},
        {**CARTPOLE, "kwargs": {"max_episode_steps": 10**12}},
        {"kind": "gymnasium", "id": "mesascope/Maze-test-v0", "kwargs": {"distribution": "\x00"}},
    ],
)
async def test_unsafe_gymnasium_environments_are_a_422(
    client: httpx.AsyncClient, environment: dict
) -> None:
    """Issue 17.3: these were stored (201)."""
    response = await client.post("/v1/environments", json=environment)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"].startswith("environment.")
    assert (await client.get("/v1/environments")).json()["items"] == []
