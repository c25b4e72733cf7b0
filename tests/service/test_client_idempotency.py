"""The Python client (and so the CLI) sends a fresh Idempotency-Key with every write."""

from __future__ import annotations

import httpx

from service.client.http import MesascopeClient
from tests.service.data import corridor_rollouts


def test_every_write_carries_a_fresh_key() -> None:
    seen: list[tuple[str, str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("Idempotency-Key")))
        return httpx.Response(201, json={"id": "ro_1", "n_trajectories": 1})

    body = corridor_rollouts()
    with MesascopeClient("http://test", "key", transport=httpx.MockTransport(handler)) as client:
        client.upload_rollouts(body["trajectories"], environment={"id": "env_1"}, name="a")
        client.upload_rollouts(
            body["trajectories"],
            environment={"id": "env_1"},
            name="b",
            bulk=True,
            chunk_transitions=100,
        )
        client.infer("ro_1")
    paths = [path for _, path, _ in seen]
    assert paths[0] == "/v1/rollouts"
    assert paths[1] == "/v1/rollouts/bulk"
    assert "/v1/rollouts/ro_1/chunks" in paths
    assert paths[-1] == "/v1/inferences"
    keys = [key for _, _, key in seen]
    assert all(keys) and len(set(keys)) == len(keys)
