"""A deep inference's stored training report: quality signals, and on a maze with a tabular
view the full report of the projected network."""

import re

import httpx

from irl.verdict import VERDICTS
from tests.service.conftest import Queue
from tests.service.test_comparisons import _maze_density_inference
from tests.service.test_dashboard import csrf_of


async def test_maze_inferences_get_full_verdicts_and_seed_spreads(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    """One density job: the projected report and its quality; then n_seeds (validated, and
    a 2-seed job's spread)."""
    rollouts, inference_id = await _maze_density_inference(client, queue)
    report = (await client.get(f"/v1/inferences/{inference_id}/divergence")).json()
    assert report["verdict"] in VERDICTS and report["goal_directedness"] is not None
    assert report["returns"]["normalized_under_training"] is not None
    assert report["hypotheses"]["candidates"]
    assert "tabular view" in report["distance_coverage"]
    quality = report["quality"]
    assert quality["generator_return"] is None  # density has no generator
    assert quality["demo_return"] is not None and quality["epic_standard_error"] > 0
    sampled = await client.get(
        f"/v1/inferences/{inference_id}/divergence", params={"against": "environment"}
    )
    assert sampled.json()["verdict"] == "inconclusive"  # no tabular view on that path
    # Every deep report carries the fit's quality (stored with the inference), its EPIC noise
    # measured against its own reference; the seeds' spread stays in the training report.
    other = sampled.json()["quality"]
    assert other["demo_return"] == quality["demo_return"] and other["seeds"] is None
    assert other["epic_standard_error"] > 0

    for bad in (0, 6, "2"):
        refused = await client.post(
            "/v1/inferences",
            json={"rollouts_id": rollouts["id"], "algorithm": "airl", "params": {"n_seeds": bad}},
        )
        assert refused.status_code == 422, refused.text
        assert [e["loc"] for e in refused.json()["errors"]] == ["params.n_seeds"]
    job = await client.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts["id"],
            "algorithm": "density",
            "params": {"max_kde_points": 60, "n_seeds": 2},
        },
    )
    assert job.status_code == 202 and queue.drain() == ["succeeded"]
    report = (await client.get(f"/v1/inferences/{job.json()['id']}/divergence")).json()
    seeds = report["quality"]["seeds"]
    assert seeds["n_seeds"] == 2 and sum(seeds["verdicts"].values()) == 2
    low, high = seeds["metrics"]["epic"]
    assert low <= report["metrics"]["epic"] <= high
    assert 0 < seeds["between_seeds_epic"] <= 1  # 60 of 144 points drawn per seed
    assert (report["verdict"] == "inconclusive") or len(seeds["verdicts"]) == 1
    page = await client.get(f"/inferences/{job.json()['id']}")
    assert page.text.count("data-seed-range") == sum(
        r is not None for r in seeds["metrics"].values()
    )

    # The dashboard's forms carry n_seeds to deep algorithms, checked like the API's.
    rerun_field = re.search(r'id="rerun-n-seeds"[^>]*value="(\d+)"', page.text)
    assert rerun_field is not None and rerun_field.group(1) == "2"
    token = csrf_of(page.text)
    answer = await client.post(
        f"/rollouts/{rollouts['id']}/infer",
        data={"csrf_token": token, "algorithm": "density", "reward_model": "mlp", "seed": "0",
              "n_seeds": "3"},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    new_id = answer.headers["location"].rsplit("/", 1)[1]
    assert (await client.get(f"/v1/inferences/{new_id}")).json()["params"]["n_seeds"] == 3
    refused = await client.post(
        f"/inferences/{job.json()['id']}/rerun",
        data={"csrf_token": token, "algorithm": "density", "reward_model": "mlp", "seed": "1",
              "n_seeds": "9"},
    )  # fmt: skip
    assert refused.status_code == 422 and "n_seeds" in refused.text
