"""Trajectory sets: validated, flat numpy arrays (one concatenation per field)."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from irl.arrays import read_only
from irl.errors import InvalidInputError, Problem


@dataclass(frozen=True, eq=False)
class TrajectorySet:
    """Trajectories stored flat: trajectory i owns lengths[i] transitions and lengths[i] + 1 obs."""

    obs: np.ndarray
    """(N + n_traj,) int64 state indices (tabular) or (N + n_traj, D) float64 vectors."""
    acts: np.ndarray
    """(N,) int64 action indices or (N, Da) float64 action vectors."""
    rews: np.ndarray | None
    """(N,) float64 recorded rewards, or None when not recorded."""
    terminal: np.ndarray
    """(n_traj,) bool: whether each trajectory ended in a terminal state."""
    lengths: np.ndarray
    """(n_traj,) int64: number of transitions (actions) in each trajectory, all >= 1."""

    def __post_init__(self) -> None:
        """Refuse inconsistent array shapes."""
        problems = shape_problems(self.obs, self.acts, self.rews, self.terminal, self.lengths)
        if problems:
            raise InvalidInputError(problems)

    @property
    def n_trajectories(self) -> int:
        """Number of trajectories."""
        return len(self.lengths)

    @property
    def n_transitions(self) -> int:
        """Total number of transitions N."""
        return len(self.acts)

    @cached_property
    def obs_starts(self) -> np.ndarray:
        """(n_traj,) int64: index in `obs` of each trajectory's first observation."""
        return read_only(np.cumsum(self.lengths + 1) - (self.lengths + 1))

    @cached_property
    def act_starts(self) -> np.ndarray:
        """(n_traj,) int64: index in `acts` of each trajectory's first action."""
        return read_only(np.cumsum(self.lengths) - self.lengths)

    @cached_property
    def trajectory_of_transition(self) -> np.ndarray:
        """(N,) int64: which trajectory each transition belongs to."""
        return read_only(np.repeat(np.arange(self.n_trajectories), self.lengths))

    @cached_property
    def timesteps(self) -> np.ndarray:
        """(N,) int64: time index t of each transition within its trajectory."""
        return read_only(
            np.arange(self.n_transitions) - self.act_starts[self.trajectory_of_transition]
        )

    def obs_of(self, i: int) -> np.ndarray:
        """Observations of trajectory i: (lengths[i] + 1,) or (lengths[i] + 1, D)."""
        start = int(self.obs_starts[i])
        return self.obs[start : start + int(self.lengths[i]) + 1]

    def acts_of(self, i: int) -> np.ndarray:
        """Actions of trajectory i: (lengths[i],) or (lengths[i], Da)."""
        start = int(self.act_starts[i])
        return self.acts[start : start + int(self.lengths[i])]

    def rews_of(self, i: int) -> np.ndarray | None:
        """Recorded rewards of trajectory i, (lengths[i],) float64, or None."""
        if self.rews is None:
            return None
        start = int(self.act_starts[i])
        return self.rews[start : start + int(self.lengths[i])]

    def transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(obs, acts, next obs) of every transition: three arrays of N rows (state indices for
        tabular sets, vectors otherwise)."""
        index = np.arange(self.n_transitions) + self.trajectory_of_transition
        return self.obs[index], self.acts, self.obs[index + 1]

    def discounted_returns(self, values: np.ndarray, discount: float) -> np.ndarray:
        """(n_traj,) float64: sum_t discount^t values[t] of each trajectory, from (N,) rewards
        of every transition."""
        weighted = np.asarray(values, dtype=np.float64) * discount**self.timesteps
        return np.bincount(
            self.trajectory_of_transition, weights=weighted, minlength=self.n_trajectories
        )

    def last_obs(self) -> np.ndarray:
        """Final observation of each trajectory: (n_traj,) or (n_traj, D)."""
        return self.obs[self.obs_starts + self.lengths]

    def state_visits(self, n_states: int) -> np.ndarray:
        """(S,) int64: how often each state appears among all observations (final ones included)."""
        obs = self.obs
        if obs.ndim != 1 or obs.min() < 0 or obs.max() >= n_states:
            raise InvalidInputError.at("trajectories.obs", f"not state indices in [0, {n_states})")
        return np.bincount(self.obs, minlength=n_states).astype(np.int64)


def shape_problems(
    obs: np.ndarray,
    acts: np.ndarray,
    rews: np.ndarray | None,
    terminal: np.ndarray,
    lengths: np.ndarray,
) -> list[Problem]:
    """What makes these arrays not describe the same trajectories (located by field name)."""
    n_traj, n = len(lengths), len(acts)
    valid_lengths = lengths.ndim == 1 and lengths.dtype == np.int64 and n_traj > 0
    total = int(lengths.sum())
    checks = [
        (
            "lengths",
            valid_lengths and bool((lengths >= 1).all()),
            "must be a non-empty (n_traj,) int64 array of values >= 1",
        ),
        ("acts", total == n, f"has {n} entries but lengths sum to {total}"),
        (
            "obs",
            len(obs) == n + n_traj,
            f"has {len(obs)} entries, expected N + n_traj = {n + n_traj}",
        ),
        (
            "terminal",
            terminal.shape == (n_traj,) and terminal.dtype == bool,
            f"must be a ({n_traj},) bool array",
        ),
        ("rews", rews is None or rews.shape == (n,), f"must be a ({n},) array"),
    ]
    return [Problem(name, msg) for name, ok, msg in checks if not ok]


def concatenate(sets: Sequence[TrajectorySet]) -> TrajectorySet:
    """One set holding the trajectories of several, in order (recorded rewards kept if all have
    them)."""
    if not sets:
        raise InvalidInputError.at("trajectories", "at least one trajectory set is required")
    if len(sets) == 1:
        return sets[0]
    rews = None
    if all(s.rews is not None for s in sets):
        rews = np.concatenate([s.rews for s in sets if s.rews is not None])
    return TrajectorySet(
        obs=np.concatenate([s.obs for s in sets]),
        acts=np.concatenate([s.acts for s in sets]),
        rews=rews,
        terminal=np.concatenate([s.terminal for s in sets]),
        lengths=np.concatenate([s.lengths for s in sets]),
    )
