"""What pages and submit-time checks need of a rollout set's arrays, computed once when stored.

Reads (the dashboard's pages, `POST /v1/inferences`) use this summary and never decode the
stored trajectory chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irl.algorithms import check_mce_irl_fit
from irl.environments import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.trajectories import TrajectorySet

SAMPLE_PATHS = 3


@dataclass(frozen=True)
class RolloutSummary:
    """Small facts about a rollout set's trajectories (JSON-able, stored on the row)."""

    tabular: bool
    """Whether observations are state indices (else vectors)."""
    obs_shape: tuple[int, ...]
    """Shape of one observation: () for state indices, (D,) for vectors."""
    length_counts: dict[int, int]
    """How many trajectories have each length (transitions)."""
    visits: list[int] | None = None
    """(S,) visit counts per state (final observations included), for tabular environments."""
    paths: list[list[int]] = field(default_factory=list)
    """The first few trajectories as state sequences, for tabular environments."""
    mce_irl_problems: list[Problem] | None = None
    """Why MCE IRL cannot use these trajectories (empty: it can); None when not tabular."""

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "tabular": self.tabular,
            "obs_shape": list(self.obs_shape),
            "length_counts": {str(k): v for k, v in self.length_counts.items()},
            "visits": self.visits,
            "paths": self.paths,
            "mce_irl_problems": None
            if self.mce_irl_problems is None
            else [{"loc": p.loc, "msg": p.msg} for p in self.mce_irl_problems],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutSummary:
        """Read the stored form back."""
        problems = data.get("mce_irl_problems")
        return cls(
            tabular=bool(data["tabular"]),
            obs_shape=tuple(int(n) for n in data["obs_shape"]),
            length_counts={int(k): int(v) for k, v in data["length_counts"].items()},
            visits=data.get("visits"),
            paths=[list(p) for p in data.get("paths") or []],
            mce_irl_problems=None
            if problems is None
            else [Problem(p["loc"], p["msg"]) for p in problems],
        )


def summarise_chunks(
    chunks: Iterable[TrajectorySet], mdp: TabularMDP | None
) -> tuple[RolloutSummary, np.ndarray | None]:
    """The summary (fit problems not yet known) and (S,) visits, reading one chunk at a time."""
    lengths: Counter[int] = Counter()
    visits = np.zeros(mdp.n_states, dtype=np.int64) if mdp is not None else None
    paths: list[list[int]] = []
    obs_shape: tuple[int, ...] = ()
    for ts in chunks:
        obs_shape = tuple(int(n) for n in ts.obs.shape[1:])
        lengths.update(int(n) for n in ts.lengths)
        if mdp is None or visits is None:
            continue
        visits += ts.state_visits(mdp.n_states)
        for i in range(min(SAMPLE_PATHS - len(paths), ts.n_trajectories)):
            paths.append([int(s) for s in ts.obs_of(i)])
    summary = RolloutSummary(
        tabular=not obs_shape,
        obs_shape=obs_shape,
        length_counts=dict(sorted(lengths.items())),
        visits=None if visits is None else [int(n) for n in visits],
        paths=paths,
    )
    return summary, visits


def mce_irl_problems(ts: TrajectorySet, mdp: TabularMDP | None) -> list[Problem] | None:
    """Why MCE IRL could not run on the whole set (checked as `POST /v1/inferences` reports it)."""
    if mdp is None:
        return None
    try:
        check_mce_irl_fit(mdp, ts, loc="rollouts_id")
    except InvalidInputError as exc:
        return list(exc.problems)
    return []
