"""Ingest throughput: bulk (.npz) and JSON uploads through a real server, against writing the
same arrays to the database directly in one process (the reference, measured in this run).

    .venv/bin/python -m benchmarks.ingest [--bulk 1000000] [--json 100000]

Prints transitions/s for each path, their ratio to the direct write, and the server's peak
memory growth relative to the payload. Targets (issue 6): bulk within 2x of the direct write and
>= 500,000 transitions/s; JSON >= 100,000 transitions/s; peak server memory < 3x the payload.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from irl.io.trajectories import from_npz_bytes
from irl.trajectories import TrajectorySet
from service.client import MesascopeClient, TrajectoryArrays
from service.core import artifacts
from service.core.db import migrate, unit_of_work
from service.core.settings import Settings
from tests.e2e.processes import served

EPISODE = 500
CARTPOLE = {"kind": "gymnasium", "id": "seals/CartPole-v0"}


def cartpole_like(n_transitions: int, seed: int = 0) -> TrajectoryArrays:
    """Random CartPole-shaped data: 4-float observations, binary actions, unit rewards."""
    rng = np.random.default_rng(seed)
    n_traj = max(n_transitions // EPISODE, 1)
    lengths = np.full(n_traj, EPISODE)
    return TrajectoryArrays(
        obs=rng.normal(size=(n_traj * (EPISODE + 1), 4)),
        acts=rng.integers(0, 2, size=n_traj * EPISODE),
        lengths=lengths,
        terminal=np.zeros(n_traj, dtype=bool),
        rews=np.ones(n_traj * EPISODE),
    )


def payload_bytes(data: TrajectoryArrays) -> int:
    """Size of the raw arrays."""
    total = data.obs.nbytes + data.acts.nbytes + data.lengths.nbytes + data.terminal.nbytes
    return total + (0 if data.rews is None else np.asarray(data.rews).nbytes)


def peak_rss(pid: int) -> int:
    """Peak resident memory of a process so far, in bytes (Linux VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def direct_write(data: TrajectoryArrays, settings: Settings) -> float:
    """Seconds to validate and store the same arrays in one process (the reference)."""
    started = time.perf_counter()
    blob = data.to_npz()
    ts: TrajectorySet = from_npz_bytes(blob)
    with unit_of_work(settings) as uow:
        from service.auth.repository import get_or_create_project

        project = get_or_create_project(uow.session, "bench")
        art = artifacts.put(
            uow.session, project_id=project.id, data=blob, media_type="application/x-npz"
        )
        del art, ts
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bulk", type=int, default=1_000_000, help="transitions, bulk path")
    parser.add_argument("--json", type=int, default=100_000, help="transitions, JSON path")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        reference = Settings(data_dir=data_dir / "direct")
        migrate(reference.database_url)
        bulk_data, json_data = cartpole_like(args.bulk), cartpole_like(args.json, seed=1)
        direct = min(direct_write(bulk_data, reference) for _ in range(3))

        with served(data_dir / "bulk", workers=0, max_body_bytes=str(2**30)) as server:
            pid = server.process.popen.pid
            with MesascopeClient(server.url, server.key, timeout=600) as client:
                env_id = client.create_environment(CARTPOLE)["id"]
                # Warm-up: the first bulk request imports the multipart parser and fills caches.
                client.upload_rollouts(
                    cartpole_like(EPISODE), environment={"id": env_id}, name="warm-up", bulk=True
                )
                timings, peaks = [], []
                for _ in range(3):
                    baseline = peak_rss(pid)
                    started = time.perf_counter()
                    client.upload_rollouts(
                        bulk_data, environment={"id": env_id}, name="bulk", bulk=True
                    )
                    timings.append(time.perf_counter() - started)
                    peaks.append(peak_rss(pid) - baseline)
                bulk, bulk_peak = min(timings), peaks[0]
        # JSON on a fresh server, so its memory peak is its own.
        with served(data_dir / "json", workers=0, max_body_bytes=str(2**30)) as server:
            pid = server.process.popen.pid
            with MesascopeClient(server.url, server.key, timeout=600) as client:
                env_id = client.create_environment(CARTPOLE)["id"]
                client.upload_rollouts(
                    cartpole_like(EPISODE), environment={"id": env_id}, name="warm-up", bulk=False
                )
                baseline = peak_rss(pid)
                started = time.perf_counter()
                client.upload_rollouts(
                    json_data, environment={"id": env_id}, name="json", bulk=False
                )
                json_seconds = time.perf_counter() - started
                json_peak = peak_rss(pid) - baseline

    bulk_payload, json_payload = payload_bytes(bulk_data), payload_bytes(json_data)
    print(
        f"machine: {os.cpu_count()} cores; best of 3 for bulk and direct; memory: growth of "
        "the server's peak RSS during the first upload after a small warm-up upload"
    )
    print(
        f"{'path':<8}{'transitions':>13}{'seconds':>10}{'transitions/s':>16}{'vs direct':>11}"
        f"{'peak server MB':>16}{'x payload':>11}"
    )
    print(
        f"{'direct':<8}{args.bulk:>13,}{direct:>10.3f}{args.bulk / direct:>16,.0f}{1.0:>11.2f}"
        f"{'':>16}{'':>11}"
    )
    print(
        f"{'bulk':<8}{args.bulk:>13,}{bulk:>10.3f}{args.bulk / bulk:>16,.0f}"
        f"{bulk / direct:>11.2f}{bulk_peak / 2**20:>16.1f}{bulk_peak / bulk_payload:>11.2f}"
    )
    print(
        f"{'json':<8}{args.json:>13,}{json_seconds:>10.3f}{args.json / json_seconds:>16,.0f}"
        f"{(json_seconds / args.json) / (direct / args.bulk):>11.2f}"
        f"{json_peak / 2**20:>16.1f}{json_peak / json_payload:>11.2f}"
    )


if __name__ == "__main__":
    main()
