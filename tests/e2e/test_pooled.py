"""A pooled inference through `mesascope serve` and the Python client: two small gridworlds of
different sizes in one rollout set, one fit, the per-environment table (API and dashboard);
then, on the same server, a scripted MiniGrid goal-seeker through `probe` (pooled per split)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from service.client import MesascopeClient
from service.client.probe import probe
from tests.e2e.processes import served
from tests.service.pooled_data import pooled_rollouts
from tests.service.scripted import GoalSeeker, scripted_instances

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_pooled_inference_through_serve(tmp_path: Path) -> None:
    body = pooled_rollouts()
    with served(tmp_path / "data", workers=1, bootstrap_resamples="4") as server:
        with MesascopeClient(server.url, server.key) as client:
            uploaded = client.upload_rollouts(
                body["trajectories"],
                environments=body["environments"],
                name=body["name"],
                training_reward=body["training_reward"],
                bulk=True,
            )
            members = uploaded["statistics"]["environments"]
            assert [m["n_trajectories"] for m in members] == [6, 10]
            job = client.infer(uploaded["id"])
            done = client.wait(job["id"], timeout=120, poll=0.5)
            assert done["status"] == "succeeded", done
            report = client.divergence(job["id"])
        assert [row["name"] for row in report["environments"]] == ["grid-2x3", "grid-3x3"]
        assert all(row["epic"] < 0.3 for row in report["environments"])
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}
        ) as http:
            page = http.get(f"/inferences/{job['id']}")
        assert page.status_code == 200 and "data-environments" in page.text
        probed(server.url, server.key)


def probed(url: str, key: str) -> None:
    """A goal-seeker that keeps its goal on shifted MiniGrid instances generalises, and the
    named goal its actions support is `goal` (a known answer, through the real queue)."""
    instances = scripted_instances("MiniGrid-Empty-5x5-v0", range(2), "train")
    instances += scripted_instances("MiniGrid-LavaGapS5-v0", range(1), "test")
    with MesascopeClient(url, key) as client:
        rows = probe(client, GoalSeeker(), instances, episodes=5, timeout=120)
    assert rows[0]["inference_id"] == rows[1]["inference_id"] != rows[2]["inference_id"]
    for row in rows:
        assert row["status"] == "succeeded", row
        assert row["pooled_verdict"] == "generalises", row["explanation"]
        assert row["goal"] == "goal", row
