"""Inference jobs through the API, run in-process by the test queue."""

from __future__ import annotations

import httpx

from irl.divergence import METRICS
from service.app import create_app
from service.core import artifacts
from service.core.db import unit_of_work
from service.core.models import Artifact
from service.core.settings import Settings
from service.inferences import repository
from tests.service.conftest import Queue
from tests.service.data import corridor_rollouts


async def _rollouts(client: httpx.AsyncClient, **overrides: object) -> str:
    response = await client.post("/v1/rollouts", json=corridor_rollouts(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _infer(client: httpx.AsyncClient, rollouts_id: str, **fields: object) -> dict:
    body = {"rollouts_id": rollouts_id, "algorithm": "mce_irl", "reward_model": "linear", **fields}
    response = await client.post("/v1/inferences", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_linear_inference_recovers_the_goal(client: httpx.AsyncClient, queue: Queue) -> None:
    rollouts_id = await _rollouts(client)
    job = await _infer(client, rollouts_id)
    assert job["status"] == "queued" and queue.ids == [job["id"]]
    assert (await client.get(f"/v1/inferences/{job['id']}/divergence")).status_code == 409
    assert queue.drain() == ["succeeded"]

    done = (await client.get(f"/v1/inferences/{job['id']}")).json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["attempts"] == 1
    weights = done["reward"]["feature_weights"]
    assert weights["goal"] > weights["lamp"]
    assert done["started_at"] <= done["finished_at"]

    report = (await client.get(f"/v1/inferences/{job['id']}/divergence")).json()
    assert report["inference_id"] == job["id"]
    # The expert also leaves the lamp cell it often starts in, which the data cannot tell apart
    # from disliking the lamp: the utility is close to, not identical with, the training reward.
    assert report["metrics"]["epic"] < 0.3
    assert report["returns"]["normalized_under_training"] > 0.7
    assert report["verdict"] == "generalises"
    assert tuple(report["metrics"]) == METRICS  # every registered distance, in order
    low, high = report["uncertainty"]["epic"]
    assert 0 <= low <= high <= 1
    assert report["uncertainty"]["n_bootstrap"] == 20
    assert report["goal_directedness"]["p_value"] < 1e-6
    assert "bootstrap: 20 resamples refitted (newton refits" in done["log"][-2]
    assert report["explanation"]
    assert done["epic"] == report["metrics"]["epic"]

    spec = (await client.get(f"/v1/inferences/{job['id']}/reward")).json()
    assert spec["kind"] == "linear" and spec["weights"]["goal"] == weights["goal"]


async def test_tabular_reward_model(client: httpx.AsyncClient, queue: Queue) -> None:
    job = await _infer(client, await _rollouts(client), reward_model="tabular", seed=3)
    assert queue.drain() == ["succeeded"]
    done = (await client.get(f"/v1/inferences/{job['id']}")).json()
    values = done["reward"]["values"]
    assert len(values) == 7 and max(range(7), key=values.__getitem__) == 6


async def test_divergence_against_other_references(client: httpx.AsyncClient, queue: Queue) -> None:
    job = await _infer(client, await _rollouts(client))
    queue.drain()
    missing_env_reward = await client.get(
        f"/v1/inferences/{job['id']}/divergence", params={"against": "environment"}
    )
    assert missing_env_reward.status_code == 422
    custom = await client.post(
        f"/v1/inferences/{job['id']}/divergence",
        json={"against": {"kind": "linear", "weights": {"lamp": 1.0}}},
    )
    assert custom.status_code == 200, custom.text
    assert custom.json()["metrics"]["epic"] > 0.5


async def test_no_training_reward_is_422(client: httpx.AsyncClient, queue: Queue) -> None:
    job = await _infer(client, await _rollouts(client, training_reward=None))
    queue.drain()
    response = await client.get(f"/v1/inferences/{job['id']}/divergence")
    assert response.status_code == 422
    assert (await client.get(f"/v1/inferences/{job['id']}")).json()["verdict"] is None


async def test_bad_submissions(client: httpx.AsyncClient) -> None:
    rollouts_id = await _rollouts(client)
    cases = [
        ({"rollouts_id": "ro_missing", "algorithm": "mce_irl"}, "rollouts_id"),
        ({"rollouts_id": rollouts_id, "algorithm": "q_learning"}, "algorithm"),
        (
            {"rollouts_id": rollouts_id, "algorithm": "mce_irl", "params": {"max_iter": -1}},
            "params.max_iter",
        ),
        (
            {"rollouts_id": rollouts_id, "algorithm": "mce_irl", "params": {"colour": 1}},
            "params.colour",
        ),
        ({"rollouts_id": rollouts_id, "algorithm": "mce_irl", "seed": -5}, "seed"),
    ]
    for body, loc in cases:
        response = await client.post("/v1/inferences", json=body)
        assert response.status_code == 422, (body, response.text)
        assert any(e["loc"].startswith(loc) for e in response.json()["errors"]), response.text
    assert (await client.get("/v1/inferences")).json()["items"] == []


async def test_algorithm_must_fit_environment(client: httpx.AsyncClient) -> None:
    body = corridor_rollouts(
        environment={"kind": "gymnasium", "id": "seals/CartPole-v0"}, training_reward=None
    )
    body["trajectories"] = [{"obs": [[0.0, 0.0, 0.0, 0.0]] * 3, "acts": [0, 1]}]
    rollouts = await client.post("/v1/rollouts", json=body)
    assert rollouts.status_code == 201, rollouts.text
    response = await client.post(
        "/v1/inferences", json={"rollouts_id": rollouts.json()["id"], "algorithm": "mce_irl"}
    )
    assert response.status_code == 422
    assert "tabular" in response.json()["detail"]


async def test_cancel_and_delete(client: httpx.AsyncClient, queue: Queue) -> None:
    rollouts_id = await _rollouts(client)
    job = await _infer(client, rollouts_id)
    cancelled = await client.post(f"/v1/inferences/{job['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert queue.drain() == ["skipped"]  # the queued message finds nothing to do
    assert (await client.post(f"/v1/inferences/{job['id']}/cancel")).status_code == 409
    assert (await client.delete(f"/v1/rollouts/{rollouts_id}")).status_code == 409
    assert (await client.delete(f"/v1/inferences/{job['id']}")).status_code == 204
    assert (await client.get(f"/v1/inferences/{job['id']}")).status_code == 404
    assert (await client.delete(f"/v1/rollouts/{rollouts_id}")).status_code == 204


async def test_list_filters(client: httpx.AsyncClient, queue: Queue) -> None:
    first = await _infer(client, await _rollouts(client))
    queue.drain()
    second = await _infer(client, await _rollouts(client, tags={"agent": "b"}))
    ids = lambda r: [i["id"] for i in r.json()["items"]]  # noqa: E731
    assert ids(await client.get("/v1/inferences")) == [second["id"], first["id"]]
    assert ids(await client.get("/v1/inferences", params={"status": "queued"})) == [second["id"]]
    assert ids(await client.get("/v1/inferences", params={"tag": "agent=b"})) == [second["id"]]
    verdict = (await client.get(f"/v1/inferences/{first['id']}")).json()["verdict"]
    assert ids(await client.get("/v1/inferences", params={"verdict": verdict})) == [first["id"]]
    assert (await client.get("/v1/inferences", params={"status": "bogus"})).status_code == 422


async def test_delete_removes_the_reward_weights(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Deleting an inference also deletes its reward's safetensors artifact."""
    job = await _infer(client, await _rollouts(client))
    with unit_of_work(settings) as uow:
        project_id = repository.project_of(uow.session, job["id"])
        artifact_id = artifacts.put(
            uow.session, project_id=project_id, data=b"weights", media_type="application/x-st"
        ).id
        repository.add_reward(
            uow.session,
            job["id"],
            kind="network",
            spec={"kind": "network", "config": {}},
            artifact_id=artifact_id,
        )
    assert (await client.delete(f"/v1/inferences/{job['id']}")).status_code == 204
    with unit_of_work(settings) as uow:
        assert uow.session.get(Artifact, artifact_id) is None


async def test_mce_irl_refuses_short_non_terminal_trajectories(client: httpx.AsyncClient) -> None:
    """The fit check (computed when the rollouts were stored) names the trajectory."""
    body = corridor_rollouts()
    short = {"obs": [0, 0, 0], "acts": [0, 0], "terminal": False}
    if "rews" in body["trajectories"][0]:
        short["rews"] = [0.0, 0.0]
    body["trajectories"].append(short)
    rollouts = await client.post("/v1/rollouts", json=body)
    assert rollouts.status_code == 201, rollouts.text
    response = await client.post(
        "/v1/inferences", json={"rollouts_id": rollouts.json()["id"], "algorithm": "mce_irl"}
    )
    assert response.status_code == 422, response.text
    index = len(body["trajectories"]) - 1
    assert [e["loc"] for e in response.json()["errors"]] == [f"rollouts_id[{index}].acts"]


async def test_the_training_curve_only_when_asked_for(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    job = await _infer(client, await _rollouts(client))
    assert queue.drain() == ["succeeded"]
    polled = (await client.get(f"/v1/inferences/{job['id']}")).json()
    assert polled["curve"] is None and polled["log"]
    full = (await client.get(f"/v1/inferences/{job['id']}", params={"curve": "true"})).json()
    assert full["curve"] and {"iteration", "grad_norm"} <= set(full["curve"][-1])


async def test_a_job_over_the_memory_budget_is_refused_before_it_is_queued(
    settings: Settings, queue: Queue, api_key: str
) -> None:
    """The sparse report's memory estimate is checked at submission: 422 naming the
    environment and the GiB needed, and no inference stored."""
    tight = settings.model_copy(update={"max_job_memory_bytes": 2**20})
    app = create_app(tight, enqueue=queue, queue_check=lambda: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        rollouts_id = await _rollouts(client)
        response = await client.post(
            "/v1/inferences", json={"rollouts_id": rollouts_id, "algorithm": "mce_irl"}
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["loc"] == "environment"
        assert "GiB" in error["msg"] and "MESASCOPE_MAX_JOB_MEMORY_BYTES" in error["msg"]
        assert (await client.get("/v1/inferences")).json()["items"] == []
        assert queue.ids == []
