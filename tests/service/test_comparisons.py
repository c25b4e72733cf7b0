"""POST /v1/comparisons: EPIC under each coverage, and every reward-spec kind."""

from __future__ import annotations

import httpx
import pytest

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
