"""Deep IRL through a real server: AIRL on seals/CartPole-v0 end to end, its reward network
stored as safetensors and served back bit for bit, and a running job cancelled within seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import httpx
import numpy as np
import pytest
import seals  # noqa: F401  (registers seals/*)

from irl.agents import gym_trajectories
from irl.environments import generate_maze
from irl.rewards_net import NetworkReward
from tests.e2e.processes import served, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ENV_ID = "seals/CartPole-v0"


def scripted_episodes(
    env_id: str, policy: Callable[[np.ndarray], Any], n: int, seed: int, *, rewards: bool = False
) -> list[dict]:
    """n episodes (reset seeds seed, seed + 1, ...) of a scripted policy of the observation,
    with the recorded rewards when `rewards`."""
    env = gym.make(env_id)
    episodes = []
    for episode in range(n):
        obs, _ = env.reset(seed=seed + episode)
        observations, actions, recorded = [obs.tolist()], [], []
        done = False
        while not done:
            action = policy(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs.tolist())
            actions.append(action.tolist() if isinstance(action, np.ndarray) else action)
            recorded.append(float(reward))
            done = terminated or truncated
        episode_dict = {"obs": observations, "acts": actions, "terminal": bool(terminated)}
        episodes.append({**episode_dict, "rews": recorded} if rewards else episode_dict)
    env.close()
    return episodes


def balancing_episodes(n: int, seed: int) -> list[dict]:
    """A scripted controller that pushes the cart towards the pole's lean (a competent expert)."""
    return scripted_episodes(
        ENV_ID, lambda obs: int(obs[2] + 0.5 * obs[3] > 0), n, seed, rewards=True
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp("deep")
    with served(data_dir, workers=1) as server, server.client() as client:
        yield client


def _rollouts(api: httpx.Client) -> str:
    body = {
        "name": "balancer",
        "environment": {"kind": "gymnasium", "id": ENV_ID},
        "training_reward": {"kind": "environment"},
        "trajectories": balancing_episodes(4, 0),
    }
    response = api.post("/v1/rollouts", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_airl_on_cartpole_end_to_end(api: httpx.Client) -> None:
    rollouts_id = _rollouts(api)
    job = api.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts_id,
            "algorithm": "airl",
            "seed": 1,
            "params": {
                "total_timesteps": 2048,
                "n_envs": 2,
                "gen_n_steps": 256,
                "n_eval_episodes": 2,
            },
        },
    )
    assert job.status_code == 202, job.text
    done = wait_for(api, job.json()["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert done["reward_model"] == "mlp" and done["reward"]["kind"] == "network"

    spec = api.get(f"/v1/inferences/{done['id']}/reward").json()
    assert spec["kind"] == "network" and spec["algorithm"] == "airl"
    weights = api.get(spec["weights_url"])
    assert weights.status_code == 200
    assert weights.headers["content-type"] == "application/octet-stream"
    network = NetworkReward.from_safetensors(weights.content, spec["config"])
    assert network.to_safetensors() == weights.content  # bit-for-bit round trip
    obs = np.zeros((3, 4))
    assert network(obs, np.array([0, 1, 0]), obs).shape == (3,)

    report = api.get(f"/v1/inferences/{done['id']}/divergence").json()
    assert 0 <= report["metrics"]["epic"] <= 1
    assert 0 <= report["metrics"]["dard"] <= 1  # CartPole's dynamics are known
    assert report["verdict"] == "inconclusive" and "gymnasium" in report["explanation"]
    observed = api.get(f"/v1/inferences/{done['id']}/divergence", params={"against": "observed"})
    assert observed.status_code == 200 and observed.json()["metrics"]["epic"] is None


def mountain_car_episodes(n: int, seed: int) -> list[dict]:
    """Push in the direction of motion: pumps energy until the car reaches the flag."""
    return scripted_episodes("seals/MountainCar-v0", lambda obs: 2 if obs[1] >= 0 else 0, n, seed)


def maze_episodes(n: int, seed: int) -> tuple[dict, list[dict], int]:
    """A scripted door-seeker in one fixed maze, through the maze's gymnasium view."""
    maze = generate_maze(size=3, distribution="train", seed=seed)
    trajectories = gym_trajectories(maze, agent="door_seeker", n=n, rng=np.random.default_rng(seed))
    env = {
        "kind": "gymnasium",
        "id": "mesascope/Maze-train-v0",
        "kwargs": {"maze_seed": seed, "size": 3},
    }
    return env, trajectories, maze.horizon


@pytest.mark.parametrize("case", ["mountain_car", "maze"])
def test_deep_irl_on_other_environments(api: httpx.Client, case: str) -> None:
    if case == "mountain_car":
        env: dict = {"kind": "gymnasium", "id": "seals/MountainCar-v0"}
        trajectories, extra = mountain_car_episodes(4, 0), {}
    else:  # no params.horizon: deep IRL reads the maze env's own horizon
        env, trajectories, _ = maze_episodes(8, 5)
        extra = {}
    rollouts = api.post(
        "/v1/rollouts",
        json={
            "name": case,
            "environment": env,
            "training_reward": {"kind": "environment"},
            "trajectories": trajectories,
        },
    )
    assert rollouts.status_code == 201, rollouts.text
    job = api.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts.json()["id"],
            "algorithm": "gail",
            "params": {
                "total_timesteps": 1024,
                "n_envs": 2,
                "gen_n_steps": 128,
                "demo_batch_size": 64,
                "n_eval_episodes": 2,
                **extra,
            },
        },
    )
    assert job.status_code == 202, job.text
    done = wait_for(api, job.json()["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    assert api.get(f"/v1/inferences/{done['id']}/reward/weights").status_code == 200
    # Both environments' rewards and dynamics are known: sampled EPIC and DARD are reported.
    metrics = api.get(f"/v1/inferences/{done['id']}/divergence").json()["metrics"]
    assert 0 <= metrics["epic"] <= 1 and 0 <= metrics["dard"] <= 1, metrics


def test_bad_deep_submissions(api: httpx.Client) -> None:
    rollouts_id = _rollouts(api)
    cases = [
        ({"algorithm": "airl", "reward_model": "linear"}, "reward_model"),
        ({"algorithm": "gail", "params": {"total_timesteps": 0}}, "params.total_timesteps"),
        ({"algorithm": "airl", "params": {"colour": 1}}, "params.colour"),
    ]
    for fields, loc in cases:
        response = api.post("/v1/inferences", json={"rollouts_id": rollouts_id, **fields})
        assert response.status_code == 422, response.text
        assert any(e["loc"].startswith(loc) for e in response.json()["errors"]), response.text


def test_cancel_a_running_deep_job(api: httpx.Client) -> None:
    rollouts_id = _rollouts(api)
    job = api.post(
        "/v1/inferences",
        json={
            "rollouts_id": rollouts_id,
            "algorithm": "gail",
            "params": {"total_timesteps": 2_000_000, "n_envs": 2, "gen_n_steps": 128},
        },
    ).json()
    wait_for(api, job["id"], timeout=120, until=("running",))
    time.sleep(2)  # let it get into training
    asked = time.monotonic()
    assert api.post(f"/v1/inferences/{job['id']}/cancel").status_code == 202
    done = wait_for(api, job["id"], timeout=60)
    assert done["status"] == "cancelled", done
    assert time.monotonic() - asked < 15
    print(f"\ncancelled a running GAIL job in {time.monotonic() - asked:.1f} s")
