"""POST /v1/comparisons: EPIC under each coverage, and every reward-spec kind."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from irl.agents import gym_trajectories
from irl.environments.maze import generate_maze
from tests.service.conftest import Queue
from tests.service.data import corridor_environment, corridor_rollouts

GOAL = {"kind": "linear", "weights": {"goal": 1.0}}


@pytest.mark.parametrize("coverage", ["uniform", "transitions"])
async def test_shaped_and_rescaled_rewards_are_at_zero(
    client: httpx.AsyncClient, coverage: str
) -> None:
    # R'(s) = 3 * goal(s) + 2: a positive rescaling plus a constant (a potential shaping when
    # the horizon is fixed).
    scaled = {"kind": "linear", "weights": {"goal": 3.0}, "bias": 2.0}
    response = await client.post(
        "/v1/comparisons",
        json={"environment": corridor_environment(), "a": GOAL, "b": scaled, "coverage": coverage},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    for metric in ("epic", "dard", "starc", "regret"):
        assert body[metric] == pytest.approx(0.0, abs=1e-6), metric
    assert body["pearson"] is None  # only defined on visited transitions


async def test_negation_is_at_one(client: httpx.AsyncClient) -> None:
    negated = {"kind": "linear", "weights": {"goal": -1.0}}
    response = await client.post(
        "/v1/comparisons", json={"environment": corridor_environment(), "a": GOAL, "b": negated}
    )
    body = response.json()
    for metric in ("epic", "dard", "starc", "regret"):
        assert body[metric] == pytest.approx(1.0, abs=1e-6), metric


async def test_tabular_environment_reference_and_rollout_coverage(
    client: httpx.AsyncClient,
) -> None:
    rollouts = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    env = {"id": rollouts["environment_id"]}
    tabular = {"kind": "tabular", "values": [0, 0, 0, 0, 0, 0, 1]}
    response = await client.post(
        "/v1/comparisons",
        json={
            "environment": env,
            "a": GOAL,
            "b": tabular,
            "coverage": {"rollouts_id": rollouts["id"]},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["epic"] == pytest.approx(0.0, abs=1e-6)
    assert response.json()["pearson"] == pytest.approx(0.0, abs=1e-6)
    assert response.json()["coverage"] == f"rollouts:{rollouts['id']}"


async def test_bad_comparisons(client: httpx.AsyncClient) -> None:
    env = corridor_environment()
    cases = [
        ({"environment": env, "a": GOAL, "b": {"kind": "tabular", "values": [1, 2]}}, "b.values"),
        ({"environment": env, "a": {"kind": "weird"}, "b": GOAL}, "a.kind"),
        ({"environment": env, "a": GOAL, "b": {"kind": "environment"}}, "b"),
        ({"environment": env, "a": GOAL, "b": {"kind": "inference", "id": "inf_x"}}, "b.id"),
        ({"environment": env, "a": GOAL, "b": GOAL, "coverage": "everything"}, "coverage"),
    ]
    for body, loc in cases:
        response = await client.post("/v1/comparisons", json=body)
        assert response.status_code == 422, (body, response.text)
        assert any(e["loc"].startswith(loc) for e in response.json()["errors"]), response.text


async def _maze_density_inference(client: httpx.AsyncClient, queue: Queue) -> tuple[dict, str]:
    """Door-seeker rollouts in one maze's gymnasium view and a (fast) density reward of them."""
    from tests.e2e.test_deep_irl import maze_episodes

    env, trajectories, _ = maze_episodes(4, 3)
    rollouts = await client.post(
        "/v1/rollouts",
        json={
            "name": "maze",
            "environment": env,
            "training_reward": {"kind": "environment"},
            "trajectories": trajectories,
        },
    )
    assert rollouts.status_code == 201, rollouts.text
    job = await client.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts.json()["id"],
            "algorithm": "density",
            "seed": 0,
            "params": {"max_kde_points": 100},
        },
    )
    assert job.status_code == 202, job.text
    assert queue.drain() == ["succeeded"]
    return rollouts.json(), job.json()["id"]


async def test_network_rewards_compare_by_sampling(client: httpx.AsyncClient, queue: Queue) -> None:
    rollouts, inference_id = await _maze_density_inference(client, queue)
    inferred = {"kind": "inference", "id": inference_id}
    request = {
        "environment": {"id": rollouts["environment_id"]},
        "a": inferred,
        "b": {"kind": "environment"},
        "coverage": {"rollouts_id": rollouts["id"]},
    }
    response = await client.post("/v1/comparisons", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    # Same samples (seed 0) and discount (the deep IRL default) as the job's sampled report
    # against the environment's reward (its training report is the projection's exact one).
    report = (
        await client.get(
            f"/v1/inferences/{inference_id}/divergence", params={"against": "environment"}
        )
    ).json()
    assert body["epic"] == pytest.approx(report["metrics"]["epic"])
    assert body["dard"] == pytest.approx(report["metrics"]["dard"])  # maze dynamics are known
    assert body["pearson"] == pytest.approx(report["metrics"]["pearson"])
    assert body["starc"] is None and body["regret"] is None
    assert body["coverage"] == f"rollouts:{rollouts['id']}"
    itself = await client.post("/v1/comparisons", json={**request, "b": inferred})
    assert itself.json()["epic"] == pytest.approx(0.0, abs=1e-6)
    assert itself.json()["dard"] == pytest.approx(0.0, abs=1e-6)


async def test_network_comparison_errors_name_the_field(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    rollouts, inference_id = await _maze_density_inference(client, queue)
    corridor = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    bigger = generate_maze(size=4, distribution="train", seed=0)
    larger = await client.post(
        "/v1/rollouts",
        json={
            "name": "4x4 maze",
            "environment": {
                "kind": "gymnasium",
                "id": "mesascope/Maze-train-v0",
                "kwargs": {"maze_seed": 0, "size": 4},
            },
            "trajectories": gym_trajectories(
                bigger, agent="door_seeker", n=1, rng=np.random.default_rng(0)
            ),
        },
    )
    assert larger.status_code == 201, larger.text
    base = {
        "environment": {"id": rollouts["environment_id"]},
        "a": {"kind": "inference", "id": inference_id},
        "b": {"kind": "environment"},
        "coverage": {"rollouts_id": rollouts["id"]},
    }
    cases = [
        ({"coverage": "transitions"}, "coverage", "rollouts_id"),
        ({"b": GOAL}, "b", "network `inference`"),
        ({"coverage": {"rollouts_id": corridor["id"]}}, "coverage.rollouts_id", "not of"),
        ({"b": {"kind": "inference", "id": "inf_missing"}}, "b.id", "unknown inference"),
        # Same gymnasium id, larger mazes: the 3x3 network cannot read their images.
        ({"coverage": {"rollouts_id": larger.json()["id"]}}, "a.id", "observations of 245"),
    ]
    for change, loc, message in cases:
        response = await client.post("/v1/comparisons", json={**base, **change})
        assert response.status_code == 422, (change, response.text)
        (error,) = response.json()["errors"]
        assert error["loc"] == loc and message in error["msg"], error
