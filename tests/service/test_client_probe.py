"""`mesascope probe` end to end against the app in process: a scripted MiniGrid agent with a
known goal gets its verdict through the SDK, and a small PPO policy trained here goes
through the command line; the client package stays light to import."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from irl.environments.maze import MOVES
from service.app import create_app
from service.client import cli
from service.client.http import MesascopeClient
from service.client.probe import (
    check_observations,
    collect,
    maze_instances,
    minigrid_instances,
    parse_seeds,
    record,
    result_row,
    submit,
)
from service.client.tabular import TabulariseError
from service.core.db import migrate
from service.core.settings import Settings
from service.inferences import jobs
from tests.service.conftest import new_key
from tests.service.scripted import GoalSeeker, scripted_instances

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite database for this module (the probe is the client's business: the
    backends are covered elsewhere)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('probe-db') / 'mesascope.db'}"
    migrate(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        bootstrap_resamples=0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[MesascopeClient]:
    """The Python client on the app in process; inferences run as they are queued."""
    app = create_app(
        settings, enqueue=lambda job: jobs.run(job, settings), queue_check=lambda: None
    )
    key = new_key(settings)
    mesascope = MesascopeClient("http://test", key)
    mesascope.http = TestClient(
        app, base_url="http://test", headers={"Authorization": f"Bearer {key}"}
    )
    with mesascope:
        yield mesascope


def test_a_scripted_goal_seeker_generalises_on_minigrid(client: MesascopeClient) -> None:
    instances = scripted_instances("MiniGrid-Empty-5x5-v0", range(2), "train")
    instances += scripted_instances("MiniGrid-LavaGapS5-v0", range(1), "test")
    runs = record(GoalSeeker(), instances, episodes=5)
    assert [run.view.feature_names for run in runs[:1]] == [runs[-1].view.feature_names]
    assert "lava" in runs[0].view.feature_names  # one vocabulary for the whole probe
    submit(client, runs, tags={"agent": "goal-seeker"})
    collect(client, runs, poll=0.01)
    rows = [result_row(run, client.url) for run in runs]
    for row in rows:
        assert row["status"] == "succeeded", row
        assert row["success_rate"] == 1.0
        assert row["verdict"] == "generalises", row["explanation"]
        assert row["feature_weights"]["goal"] > 0
        assert row["dashboard"] == f"http://test/inferences/{row['inference_id']}"
    stored = client.get_rollouts(rows[2]["rollouts_id"])
    assert stored["split"] == "test" and stored["tags"]["probe"] == "MiniGrid-LavaGapS5-v0"
    # One pooled rollout set and inference per family and split; a row per instance.
    assert rows[0]["inference_id"] == rows[1]["inference_id"] != rows[2]["inference_id"]
    assert [run.environment_index for run in runs] == [0, 1, 0]
    assert len(runs[0].report["environments"]) == 2
    assert rows[0]["environment_id"] != rows[1]["environment_id"]
    for row in rows:
        assert row["pooled_verdict"] == "generalises"
        assert row["goal"] == "goal" and row["goal_posterior"] > 0.5, row


def test_probe_runs_a_ppo_policy_from_the_command_line(
    client: MesascopeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3 import PPO

    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    model.save(tmp_path / "ppo.zip")
    monkeypatch.setattr(cli, "MesascopeClient", lambda: client)
    monkeypatch.setattr(client, "close", lambda: None)
    shifted = ["SFFF", "FFFF", "FFHF", "HFFG"]
    result = CliRunner().invoke(
        cli.app,
        [
            "probe",
            "--policy",
            str(tmp_path / "ppo.zip"),
            "--env",
            "FrozenLake-v1",
            "--kwargs",
            '{"is_slippery": false}',
            "--shifted-kwargs",
            json.dumps({"desc": shifted, "is_slippery": False}),
            "--episodes",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["split"], r["n_states"], r["episodes"]) for r in rows] == [
        ("train", 16, 4),
        ("test", 16, 4),
    ]
    assert all(r["status"] == "succeeded" and r["verdict"] for r in rows), rows
    assert set(rows[0]["feature_weights"]) == {"frozen", "start", "hole", "goal"}


def test_probe_refuses_a_policy_for_other_observations(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    PPO("MlpPolicy", gym.make("FrozenLake-v1"), n_steps=64, device="cpu").save(tmp_path / "p")
    result = CliRunner().invoke(
        cli.app,
        [
            "probe",
            "--policy",
            str(tmp_path / "p.zip"),
            "--env",
            "FrozenLake-v1",
            "--kwargs",
            '{"map_name": "8x8"}',
        ],
    )
    assert result.exit_code == 2
    assert "the policy expects observations Discrete(16)" in result.output


def test_observation_checks_allow_channel_first_images_only() -> None:
    image = gym.spaces.Box(0, 255, (7, 7, 3), dtype=np.uint8)

    class Policy:
        observation_space = gym.spaces.Box(0, 255, (3, 7, 7), dtype=np.uint8)

    check_observations(Policy(), type("Env", (), {"observation_space": image})())
    flat = gym.spaces.Box(0, 255, (2835,), dtype=np.uint8)
    with pytest.raises(TabulariseError, match="wrapper it was trained with"):
        check_observations(Policy(), type("Env", (), {"observation_space": flat})())


def test_minigrid_instances_are_made_by_their_seeds() -> None:
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds("a-b")
    first, second = minigrid_instances("MiniGrid-LavaGapS5-v0", [0, 3], "test")
    assert first.view().name == "MiniGrid-LavaGapS5-v0 seed 0"
    env = second.make_env()
    assert env.observation_space.shape == (7, 7, 3)  # ImgObsWrapper by default
    env.reset(seed=3)
    assert second.view().state_of(env) == 0


@pytest.mark.parametrize("module", ["service.client", "service.client.cli", "service.client.probe"])
def test_the_client_imports_no_environment_or_learning_library(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    heavy = ("gymnasium", "minigrid", "stable_baselines3", "torch", "pygame", "irl")
    assert [name for name in loaded if name.split(".")[0] in heavy] == []


def door_seeker(obs: np.ndarray) -> int:
    """Scripted maze policy from the image alone: the move that shortens the path to the door
    (breadth-first over open squares; channels wall, agent, door)."""
    walls = obs[0] > 0
    (door,) = [tuple(cell) for cell in np.argwhere(obs[2] > 0)]
    (agent,) = [tuple(cell) for cell in np.argwhere(obs[1] > 0)]
    distance = {door: 0}
    frontier = [door]
    for cell in frontier:
        for dr, dc in MOVES[1:]:
            near = (cell[0] + dr, cell[1] + dc)
            if not walls[near] and near not in distance:
                distance[near] = distance[cell] + 1
                frontier.append(near)

    def after(move: tuple[int, int]) -> int:
        near = (agent[0] + move[0], agent[1] + move[1])
        return distance[agent if walls[near] else near]

    return int(min(range(len(MOVES)), key=lambda a: (after(MOVES[a]), a)))


def test_the_maze_suite_is_a_probe_family(client: MesascopeClient) -> None:
    """Maze instances pool per split; a scripted door-seeker generalises and pursues `door`."""
    instances = maze_instances("train", range(2), "train") + maze_instances("test", [7], "test")
    runs = record(door_seeker, instances, episodes=5)
    assert runs[0].view.feature_names == ("door", "red", "blue", "wall_adjacent")
    assert all(run.arrays.terminal.sum() == 0 for run in runs)  # the horizon ends every episode
    submit(client, runs)
    collect(client, runs, poll=0.01)
    rows = [result_row(run, client.url) for run in runs]
    assert rows[0]["inference_id"] == rows[1]["inference_id"] != rows[2]["inference_id"]
    for row in rows:
        assert row["status"] == "succeeded", row
        assert row["normalized_return"] > 0.9, row
        assert row["pooled_verdict"] == "generalises", row["explanation"]
        assert row["goal"] == "door", row
