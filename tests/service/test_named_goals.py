"""Named-goal hypotheses through the API: in the divergence report and on demand."""

from __future__ import annotations

import httpx

from tests.service.conftest import Queue
from tests.service.data import corridor_rollouts


async def _finished(client: httpx.AsyncClient, queue: Queue) -> str:
    response = await client.post("/v1/rollouts", json=corridor_rollouts())
    assert response.status_code == 201, response.text
    body = {"rollouts_id": response.json()["id"], "algorithm": "mce_irl", "reward_model": "linear"}
    job = await client.post("/v1/inferences", json=body)
    assert job.status_code == 202, job.text
    assert queue.drain() == ["succeeded"]
    return str(job.json()["id"])


async def test_the_training_report_names_the_pursued_goal(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    inference_id = await _finished(client, queue)
    report = (await client.get(f"/v1/inferences/{inference_id}/divergence")).json()
    hypotheses = report["hypotheses"]
    names = [c["name"] for c in hypotheses["candidates"]]
    assert "goal" in names and "lamp" in names
    assert hypotheses["best"] == "goal" and hypotheses["best_posterior"] > 0.95
    assert abs(sum(c["posterior"] for c in hypotheses["candidates"]) - 1.0) < 1e-9
    assert report["goal_directedness"]["behaviour"] == "goal_directed"


async def test_goals_on_demand_with_a_named_candidate(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    inference_id = await _finished(client, queue)
    response = await client.post(
        f"/v1/inferences/{inference_id}/goals",
        json={
            "goals": {"lamp-lover": {"kind": "linear", "weights": {"lamp": 2.0}}},
            "feature_goals": False,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inference_id"] == inference_id
    assert [c["name"] for c in body["candidates"]][-1] == "lamp-lover"
    assert body["candidates"][0]["training"]
    bad = await client.post(
        f"/v1/inferences/{inference_id}/goals",
        json={"goals": {"x": {"kind": "linear", "weights": {"nope": 1.0}}}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"].startswith("goals.x")


async def test_divergence_with_named_goals(client: httpx.AsyncClient, queue: Queue) -> None:
    inference_id = await _finished(client, queue)
    response = await client.post(
        f"/v1/inferences/{inference_id}/divergence",
        json={
            "against": {"kind": "linear", "weights": {"lamp": 1.0}},
            "goals": {"the goal": {"kind": "linear", "weights": {"goal": 1.0}}},
        },
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["hypotheses"]["best"] == "the goal"
    assert "`the goal`" in report["explanation"]
