"""Verdicts at scale through the service: open side x side gridworlds (benchmarks.mce_irl: 5
actions, horizon 2 * side, door reward), 50 soft-optimal expert trajectories, linear MCE IRL
with the service's default 20 bootstrap refits, through a real `mesascope serve` (API and one
worker, embedded SQLite and Huey).

For each size it prints: the environment and rollout uploads' seconds, the job's seconds from
submission to `succeeded` (fit, report, bootstrap), the total, the verdict, and the peak of the
serve process tree's summed resident memory (sampled every 0.2 s).

    .venv/bin/python -m benchmarks.scale [--sides 100 316] [--timeout 1800]

Targets (issue 11): 10^5 states end to end in under 2 minutes and under 4 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.mce_irl import TRUE_REWARD, expert_trajectories, open_gridworld
from irl.rewards import reward_to_spec
from service.client import MesascopeClient, TrajectoryArrays
from tests.e2e.processes import served

N_TRAJECTORIES = 50


def tree_rss(pid: int) -> int:
    """Summed resident memory of a process and its descendants, in bytes."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        pending.extend(int(child) for child in children)
    return total


class PeakMemory:
    """Samples tree_rss(pid) in a thread until stopped; `peak` is the largest sample."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_size(client: MesascopeClient, pid: int, side: int, timeout: float) -> str:
    """Upload, infer and wait for one size; the table row."""
    mdp = open_gridworld(side)
    ts = expert_trajectories(mdp, n=N_TRAJECTORIES, rng=np.random.default_rng(side))
    arrays = TrajectoryArrays(obs=ts.obs, acts=ts.acts, lengths=ts.lengths, terminal=ts.terminal)
    memory = PeakMemory(pid)
    start = time.perf_counter()
    environment = client.create_environment(mdp.to_spec())
    rollouts = client.upload_rollouts(
        arrays,
        environment={"id": environment["id"]},
        name=f"open-{side}",
        training_reward=reward_to_spec(TRUE_REWARD),
    )
    uploaded = time.perf_counter()
    job = client.infer(rollouts["id"])
    done = client.wait(job["id"], timeout=timeout, poll=0.5)
    finished = time.perf_counter()
    peak = memory.stop()
    verdict = done.get("verdict") or done["status"]
    return (
        f"| open {side}×{side} | {mdp.n_states:,} | {mdp.horizon} | {uploaded - start:6.1f} "
        f"| {finished - uploaded:7.1f} | {finished - start:7.1f} | {verdict} "
        f"| {peak / 2**30:5.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="*", default=[100, 316])
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs")
    print("| environment | states | H | upload s | job s | total s | verdict | peak GiB |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    with tempfile.TemporaryDirectory() as tmp, served(Path(tmp), workers=1) as server:
        client = MesascopeClient(server.url, api_key=server.key, timeout=600)
        for side in args.sides:
            print(run_size(client, server.process.popen.pid, side, args.timeout), flush=True)


if __name__ == "__main__":
    main()
