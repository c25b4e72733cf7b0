"""The Python client and the CLI against a real server: every upload format round-trips."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from imitation.data import serialize

from service.client import MesascopeClient, MesascopeError, TrajectoryArrays
from service.core.db import unit_of_work
from service.core.models import RolloutSet
from service.core.settings import Settings
from service.rollouts.service import load_trajectories
from tests.e2e.processes import Served, mesascope_env, served
from tests.irl.gridworld import gridworld_spec, sample_trajectories
from tests.service.data import imitation_trajectories

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Server(Served):
    """A running server, driven through the CLI, whose stored arrays the test can read."""

    def cli(self, *args: str) -> str:
        """Run a `mesascope` client command against the server; its stdout."""
        env = mesascope_env(self.data_dir, url=self.url, api_key=self.key)
        done = subprocess.run(
            [sys.executable, "-m", "service", *args],
            env=env,
            text=True,
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stored(self, rollouts_id: str) -> TrajectoryArrays:
        """The arrays the server stored for a rollout set."""
        settings = Settings(data_dir=self.data_dir)
        with unit_of_work(settings) as uow:
            row = uow.session.get(RolloutSet, rollouts_id)
            assert row is not None
            ts = load_trajectories(uow.session, row)
        return TrajectoryArrays(ts.obs, ts.acts, ts.lengths, ts.terminal, ts.rews)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("client-server")
    with served(data_dir, workers=1) as running:
        yield Server(**vars(running))


def _same(
    stored: TrajectoryArrays,
    obs: np.ndarray,
    acts: np.ndarray,
    lengths: list[int],
    rews: np.ndarray | None,
) -> None:
    np.testing.assert_array_equal(stored.obs, obs)
    np.testing.assert_array_equal(stored.acts, acts)
    np.testing.assert_array_equal(stored.lengths, lengths)
    if rews is not None:
        assert stored.rews is not None
        np.testing.assert_array_equal(stored.rews, rews)


def _gridworld(seed: int) -> tuple[dict, list[dict]]:
    spec = gridworld_spec(rows=4, cols=4)
    return spec, sample_trajectories(spec, n=12, rng=np.random.default_rng(seed))


def test_imitation_dataset_round_trip(server: Server, tmp_path: Path) -> None:
    spec, items = _gridworld(1)
    trajectories = imitation_trajectories(items)
    serialize.save(tmp_path / "dataset", trajectories)
    (tmp_path / "env.json").write_text(json.dumps(spec))
    rollouts_id = server.cli(
        "upload",
        str(tmp_path / "dataset"),
        "--env",
        str(tmp_path / "env.json"),
        "--split",
        "train",
        "--tag",
        "agent=expert",
    ).strip()
    assert rollouts_id.startswith("ro_")
    _same(
        server.stored(rollouts_id),
        np.concatenate([t.obs for t in trajectories]),
        np.concatenate([t.acts for t in trajectories]),
        [len(t.acts) for t in trajectories],
        np.concatenate([t.rews for t in trajectories]).astype(np.float64),
    )


def test_npz_bulk_and_json_minari_round_trips(server: Server, tmp_path: Path) -> None:
    spec, items = _gridworld(2)
    with MesascopeClient(server.url, server.key) as client:
        env_id = client.create_environment(spec)["id"]
    obs = np.concatenate([t["obs"] for t in items])
    acts = np.concatenate([t["acts"] for t in items])
    lengths = [len(t["acts"]) for t in items]
    np.savez(
        tmp_path / "data.npz",
        obs=obs,
        acts=acts,
        lengths=np.asarray(lengths),
        terminal=np.zeros(len(items), dtype=bool),
    )
    out = json.loads(server.cli("upload", str(tmp_path / "data.npz"), "--env", env_id, "--json"))
    _same(server.stored(out["id"]), obs, acts, lengths, None)

    minari = [
        {
            "observations": t["obs"],
            "actions": t["acts"],
            "rewards": t["rews"],
            "terminations": [False] * len(t["acts"]),
            "truncations": [False] * (len(t["acts"]) - 1) + [True],
        }
        for t in items
    ]
    (tmp_path / "minari.json").write_text(json.dumps(minari))
    rollouts_id = server.cli("upload", str(tmp_path / "minari.json"), "--env", env_id).strip()
    _same(
        server.stored(rollouts_id), obs, acts, lengths, np.concatenate([t["rews"] for t in items])
    )

    with MesascopeClient(server.url, server.key) as client:
        bulk = client.upload_rollouts(items, environment={"id": env_id}, name="bulk", bulk=True)
        _same(
            server.stored(bulk["id"]),
            obs,
            acts,
            lengths,
            np.concatenate([t["rews"] for t in items]),
        )
        with pytest.raises(MesascopeError) as raised:
            client.upload_rollouts(
                TrajectoryArrays(
                    obs, acts + 10, np.asarray(lengths), np.zeros(len(items), dtype=bool)
                ),
                environment={"id": env_id},
                name="bad",
                bulk=True,
            )
        assert raised.value.status == 422
        assert any(e["loc"].startswith("file") for e in raised.value.errors)


def test_cli_infer_wait_divergence_ls(server: Server, tmp_path: Path) -> None:
    spec, items = _gridworld(3)
    (tmp_path / "env.json").write_text(json.dumps(spec))
    (tmp_path / "rollouts.json").write_text(json.dumps({"trajectories": items}))
    rollouts_id = server.cli(
        "upload",
        str(tmp_path / "rollouts.json"),
        "--env",
        str(tmp_path / "env.json"),
        "--training-reward",
        '{"kind": "linear", "weights": {"door": 1}}',
    ).strip()
    job = json.loads(server.cli("infer", rollouts_id, "--wait", "--json"))
    assert job["status"] == "succeeded"
    report = json.loads(server.cli("divergence", job["id"], "--json"))
    assert report["verdict"] in {"generalises", "inconclusive"}
    listed = json.loads(server.cli("ls", "inferences", "--json"))
    assert job["id"] in [item["id"] for item in listed]
    env = mesascope_env(server.data_dir, url=server.url, api_key=server.key)
    human = subprocess.run(
        [sys.executable, "-m", "service", "status", job["id"]],
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )
    assert human.stdout.strip() == "succeeded"  # piped: the status alone on stdout
    assert "weight: door" in human.stderr  # and the table on stderr


def test_rollout_of_a_local_ppo_policy(server: Server, tmp_path: Path) -> None:
    import gymnasium as gym
    import seals  # noqa: F401
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy", gym.make("seals/CartPole-v0"), n_steps=256, batch_size=64, seed=0, device="cpu"
    )
    model.learn(total_timesteps=512)
    model.save(tmp_path / "policy.zip")
    out = json.loads(
        server.cli(
            "rollout",
            "--policy",
            str(tmp_path / "policy.zip"),
            "--env",
            "seals/CartPole-v0",
            "--episodes",
            "2",
            "--json",
        )
    )
    assert out["n_trajectories"] == 2
    assert out["n_transitions"] == 2 * 500  # seals' CartPole has a fixed horizon of 500
    stored = server.stored(out["id"])
    assert stored.obs.shape == (1002, 4)


def test_client_operations_and_waiting(server: Server) -> None:
    spec, items = _gridworld(5)
    with MesascopeClient(server.url, server.key) as client:
        assert client.alive() and client.health()["status"] == "ok"
        assert "mesascope_http_requests_total" in client.metrics()
        env_id = client.create_environment(spec)["id"]
        ro = client.upload_rollouts(
            items,
            environment={"id": env_id},
            name="w",
            training_reward={"kind": "linear", "weights": {"door": 1}},
        )
        seen: list[str] = []
        done = client.wait(
            client.infer(ro["id"])["id"],
            show_progress=True,
            poll=0.2,
            on_update=lambda job: seen.append(job["status"]),
        )
        assert done["status"] == "succeeded" and seen[-1] == "succeeded"
        assert client.reward(done["id"])["kind"] == "linear"
        assert client.divergence(done["id"])["verdict"]
        custom = client.divergence(done["id"], {"kind": "linear", "weights": {"red": 1}})
        assert custom["against"]["weights"] == {"red": 1.0}
        compared = client.compare(
            {"id": env_id},
            {"kind": "linear", "weights": {"door": 1}},
            {"kind": "inference", "id": done["id"]},
        )
        assert compared["epic"] is not None
        assert done["id"] in [i["id"] for i in client.list_inferences(status="succeeded")]
        with pytest.raises(MesascopeError) as raised:
            client.cancel(done["id"])
        assert raised.value.status == 409
        client.delete_inference(done["id"])
        client.delete_rollouts(ro["id"])
        with pytest.raises(MesascopeError):
            client.get_rollouts(ro["id"])


def test_chunked_upload_holds_every_transition(server: Server) -> None:
    spec, items = _gridworld(4)
    with MesascopeClient(server.url, server.key) as client:
        env_id = client.create_environment(spec)["id"]
        progress: list[tuple[int, int]] = []
        result = client.upload_rollouts(
            items,
            environment={"id": env_id},
            name="chunked",
            bulk=True,
            chunk_transitions=20,
            on_progress=lambda sent, total: progress.append((sent, total)),
        )
    assert progress == [(16 * (i + 1), 96) for i in range(6)]
    lengths = [len(t["acts"]) for t in items]
    assert result["n_trajectories"] == len(items)
    assert result["n_transitions"] == sum(lengths)
    _same(
        server.stored(result["id"]),
        np.concatenate([t["obs"] for t in items]),
        np.concatenate([t["acts"] for t in items]),
        lengths,
        np.concatenate([t["rews"] for t in items]),
    )
    with unit_of_work(Settings(data_dir=server.data_dir)) as uow:
        from service.rollouts import repository

        assert len(repository.chunk_artifacts(uow.session, result["id"])) == len(items) // 2


def _write_minari_dataset(root: Path) -> list[dict]:
    """A Minari dataset written through Minari's own storage layer (no jax needed to write)."""
    import gymnasium as gym
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    env = gym.make("CartPole-v1")
    storage = MinariStorage.new(
        root / "data",
        observation_space=env.observation_space,
        action_space=env.action_space,
        data_format="arrow",
    )
    episodes, buffers = [], []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        observations, actions, rewards, ends = [obs], [], [], []
        done = False
        while not done:
            action = int(env.action_space.sample())
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            ends.append((terminated, truncated))
            done = terminated or truncated
        episodes.append(
            {
                "obs": np.asarray(observations),
                "acts": np.asarray(actions),
                "rews": np.asarray(rewards),
            }
        )
        buffers.append(
            EpisodeBuffer(
                id=seed,
                seed=seed,
                observations=np.asarray(observations),
                actions=np.asarray(actions),
                rewards=np.asarray(rewards),
                terminations=np.asarray([e[0] for e in ends]),
                truncations=np.asarray([e[1] for e in ends]),
                infos={},
            )
        )
    storage.update_episodes(buffers)
    storage.update_metadata({"dataset_id": "mesascope/cartpole-test-v0", "minari_version": "0.5.4"})
    return episodes


def test_minari_dataset_round_trip(server: Server, tmp_path: Path) -> None:
    root = tmp_path / "minari" / "cartpole-test-v0"
    root.mkdir(parents=True)
    episodes = _write_minari_dataset(root)
    rollouts_id = server.cli("upload", str(root), "--env", "CartPole-v1").strip()
    _same(
        server.stored(rollouts_id),
        np.concatenate([e["obs"] for e in episodes]),
        np.concatenate([e["acts"] for e in episodes]),
        [len(e["acts"]) for e in episodes],
        np.concatenate([e["rews"] for e in episodes]),
    )
