"""Benchmark pooled inference: N mazes of one distribution in one fit and report, against N
separate fits and reports of the same trajectories, in one process (what a worker does).

Each side fits linear MCE IRL (the service's default parameters) and builds the report against
the training reward `door` with --bootstrap refits; the pooled side also builds the
per-environment breakdown. The scripted red-seeker on `test` mazes (a known misgeneralizer)
supplies --episodes trajectories per maze. Prints both times, their ratio, and the verdicts.

    .venv/bin/python -m benchmarks.pooled [--mazes 10] [--size 5] [--episodes 40] [--bootstrap 20]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from irl.agents import tabular_trajectories
from irl.algorithms import ALGORITHMS
from irl.environments import TabularMDP, generate_maze
from irl.environments.maze import TRAINING_WEIGHTS
from irl.environments.pooled import pool, to_pooled_states
from irl.io.trajectories import parse_trajectories
from irl.report import Exact, Report, build_report, reward_parameters
from irl.report.pooled import EnvironmentBreakdown, per_environment
from irl.rewards import LinearReward, TabularReward
from irl.trajectories import TrajectorySet, concatenate

TRAINING = LinearReward(TRAINING_WEIGHTS)
T = TypeVar("T")


def fit(mdp: TabularMDP, trajectories: TrajectorySet, seed: int) -> LinearReward:
    """The service's linear MCE IRL fit."""
    result = ALGORITHMS["mce_irl"].fit(
        environment=mdp,
        trajectories=trajectories,
        reward_model="linear",
        params={},
        rng=np.random.default_rng(seed),
        progress=None,
        should_stop=lambda: False,
    )
    assert isinstance(result.reward, LinearReward)
    return result.reward


def infer(mdp: TabularMDP, trajectories: TrajectorySet, n_bootstrap: int) -> Report:
    """Fit, then the report with n_bootstrap refits (as a worker runs one inference)."""
    reward = fit(mdp, trajectories, 0)
    seeds = iter(range(1, n_bootstrap + 1))

    def refit(resampled: TrajectorySet) -> TabularReward | LinearReward:
        return fit(mdp, resampled, next(seeds))

    subject = Exact(mdp, reward, TRAINING, reward_parameters("linear", mdp))
    return build_report(
        subject, trajectories, refit=refit if n_bootstrap else None, n_bootstrap=n_bootstrap
    )


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """The result of `work` and its wall-clock seconds."""
    start = time.perf_counter()
    out = work()
    return out, time.perf_counter() - start


def main() -> None:
    """Run both sides and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mazes", type=int, default=10)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--bootstrap", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mazes = [generate_maze(size=args.size, distribution="test", seed=s) for s in range(args.mazes)]
    mdps = [maze.to_mdp() for maze in mazes]
    sets = [
        parse_trajectories(tabular_trajectories(maze, agent="red_seeker", n=args.episodes, rng=rng))
        for maze in mazes
    ]
    separate, separate_s = timed(
        lambda: [infer(mdp, ts, args.bootstrap) for mdp, ts in zip(mdps, sets, strict=True)]
    )
    environment = np.repeat(np.arange(args.mazes), [ts.n_trajectories for ts in sets])

    def pooled_inference() -> tuple[Report, tuple[EnvironmentBreakdown, ...]]:
        pooled = pool(mdps, np.bincount(environment))
        trajectories = to_pooled_states(concatenate(sets), environment, pooled.offsets)
        report = infer(pooled.mdp, trajectories, args.bootstrap)
        rows = per_environment(
            pooled,
            trajectories,
            inferred=fit(pooled.mdp, trajectories, 0),
            reference=TRAINING,
            reward_model="linear",
            rng=np.random.default_rng(0),
        )
        return report, rows

    (report, rows), pooled_s = timed(pooled_inference)
    states = sum(mdp.n_states for mdp in mdps)
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(
        f"{args.mazes} test mazes of size {args.size} ({states} states in all), red-seeker, "
        f"{args.episodes} episodes each, {args.bootstrap} bootstrap refits per report"
    )
    print(f"separate: {args.mazes} inferences  {separate_s:8.2f} s")
    print(f"pooled:   1 inference + breakdown {pooled_s:8.2f} s")
    print(f"ratio separate / pooled: {separate_s / pooled_s:.1f}x")
    verdicts = Counter(r.verdict for r in separate)
    print(f"separate verdicts: {dict(verdicts)}")
    print(
        f"pooled verdict: {report.verdict}; per-maze: {dict(Counter(row.verdict for row in rows))}"
    )


if __name__ == "__main__":
    main()
