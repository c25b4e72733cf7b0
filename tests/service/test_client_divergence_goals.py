"""`mesascope divergence --goal NAME=SPEC [--no-feature-goals]`: named goals in the divergence
report, through the client and the CLI against the app in process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from service.client import cli
from service.client.http import MesascopeClient
from tests.service.data import corridor_rollouts
from tests.service.test_client_probe import client, database_url, settings  # noqa: F401

LAMP = {"kind": "linear", "weights": {"lamp": 2.0}}


@pytest.fixture
def inference(client: MesascopeClient) -> str:  # noqa: F811
    """A succeeded linear MCE IRL inference on the corridor rollouts (run as it is queued)."""
    uploaded = client.http.post("/v1/rollouts", json=corridor_rollouts())
    assert uploaded.status_code == 201, uploaded.text
    job = client.infer(uploaded.json()["id"])
    assert client.get_inference(job["id"])["status"] == "succeeded"
    return str(job["id"])


@pytest.fixture
def divergence(client: MesascopeClient, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """Invoke `mesascope divergence ... --json` against the app in process."""
    monkeypatch.setattr(cli, "MesascopeClient", lambda: client)
    monkeypatch.setattr(client, "close", lambda: None)

    def invoke(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli.app, ["divergence", *args, "--json"])
        assert result.exit_code == 0, result.output
        body: dict[str, Any] = json.loads(result.stdout)
        return body

    return invoke


def names(report: dict[str, Any]) -> list[str]:
    """The report's candidate goals, best first."""
    return [c["name"] for c in report["hypotheses"]["candidates"]]


def test_named_goal_joins_the_features_and_the_training_reward(
    divergence: Any, inference: str
) -> None:
    default = divergence(inference)
    named = divergence(inference, "--goal", f"lamp-lover={json.dumps(LAMP)}")
    assert "lamp-lover" not in names(default)
    # 2 * lamp equals the single feature `lamp` up to scale: one candidate, the named one
    assert sorted(names(named)) == sorted(
        "lamp-lover" if n == "lamp" else n for n in names(default)
    )
    other = {"kind": "linear", "weights": {"lamp": 1.0, "goal": -1.0}}
    mixed = divergence(inference, "--goal", f"away={json.dumps(other)}")
    assert set(names(mixed)) == set(names(default)) | {"away"}
    assert mixed["verdict"] == default["verdict"]
    assert mixed["against"] == default["against"]  # `training` resolved to the same reward


def test_no_feature_goals_leaves_the_training_reward_and_the_named_ones(
    divergence: Any, inference: str
) -> None:
    other = {"kind": "linear", "weights": {"lamp": 1.0, "goal": -1.0}}
    report = divergence(inference, "--no-feature-goals", "--goal", f"away={json.dumps(other)}")
    candidates = report["hypotheses"]["candidates"]
    assert sorted(c["name"] for c in candidates) == ["away", "training"]
    assert [c["name"] for c in candidates if c["training"]] == ["training"]


def test_goals_against_another_reference_post_that_spec(divergence: Any, inference: str) -> None:
    report = divergence(
        inference, "--against", json.dumps(LAMP), "--goal", f"goal={json.dumps(LAMP)}"
    )
    assert report["against"]["weights"] == LAMP["weights"]
    assert [c["name"] for c in report["hypotheses"]["candidates"] if c["training"]] == ["lamp"]


def test_a_goal_without_name_is_a_usage_error(
    client: MesascopeClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "MesascopeClient", lambda: client)
    result = CliRunner().invoke(cli.app, ["divergence", "inf_1", "--goal", json.dumps(LAMP)])
    assert result.exit_code == 2
    assert "is not key=value" in result.output


def test_the_client_posts_goals_with_the_training_reward_of_the_rollouts() -> None:
    seen: list[httpx.Request] = []
    training = {"kind": "linear", "weights": {"door": 1.0}}

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/inferences/inf_1":
            return httpx.Response(200, json={"id": "inf_1", "rollouts_id": "ro_1"})
        if request.url.path == "/v1/rollouts/ro_1":
            return httpx.Response(200, json={"id": "ro_1", "training_reward": training})
        return httpx.Response(200, json={"verdict": "generalises"})

    mock = MesascopeClient("http://x", "k", transport=httpx.MockTransport(handle))
    mock.divergence("inf_1", "training", goals={"red": {"kind": "linear", "weights": {"red": 1}}})
    posted = seen[-1]
    assert (posted.method, posted.url.path) == ("POST", "/v1/inferences/inf_1/divergence")
    assert json.loads(posted.content) == {
        "against": training,
        "goals": {"red": {"kind": "linear", "weights": {"red": 1}}},
        "feature_goals": True,
    }
    seen.clear()
    mock.divergence("inf_1", "observed", feature_goals=False)
    assert json.loads(seen[-1].content) == {
        "against": {"kind": "observed"},
        "goals": {},
        "feature_goals": False,
    }
    seen.clear()
    mock.divergence("inf_1")
    assert [(r.method, r.url.path) for r in seen] == [("GET", "/v1/inferences/inf_1/divergence")]
