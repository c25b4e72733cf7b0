"""The Python client uploads pooled rollout sets: `environments` plus each trajectory's index,
as JSON fields or the npz `environment` member (read back with the server's own parsers)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from irl.io.trajectories import environment_indices, pooled_from_npz_bytes
from service.client import cli
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


def test_the_upload_command_takes_several_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mesascope upload FILE --env A --env B` sends a pooled set with the file's indices; a
    file without them is refused before anything is sent."""
    body = pooled_rollouts()
    specs = []
    for k, spec in enumerate(body["environments"]):
        specs.append(tmp_path / f"env{k}.json")
        specs[-1].write_text(json.dumps(spec))
    posted: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "ro_1"})

    client = MesascopeClient("http://test", "key", transport=httpx.MockTransport(handler))
    monkeypatch.setattr(cli, "MesascopeClient", lambda: client)
    (tmp_path / "rollouts.json").write_text(json.dumps(body["trajectories"]))
    envs = [option for spec in specs for option in ("--env", str(spec))]
    result = CliRunner().invoke(cli.app, ["upload", str(tmp_path / "rollouts.json"), *envs])
    assert result.exit_code == 0, result.output
    (sent,) = posted
    assert sent["environments"] == body["environments"] and "environment" not in sent
    assert [t["environment"] for t in sent["trajectories"]] == [
        t["environment"] for t in body["trajectories"]
    ]
    plain = [{k: v for k, v in t.items() if k != "environment"} for t in body["trajectories"]]
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    refused = CliRunner().invoke(cli.app, ["upload", str(tmp_path / "plain.json"), *envs])
    assert refused.exit_code != 0 and "environment` index" in refused.output
    assert len(posted) == 1
