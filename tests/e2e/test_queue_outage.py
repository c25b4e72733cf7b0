"""Issue 16.3: the queue (Redis) goes down and comes back empty: submits still answer 202,
and the jobs whose messages were lost run within seconds of its return."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import func, select

from service.core.db import unit_of_work
from service.core.models import DivergenceReport, Inference
from service.core.settings import Settings
from tests.e2e.processes import free_port, served, wait_for
from tests.e2e.scenario import expert_rollouts


@contextmanager
def redis_server(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A private, non-persistent redis-server on `port` (never the machine's shared one)."""
    popen = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield popen
    finally:
        popen.kill()
        popen.wait()


def test_submit_during_queue_outage_is_accepted_and_runs_after(tmp_path: Path) -> None:
    port = free_port()
    fast_reaper = {
        "queue_url": f"redis://127.0.0.1:{port}/0",
        "reaper_interval_seconds": "1",
        "bootstrap_resamples": "2",
    }
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    with redis_server(port, redis_dir) as first:
        server_cm = served(tmp_path / "data", workers=1, **fast_reaper)
        server = server_cm.__enter__()
    try:
        assert first.poll() is not None  # the queue is down now
        with server.client() as client:
            rollouts = client.post("/v1/rollouts", json=expert_rollouts(seed=501))
            assert rollouts.status_code == 201, rollouts.text
            body = {"rollouts_id": rollouts.json()["id"], "algorithm": "mce_irl"}
            submitted = [client.post("/v1/inferences", json=body) for _ in range(2)]
            assert [r.status_code for r in submitted] == [202, 202], [r.text for r in submitted]
            ids = [r.json()["id"] for r in submitted]
            assert client.get(f"/v1/inferences/{ids[0]}").json()["status"] == "queued"
            with redis_server(port, redis_dir):  # back, and empty
                back = time.monotonic()
                done = [wait_for(client, job_id, timeout=20) for job_id in ids]
                resumed_in = time.monotonic() - back
        assert [d["status"] for d in done] == ["succeeded", "succeeded"], done
        assert resumed_in < 20
        print(f"\nqueued jobs finished {resumed_in:.1f} s after the queue came back")
        settings = Settings(data_dir=tmp_path / "data")
        with unit_of_work(settings) as uow:
            for job_id in ids:
                row = uow.session.get(Inference, job_id)
                assert row is not None and row.attempts == 1  # run once, not twice
                reports = uow.session.scalar(
                    select(func.count())
                    .select_from(DivergenceReport)
                    .where(DivergenceReport.inference_id == job_id)
                )
                assert reports == 1
    finally:
        server_cm.__exit__(None, None, None)
