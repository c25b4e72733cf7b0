"""Service overhead of deep IRL: an AIRL job through a real server (submit -> succeeded, as the
client sees it) against the same `deep_irl` call run directly in one process, same seed, budget
and data; the direct run is the reference measured in this run.

    .venv/bin/python -m benchmarks.deep_irl [--timesteps 50000] [--repeat 2]

Target (issue 4): service overhead under 5%. The service's time includes queueing, loading the
rollouts, storing the safetensors weights and the sampled divergence report.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from irl.algorithms.deep import deep_irl
from irl.algorithms.deep_params import validate_deep_params
from irl.io.trajectories import parse_trajectories
from tests.e2e.processes import served, wait_for
from tests.e2e.test_deep_irl import ENV_ID, balancing_episodes


def direct(trajectories: list[dict], params: dict, seed: int) -> float:
    """Seconds for the same deep_irl call in this process (one torch thread, like a worker)."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    deep_irl(
        algorithm="airl",
        env=ENV_ID,
        trajectories=parse_trajectories(trajectories),
        rng=np.random.default_rng(seed),
        params=validate_deep_params(params, algorithm="airl"),
    )
    return time.perf_counter() - started


def interleaved(
    trajectories: list[dict], params: dict, seed: int, repeat: int
) -> tuple[list[float], list[float]]:
    """Alternate direct runs and service jobs (so both see the same machine load); returns the
    direct seconds and the service seconds (POST /v1/inferences to status succeeded)."""
    direct_times: list[float] = []
    service_times: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        served(Path(tmp), workers=1) as server,
        server.client(timeout=120) as client,
    ):
        rollouts_id = client.post(
            "/v1/rollouts",
            json={
                "name": "balancer",
                "environment": {"kind": "gymnasium", "id": ENV_ID},
                "training_reward": {"kind": "environment"},
                "trajectories": trajectories,
            },
        ).json()["id"]
        for _ in range(repeat):
            direct_times.append(direct(trajectories, params, seed))
            started = time.perf_counter()
            job = client.post(
                "/v1/inferences",
                json={
                    "rollouts_id": rollouts_id,
                    "algorithm": "airl",
                    "seed": seed,
                    "params": params,
                },
            ).json()
            done = wait_for(client, job["id"], timeout=3600, interval=0.02)
            assert done["status"] == "succeeded", done["error"]
            service_times.append(time.perf_counter() - started)
    return direct_times, service_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    trajectories = balancing_episodes(8, 0)
    params = {"total_timesteps": args.timesteps, "n_envs": 4, "gen_n_steps": 256}
    direct(trajectories, {**params, "total_timesteps": 1024}, args.seed)  # warm-up (imports)
    direct_times, service_times = interleaved(trajectories, params, args.seed, args.repeat)
    best_direct, best_service = min(direct_times), min(service_times)
    print(
        f"AIRL on {ENV_ID}, {args.timesteps} timesteps, {len(trajectories)} demonstrations; "
        f"{os.cpu_count()} cores; best of {args.repeat}"
    )
    print(f"{'run':<10}{'seconds':>10}")
    print(f"{'direct':<10}{best_direct:>10.2f}")
    print(f"{'service':<10}{best_service:>10.2f}")
    print(f"service overhead: {best_service / best_direct - 1:+.1%} (target < 5%)")


if __name__ == "__main__":
    main()
