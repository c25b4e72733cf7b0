"""`mesascope serve` and `mesascope worker` as real processes: the embedded default, the
multi-machine mode (PostgreSQL + Redis), and a worker killed mid-job."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from service.core.db import unit_of_work
from service.core.models import DivergenceReport, Inference, InferredReward
from service.core.settings import Settings
from tests.e2e.processes import cluster, mesascope_env, run, served, wait_for
from tests.e2e.scenario import assert_recovers_the_door, expert_rollouts, run_job

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_serve_embedded_default(tmp_path: Path) -> None:
    """SQLite + Huey SQLite, two workers beside the API, from an empty data directory."""
    with served(tmp_path, workers=2) as server, server.client() as client:
        assert f"listening on {server.url}" in server.process.log()
        done, seconds = run_job(client, expert_rollouts(seed=101))
        report = assert_recovers_the_door(client, done)
        print(f"\nembedded: job took {seconds:.1f} s; epic {report['metrics']['epic']:.3f}")
        _cancel_a_running_job(client, tmp_path)
    assert (tmp_path / "mesascope.db").exists() and (tmp_path / "queue.db").exists()


def _cancel_a_running_job(client: httpx.Client, data_dir: Path) -> None:
    """A running job stops within seconds of `POST /cancel`."""
    body = expert_rollouts(seed=104, rows=8, cols=8)
    rollouts_id = client.post("/v1/rollouts", json=body).json()["id"]
    params = {"max_iter": 100_000, "linf_eps": 0, "grad_l2_eps": 0, "solver": "imitation"}
    job = client.post(
        "/v1/inferences",
        json={"rollouts_id": rollouts_id, "algorithm": "mce_irl", "params": params},
    ).json()
    while _lease_owner_pid(Settings(data_dir=data_dir), job["id"], 0.0) is None:
        time.sleep(0.1)
    asked = time.monotonic()
    assert client.post(f"/v1/inferences/{job['id']}/cancel").status_code == 202
    done = wait_for(client, job["id"], timeout=30)
    stopped_after = time.monotonic() - asked
    assert done["status"] == "cancelled", done
    assert stopped_after < 10, stopped_after
    print(f"cancelled a running job in {stopped_after:.1f} s")


def test_postgres_and_redis_with_two_workers(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """The multi-machine layout: API without workers, two `mesascope worker` processes."""
    env = mesascope_env(tmp_path, database_url=postgres_url, queue_url=redis_url)
    key = run(["keys", "create", "--name", "e2e", "--project", "e2e"], env).strip()
    assert re.fullmatch(r"msk_[\w-]+", key), key
    with cluster(env, tmp_path, workers=2) as url, _client(url, key) as client:
        results = [run_job(client, expert_rollouts(seed=seed)) for seed in (202, 203)]
        for done, seconds in results:
            report = assert_recovers_the_door(client, done)
            print(
                f"\npostgres+redis: job took {seconds:.1f} s; epic {report['metrics']['epic']:.3f}"
            )


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _lease_owner_pid(
    settings: Settings, inference_id: str, min_progress: float = 0.05
) -> int | None:
    """The pid of the worker running the job once it has made some progress, else None."""
    with unit_of_work(settings) as uow:
        row = uow.session.get(Inference, inference_id)
        assert row is not None
        if row.status != "running" or not row.lease_owner or row.progress < min_progress:
            return None
        return int(row.lease_owner.rsplit(":", 1)[1])


def test_killed_worker_loses_no_job(tmp_path: Path) -> None:
    """SIGKILL the worker process holding a running job: it is re-run and succeeds once."""
    # Short leases so the reaper notices the dead worker fast; few bootstrap refits because
    # the job is made deliberately slow (fixed iterations) and the report is not under test.
    short_leases = {
        "lease_seconds": "2",
        "reaper_interval_seconds": "0.5",
        "bootstrap_resamples": "2",
    }
    env = mesascope_env(tmp_path, **short_leases)
    settings = Settings(data_dir=tmp_path)
    key = run(["keys", "create", "--name", "fault"], env).strip()
    with cluster(env, tmp_path, workers=2) as url, _client(url, key) as client:
        rollouts = client.post("/v1/rollouts", json=expert_rollouts(seed=303, rows=8, cols=8))
        assert rollouts.status_code == 201, rollouts.text
        # A fixed amount of work (no early stop) so the job is still running when killed.
        params = {"max_iter": 1500, "linf_eps": 0, "grad_l2_eps": 0, "solver": "imitation"}
        job = client.post(
            "/v1/inferences",
            json={
                "rollouts_id": rollouts.json()["id"],
                "algorithm": "mce_irl",
                "params": params,
            },
        ).json()
        deadline = time.monotonic() + 120
        while (pid := _lease_owner_pid(settings, job["id"])) is None:
            assert time.monotonic() < deadline, "job never started running"
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        done = wait_for(client, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    with unit_of_work(settings) as uow:
        row = uow.session.get(Inference, job["id"])
        assert row is not None and row.lease_owner is not None
        assert not row.lease_owner.endswith(f":{pid}")
        rewards = uow.session.scalar(
            select(func.count())
            .select_from(InferredReward)
            .where(InferredReward.inference_id == job["id"])
        )
        reports = uow.session.scalar(
            select(func.count())
            .select_from(DivergenceReport)
            .where(DivergenceReport.inference_id == job["id"])
        )
    assert (rewards, reports) == (1, 1)
