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

from service.client.arrays import TrajectoryArrays, to_arrays


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


UPLOAD_FIELDS = ("name", "split", "tags", "training_reward")
"""Fields of a JSON rollouts file (the API's body) that `mesascope upload` sends along."""


def upload_fields(path: Path) -> dict[str, Any]:
    """The rollout set's name, split, tags and training reward written in a JSON rollouts file
    (an API request body); nothing for other formats."""
    if path.is_dir() or path.suffix != ".json":
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in UPLOAD_FIELDS if data.get(key) is not None}


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
