"""The end-to-end scenario: an expert for the door in a gridworld, and what IRL should find."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np

from irl.verdict import Thresholds
from tests.e2e.processes import wait_for
from tests.irl.gridworld import gridworld_spec, sample_trajectories

TRAINING_REWARD = {"kind": "linear", "weights": {"door": 1.0}}


def expert_rollouts(seed: int, *, rows: int = 5, cols: int = 5, n: int = 80) -> dict[str, Any]:
    """A rollouts body: soft-optimal door-seekers in a slippery gridworld."""
    spec = gridworld_spec(rows=rows, cols=cols, slip=0.1)
    trajectories = sample_trajectories(spec, n=n, rng=np.random.default_rng(seed))
    return {
        "name": f"door expert (seed {seed})",
        "environment": spec,
        "split": "train",
        "training_reward": TRAINING_REWARD,
        "tags": {"agent": "expert"},
        "trajectories": trajectories,
    }


def run_job(client: httpx.Client, rollouts: dict[str, Any], **inference: Any) -> tuple[dict, float]:
    """Upload, infer, and wait; returns the finished inference and the seconds it took."""
    uploaded = client.post("/v1/rollouts", json=rollouts)
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "rollouts_id": uploaded.json()["id"],
        "algorithm": "mce_irl",
        "reward_model": "linear",
        **inference,
    }
    started = time.monotonic()
    job = client.post("/v1/inferences", json=body)
    assert job.status_code == 202, job.text
    done = wait_for(client, job.json()["id"])
    return done, time.monotonic() - started


def assert_recovers_the_door(client: httpx.Client, done: dict[str, Any]) -> dict[str, Any]:
    """The recovered reward puts the door first and is close to the true reward."""
    assert done["status"] == "succeeded", done
    weights = done["reward"]["feature_weights"]
    assert max(weights, key=weights.__getitem__) == "door", weights
    report: dict[str, Any] = client.get(f"/v1/inferences/{done['id']}/divergence").json()
    # "Small" = clearly on the near side of the verdict's far_epic threshold.
    assert report["metrics"]["epic"] < Thresholds().far_epic / 2, report
    return report
