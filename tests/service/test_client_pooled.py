"""The Python client uploads pooled rollout sets: `environments` plus each trajectory's index,
as JSON fields or the npz `environment` member (read back with the server's own parsers)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from irl.io.trajectories import environment_indices, pooled_from_npz_bytes
from service.client.http import MesascopeClient
from tests.service.pooled_data import pooled_rollouts


@pytest.mark.parametrize("bulk", [False, True])
def test_pooled_uploads_carry_each_trajectorys_environment(bulk: bool) -> None:
    body = pooled_rollouts()
    expected = [t["environment"] for t in body["trajectories"]]
    sent: list[list[int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        content = request.content
        if bulk:
            assert b'"environments"' in content and b'"environment"' not in content
            archive = content[content.index(b"PK\x03\x04") : content.rindex(b"\r\n--")]
            _, indices = pooled_from_npz_bytes(archive, n_environments=2)
        else:
            posted = json.loads(content)
            assert "environment" not in posted and len(posted["environments"]) == 2
            indices = environment_indices(posted["trajectories"], n_environments=2)
        assert indices is not None
        sent.append(indices.tolist())
        return httpx.Response(201, json={"id": "ro_1"})

    plain = [{k: v for k, v in t.items() if k != "environment"} for t in body["trajectories"]]
    with MesascopeClient("http://test", "key", transport=httpx.MockTransport(handler)) as client:
        client.upload_rollouts(
            plain,
            environments=body["environments"],
            environment_of=np.array(expected),
            name="pooled",
            bulk=bulk,
            chunk_transitions=10,
        )
    assert sent == [expected]  # one request: a pooled set is never split into chunks


def test_environment_and_environments_are_exclusive() -> None:
    with MesascopeClient("http://test", "key") as client, pytest.raises(ValueError):
        client.upload_rollouts([], name="x", environment={"id": "e"}, environments=[{"id": "e"}])
