"""Issue 17.5: `serve` supervises its process tree. A killed worker consumer is restarted and
its job re-run (the reaper lives in the API process too); killing `serve` takes every worker
process with it; `/readyz` says when no worker is alive."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sqlalchemy import select

from service.core.db import unit_of_work
from service.core.models import Inference, WorkerHeartbeat
from service.core.settings import Settings
from tests.e2e.processes import served, wait_for
from tests.e2e.scenario import expert_rollouts

FAST = {
    "lease_seconds": "2",
    "reaper_interval_seconds": "0.5",
    "heartbeat_seconds": "0.5",
    "worker_stale_seconds": "3",
    "bootstrap_resamples": "2",
}


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _children(pid: int) -> set[int]:
    """The live processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            try:
                if _parent(int(entry.name)) == pid:
                    found.add(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def _wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _running_job_pid(settings: Settings, job_id: str) -> int | None:
    with unit_of_work(settings) as uow:
        row = uow.session.get(Inference, job_id)
        assert row is not None
        if row.status != "running" or not row.lease_owner or row.progress < 0.05:
            return None
        return int(row.lease_owner.rsplit(":", 1)[1])


def _heartbeat_pids(settings: Settings) -> set[int]:
    with unit_of_work(settings) as uow:
        return set(uow.session.scalars(select(WorkerHeartbeat.pid)))


def test_killed_consumer_is_restarted_and_serve_takes_its_tree_along(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with served(tmp_path, workers=1, **FAST) as server, server.client() as client:
        rollouts = client.post("/v1/rollouts", json=expert_rollouts(seed=606, rows=8, cols=8))
        assert rollouts.status_code == 201, rollouts.text
        params = {"max_iter": 1500, "linf_eps": 0, "grad_l2_eps": 0, "solver": "imitation"}
        job = client.post(
            "/v1/inferences",
            json={"rollouts_id": rollouts.json()["id"], "algorithm": "mce_irl", "params": params},
        ).json()
        _wait_until(lambda: _running_job_pid(settings, job["id"]), 120, "job never ran")
        job_pid = _running_job_pid(settings, job["id"])
        assert job_pid is not None
        consumer = _parent(job_pid)
        children = _children(consumer)  # the worker running the job, and huey's scheduler
        assert job_pid in children and len(children) >= 2, children
        os.kill(consumer, signal.SIGKILL)
        # Every process the consumer forked dies with it (no orphan) ...
        _wait_until(
            lambda: not any(_alive(pid) for pid in children), 5, "a child outlived its consumer"
        )
        # ... a new consumer starts and beats ...
        _wait_until(
            lambda: _heartbeat_pids(settings) - {consumer}, 60, "consumer was not restarted"
        )
        # ... and the job is reaped and re-run once.
        done = wait_for(client, job["id"], timeout=180)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2
        assert client.get("/readyz").status_code == 200
        new_consumer = max(_heartbeat_pids(settings) - {consumer})
        assert _alive(new_consumer)
        server.process.popen.send_signal(signal.SIGKILL)
        server.process.popen.wait()
        _wait_until(lambda: not _alive(new_consumer), 5, "consumer outlived serve (orphan)")


def test_readyz_reports_no_live_worker(tmp_path: Path) -> None:
    with served(tmp_path, workers=0, **FAST) as server:
        response = server.client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"].startswith("error: no worker heartbeat"), body
    assert body["workers_alive"] == 0
