"""`mesascope probe`'s options, each checked by what it changes: the episodes recorded (seen
through a spy on `record`), what is uploaded and inferred (read back from the app in process),
or which policies and wrappers are accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from typer.testing import CliRunner

from service.client import cli, probe
from service.client.http import MesascopeClient
from tests.service.test_client_probe import client, database_url, settings  # noqa: F401

LAKE = ["--env", "FrozenLake-v1", "--kwargs", '{"is_slippery": false}']


@pytest.fixture(scope="module")
def lake_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained PPO policy for the 4x4 FrozenLake: it samples nearly uniformly."""
    from stable_baselines3 import PPO

    path = tmp_path_factory.mktemp("policies") / "lake.zip"
    PPO("MlpPolicy", gym.make("FrozenLake-v1"), n_steps=64, seed=0, device="cpu").save(path)
    return path


class Probed:
    """What one `probe` invocation did: its exit code and output, rows, and recorded runs."""

    def __init__(self, result: Any, runs: list[probe.Run]) -> None:
        self.result, self.runs = result, runs
        self.rows = json.loads(result.stdout) if result.exit_code == 0 else []

    def episodes(self, index: int = 0) -> list[list[int]]:
        """The state sequences of one instance's recorded episodes."""
        arrays = self.runs[index].arrays
        ends = np.cumsum(arrays.lengths + 1)
        return [part.tolist() for part in np.split(np.asarray(arrays.obs), ends[:-1])]


@pytest.fixture
def run_probe(client: MesascopeClient, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """Invoke `probe --json` against the app in process, keeping the recorded runs."""
    monkeypatch.setattr(cli, "MesascopeClient", lambda: client)
    monkeypatch.setattr(client, "close", lambda: None)
    recorded: list[probe.Run] = []
    real_record = probe.record

    def spy(*args: Any, **kwargs: Any) -> list[probe.Run]:
        runs = real_record(*args, **kwargs)
        recorded[:] = runs
        return runs

    monkeypatch.setattr(probe, "record", spy)

    def invoke(policy: Path, *options: str) -> Probed:
        result = CliRunner().invoke(cli.app, ["probe", "--policy", str(policy), *options, "--json"])
        return Probed(result, list(recorded))

    return invoke


def test_deterministic_repeats_one_episode_and_sampling_does_not(
    run_probe: Any, lake_policy: Path
) -> None:
    sampled = run_probe(lake_policy, *LAKE, "--episodes", "6")
    greedy = run_probe(lake_policy, *LAKE, "--episodes", "6", "--deterministic")
    assert sampled.result.exit_code == 0 == greedy.result.exit_code, sampled.result.output
    assert len({tuple(e) for e in greedy.episodes()}) == 1  # fixed start, greedy policy
    assert len({tuple(e) for e in sampled.episodes()}) > 1


def test_seed_reproduces_the_sampled_episodes_and_seeds_the_inference(
    run_probe: Any,
    client: MesascopeClient,  # noqa: F811
    lake_policy: Path,
) -> None:
    first = run_probe(lake_policy, *LAKE, "--episodes", "6", "--seed", "3")
    again = run_probe(lake_policy, *LAKE, "--episodes", "6", "--seed", "3")
    other = run_probe(lake_policy, *LAKE, "--episodes", "6", "--seed", "4")
    assert first.episodes() == again.episodes() != other.episodes()
    assert client.get_inference(first.rows[0]["inference_id"])["seed"] == 3


def test_tag_training_reward_and_reward_model_reach_the_service(
    run_probe: Any,
    client: MesascopeClient,  # noqa: F811
    lake_policy: Path,
) -> None:
    reward = {"kind": "linear", "weights": {"goal": 1.0, "hole": -1.0}}
    probed = run_probe(
        lake_policy,
        *LAKE,
        "--episodes",
        "2",
        "--tag",
        "agent=ppo-0",
        "--tag",
        "run=7",
        "--training-reward",
        json.dumps(reward),
        "--reward-model",
        "tabular",
    )
    assert probed.result.exit_code == 0, probed.result.output
    (row,) = probed.rows
    stored = client.get_rollouts(row["rollouts_id"])
    assert stored["tags"] == {
        "probe": "FrozenLake-v1",
        "instance": "is_slippery=false",
        "agent": "ppo-0",
        "run": "7",
    }
    assert stored["training_reward"]["weights"] == reward["weights"]
    assert client.get_inference(row["inference_id"])["reward_model"] == "tabular"
    default = run_probe(lake_policy, *LAKE, "--episodes", "2")
    assert client.get_rollouts(default.rows[0]["rollouts_id"])["training_reward"]["kind"] == (
        "tabular"  # the view's reward: FrozenLake's own
    )
    assert client.get_inference(default.rows[0]["inference_id"])["reward_model"] == "linear"


def test_algo_chooses_the_loader(run_probe: Any, tmp_path: Path) -> None:
    from stable_baselines3 import DQN

    DQN("MlpPolicy", gym.make("FrozenLake-v1"), device="cpu").save(tmp_path / "dqn.zip")
    loaded = run_probe(tmp_path / "dqn.zip", *LAKE, "--episodes", "2", "--algo", "dqn")
    assert loaded.result.exit_code == 0, loaded.result.output
    assert loaded.rows[0]["status"] == "succeeded"
    wrong = run_probe(tmp_path / "dqn.zip", *LAKE, "--algo", "ppo")
    assert wrong.result.exit_code == 2 and "cannot read" in wrong.result.output
    unknown = run_probe(tmp_path / "dqn.zip", *LAKE, "--algo", "sac")
    assert (
        unknown.result.exit_code == 2 and "expected one of ppo, a2c, dqn" in unknown.result.output
    )


class Navigation(gym.Wrapper):  # type: ignore[type-arg]
    """A policy trained through this picks only left, right and forward."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.action_space = gym.spaces.Discrete(3)


def minigrid_policy(path: Path, wrapper: Any) -> Path:
    """An untrained PPO policy for Empty-5x5 through `wrapper`, with 3 actions."""
    from stable_baselines3 import PPO

    env = Navigation(wrapper(gym.make("MiniGrid-Empty-5x5-v0")))
    PPO("MlpPolicy", env, n_steps=64, seed=0, device="cpu").save(path)
    return path


def test_observation_picks_the_minigrid_wrapper(
    run_probe: Any,
    client: MesascopeClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    from minigrid.wrappers import FlatObsWrapper

    policy = minigrid_policy(tmp_path / "flat.zip", FlatObsWrapper)
    grid = ["--env", "MiniGrid-Empty-5x5-v0", "--seeds", "0", "--episodes", "1"]
    refused = run_probe(policy, *grid)  # the default wrapper: image
    assert refused.result.exit_code == 2
    assert "the policy expects observations Box(0, 255, (2835,)" in refused.result.output
    flat = run_probe(policy, *grid, "--observation", "flat")
    assert flat.result.exit_code == 0, flat.result.output
    assert flat.rows[0]["status"] == "succeeded"
    assert run_probe(policy, *grid, "--observation", "full").result.exit_code == 2


def test_n_actions_narrows_the_view(
    run_probe: Any,
    client: MesascopeClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    from minigrid.wrappers import ImgObsWrapper

    policy = minigrid_policy(tmp_path / "img.zip", ImgObsWrapper)
    grid = ["--env", "MiniGrid-Empty-5x5-v0", "--seeds", "0", "--episodes", "2"]
    every = run_probe(policy, *grid)
    narrow = run_probe(policy, *grid, "--n-actions", "3")
    assert every.result.exit_code == 0 == narrow.result.exit_code, narrow.result.output
    stored = [client.get_environment(p.rows[0]["environment_id"]) for p in (every, narrow)]
    assert [s["n_actions"] for s in stored] == [7, 3]
    assert every.runs[0].view.n_states == narrow.runs[0].view.n_states == 34
    assert len(narrow.runs[0].view.states) * 7 == len(every.runs[0].view.states) * 3


def test_shifted_env_and_seeds_make_the_test_instances(run_probe: Any, tmp_path: Path) -> None:
    from minigrid.wrappers import ImgObsWrapper

    probed = run_probe(
        minigrid_policy(tmp_path / "img.zip", ImgObsWrapper),
        *["--env", "MiniGrid-Empty-5x5-v0", "--seeds", "0", "--n-actions", "3"],
        *["--shifted-env", "MiniGrid-LavaGapS5-v0", "--shifted-seeds", "2,4"],
        *["--episodes", "1"],
    )
    assert probed.result.exit_code == 0, probed.result.output
    assert [(r["split"], r["family"], r["instance"]) for r in probed.rows] == [
        ("train", "MiniGrid-Empty-5x5-v0", "seed 0"),
        ("test", "MiniGrid-LavaGapS5-v0", "seed 2"),
        ("test", "MiniGrid-LavaGapS5-v0", "seed 4"),
    ]


def test_the_maze_ids_probe_the_maze_suite(run_probe: Any, tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from irl.environments.maze_gym import MazeEnv

    path = tmp_path / "maze.zip"
    PPO("MlpPolicy", MazeEnv(size=3, maze_seed=0), n_steps=64, seed=0, device="cpu").save(path)
    probed = run_probe(
        path,
        *["--env", "mesascope/Maze-train-v0", "--seeds", "0-1", "--kwargs", '{"size": 3}'],
        *["--shifted-env", "mesascope/Maze-test-v0", "--shifted-seeds", "5"],
        *["--episodes", "5"],
    )
    assert probed.result.exit_code == 0, probed.result.output
    assert [(r["split"], r["family"], r["instance"]) for r in probed.rows] == [
        ("train", "mesascope/Maze-train-v0", "seed 0"),
        ("train", "mesascope/Maze-train-v0", "seed 1"),
        ("test", "mesascope/Maze-test-v0", "seed 5"),
    ]
    assert probed.rows[0]["inference_id"] == probed.rows[1]["inference_id"]
    assert all(row["status"] == "succeeded" for row in probed.rows), probed.rows
    bad = run_probe(path, "--env", "mesascope/Maze-train-v0", "--kwargs", '{"colour": 1}')
    assert bad.result.exit_code != 0 and "only `size`" in bad.result.output
