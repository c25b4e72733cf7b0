"""A pooled inference through `mesascope serve` and the Python client: two small gridworlds of
different sizes in one rollout set, one fit, the per-environment table (API and dashboard)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from service.client import MesascopeClient
from tests.e2e.processes import served
from tests.service.pooled_data import pooled_rollouts

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
