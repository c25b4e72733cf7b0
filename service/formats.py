"""Reading trajectory files on the user's machine for `mesascope upload` (see docs/formats.md).

Accepted: an imitation dataset directory (as written by `imitation.data.serialize.save`), a
Minari dataset directory, a pickle-free `.npz` in the bulk layout, or JSON (a list of
trajectories, or an object with `trajectories`; Minari field names accepted). Nothing here
unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from service.client import TrajectoryArrays, to_arrays


def load_trajectories(path: Path) -> TrajectoryArrays:
    """Trajectories from a file or dataset directory, in flat-array form."""
    if path.is_dir():
        for candidate in (path, path / "data"):
            if (candidate / "metadata.json").exists():
                return _minari_dataset(candidate)
        return _imitation_dataset(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return to_arrays({name: archive[name] for name in archive.files})
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        items = data["trajectories"] if isinstance(data, dict) else data
        return to_arrays(items)
    raise ValueError(f"{path}: expected a dataset directory, an .npz or a .json file")


def _minari_dataset(path: Path) -> TrajectoryArrays:
    """A Minari dataset's data directory (the one holding metadata.json and the episodes)."""
    import minari

    return to_arrays(minari.MinariDataset(path).iterate_episodes())


def _imitation_dataset(path: Path) -> TrajectoryArrays:
    """An imitation dataset directory (HuggingFace `datasets` on disk).

    Only the obs/acts/rews/terminal columns are read; `infos` (jsonpickled) is never decoded.
    """
    import datasets

    dataset = datasets.load_from_disk(str(path))
    columns = [c for c in ("obs", "acts", "rews", "terminal") if c in dataset.column_names]
    if "obs" not in columns or "acts" not in columns:
        raise ValueError(f"{path}: not an imitation trajectory dataset (no obs/acts columns)")
    rows = dataset.select_columns(columns).with_format("numpy")
    return to_arrays([rows[i] for i in range(len(rows))])


def environment_ref(value: str) -> dict[str, Any]:
    """`env_...` → a reference; a .json path → its spec; anything else → a gymnasium id."""
    if value.startswith("env_"):
        return {"id": value}
    path = Path(value)
    if path.suffix == ".json" and path.exists():
        spec: dict[str, Any] = json.loads(path.read_text())
        return spec
    return {"kind": "gymnasium", "id": value}


def reward_spec(value: str) -> dict[str, Any]:
    """A reward spec from JSON text, a .json file, `inference:ID`, or a kind name."""
    if value in ("environment", "observed"):
        return {"kind": value}
    if value.startswith("inf_"):
        return {"kind": "inference", "id": value}
    if value.startswith("inference:"):
        return {"kind": "inference", "id": value.split(":", 1)[1]}
    path = Path(value)
    if path.suffix == ".json" and path.exists():
        spec: dict[str, Any] = json.loads(path.read_text())
        return spec
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def record_episodes(
    policy_path: Path,
    env_id: str,
    episodes: int,
    *,
    algo: str = "ppo",
    seed: int = 0,
    deterministic: bool = False,
) -> TrajectoryArrays:
    """Roll out a local stable-baselines3 policy file (the user's own) in a gymnasium env."""
    import gymnasium as gym
    import seals  # noqa: F401  (registers seals/* ids)
    import stable_baselines3
    from stable_baselines3.common.base_class import BaseAlgorithm

    algorithms: dict[str, type[BaseAlgorithm]] = {
        "ppo": stable_baselines3.PPO,
        "a2c": stable_baselines3.A2C,
        "dqn": stable_baselines3.DQN,
        "sac": stable_baselines3.SAC,
    }
    model = algorithms[algo.lower()].load(policy_path, device="cpu")
    env = gym.make(env_id)
    items = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        observations, actions, rewards = [obs], [], []
        done, terminated = False, False
        while not done:
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            done = terminated or truncated
        items.append(
            {
                "obs": np.asarray(observations),
                "acts": np.asarray(actions),
                "rews": rewards,
                "terminal": bool(terminated),
            }
        )
    env.close()
    return to_arrays(items)
