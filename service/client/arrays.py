"""Trajectories as the flat arrays both upload paths send (see docs/formats.md).

`to_arrays` accepts every form a user may hold: imitation trajectories, Minari episodes, API
dicts, or the arrays themselves.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np


class TrajectoryArrays:
    """Trajectories as flat arrays: the bulk-upload (.npz) layout, see docs/formats.md."""

    def __init__(
        self,
        obs: np.ndarray,
        acts: np.ndarray,
        lengths: np.ndarray,
        terminal: np.ndarray,
        rews: np.ndarray | None = None,
        environment: np.ndarray | None = None,
    ) -> None:
        self.obs, self.acts, self.rews = np.asarray(obs), np.asarray(acts), rews
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.terminal = np.asarray(terminal, dtype=bool)
        self.environment = None if environment is None else np.asarray(environment, np.int64)
        """(n_traj,) int64 in a pooled set: each trajectory's index into `environments`."""

    @property
    def n_transitions(self) -> int:
        """Total number of actions."""
        return int(self.lengths.sum())

    def to_npz(self) -> bytes:
        """A pickle-free .npz archive (uncompressed: faster to write and to read)."""
        arrays = {
            "obs": self.obs,
            "acts": self.acts,
            "lengths": self.lengths,
            "terminal": self.terminal,
        }
        if self.rews is not None:
            arrays["rews"] = np.asarray(self.rews, dtype=np.float64)
        if self.environment is not None:
            arrays["environment"] = self.environment
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    def split(self, max_transitions: int) -> list[TrajectoryArrays]:
        """Consecutive pieces of at most `max_transitions` (whole trajectories; at least one)."""
        ends = np.cumsum(self.lengths)
        pieces, first, done = [], 0, 0
        while first < len(self.lengths):
            last = max(int(np.searchsorted(ends, done + max_transitions, side="right")), first + 1)
            obs_from, obs_to = done + first, int(ends[last - 1]) + last
            acts_to = int(ends[last - 1])
            pieces.append(
                TrajectoryArrays(
                    self.obs[obs_from:obs_to],
                    self.acts[done:acts_to],
                    self.lengths[first:last],
                    self.terminal[first:last],
                    None if self.rews is None else np.asarray(self.rews)[done:acts_to],
                    None if self.environment is None else self.environment[first:last],
                )
            )
            first, done = last, acts_to
        return pieces

    def to_json(self) -> list[dict[str, Any]]:
        """The JSON upload layout: one object per trajectory."""
        out: list[dict[str, Any]] = []
        start_o, start_a = 0, 0
        for length, terminal in zip(self.lengths.tolist(), self.terminal.tolist(), strict=True):
            item: dict[str, Any] = {
                "obs": self.obs[start_o : start_o + length + 1].tolist(),
                "acts": self.acts[start_a : start_a + length].tolist(),
                "terminal": bool(terminal),
            }
            if self.rews is not None:
                item["rews"] = np.asarray(self.rews[start_a : start_a + length]).tolist()
            if self.environment is not None:
                item["environment"] = int(self.environment[len(out)])
            out.append(item)
            start_o, start_a = start_o + length + 1, start_a + length
        return out


def _field(item: Any, *names: str) -> Any:
    """The first present attribute or key among `names` (None if none is)."""
    for name in names:
        if isinstance(item, Mapping) and name in item:
            return item[name]
        if not isinstance(item, Mapping) and getattr(item, name, None) is not None:
            return getattr(item, name)
    return None


def _check_lengths(index: int, obs: np.ndarray, acts: np.ndarray, rews: Any) -> None:
    """Refuse a trajectory whose parts disagree, in the API's words, before it is flattened
    (flattened, one short `acts` would shift every later trajectory)."""
    where = f"trajectories[{index}]"
    if obs.ndim == 0 or acts.ndim == 0:
        raise ValueError(f"{where}: obs and acts must be sequences")
    if len(obs) != len(acts) + 1:
        raise ValueError(f"{where}.acts: length {len(acts)}, expected len(obs)-1 = {len(obs) - 1}")
    if rews is not None and len(rews) != len(acts):
        raise ValueError(f"{where}.rews: length {len(rews)}, expected len(acts) = {len(acts)}")


def to_arrays(trajectories: Any) -> TrajectoryArrays:
    """Flatten imitation Trajectory(WithRew)s, Minari EpisodeData, API dicts, or arrays (a
    pooled set's `environment` indices kept when every trajectory names one)."""
    if isinstance(trajectories, TrajectoryArrays):
        return trajectories
    if isinstance(trajectories, Mapping) and "lengths" in trajectories:
        return TrajectoryArrays(
            **{
                k: trajectories[k]
                for k in ("obs", "acts", "lengths", "terminal", "rews", "environment")
                if k in trajectories
            }
        )
    items = list(trajectories)
    if not items:
        raise ValueError("no trajectories given")
    obs, acts, rews, lengths, terminal, environment = [], [], [], [], [], []
    for i, item in enumerate(items):
        o = np.asarray(_field(item, "obs", "observations"))
        a = np.asarray(_field(item, "acts", "actions"))
        r = _field(item, "rews", "rewards")
        end = _field(item, "terminal", "terminations")
        _check_lengths(i, o, a, r)
        obs.append(o)
        acts.append(a)
        rews.append(None if r is None else np.asarray(r, dtype=np.float64))
        lengths.append(len(a))
        terminal.append(bool(np.asarray(end).reshape(-1)[-1]) if end is not None else False)
        environment.append(_field(item, "environment"))
    all_rews: np.ndarray | None = None
    if all(r is not None for r in rews):
        all_rews = np.concatenate([r for r in rews if r is not None])
    return TrajectoryArrays(
        np.concatenate(obs),
        np.concatenate(acts),
        np.asarray(lengths),
        np.asarray(terminal),
        all_rews,
        None if any(e is None for e in environment) else np.asarray(environment),
    )
