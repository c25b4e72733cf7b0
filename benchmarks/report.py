"""Benchmark the sparse report against the fit, and against today's dense report where it fits.

For open gridworlds (side x side, 5 actions, horizon 2 * side; benchmarks.mce_irl) and mazes
(irl.environments.maze, up to its largest size) with a linear door reward and 50 soft-optimal
expert trajectories, each row gives: the linear MCE IRL fit's time (fast solver); the report's
time (irl.report.exact_report as the service runs it, on the sparse backend: every distance,
returns, goal-directedness, named goals, optimisation power, and the bootstrap's 20 refits, each
re-measured; `--bootstrap-refit` as MCE IRL's params.bootstrap_refit, default `newton`); their
ratio; peak traced memory of fit and report; and, up to --dense-max-states, the time of the
dense reference (the same numbers from (S, A, S) arrays with cold refits, as the report ran
before the sparse backend) and its ratio to the sparse one. Sizes run in order until
--max-seconds is spent (a size is started only if the previous one suggests it will finish).

    .venv/bin/python -m benchmarks.report [--sides 32 40 100 316] [--mazes 22 25]
        [--max-seconds 1500] [--dense-max-states 3000] [--bootstrap 20] [--repeat 1]
        [--bootstrap-refit newton|converged|one_step] [--untraced]
"""

import argparse
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from benchmarks.mce_irl import TRUE_REWARD, expert_trajectories, open_gridworld
from irl.algorithms import mce_irl
from irl.algorithms.mce_irl import warm_refit
from irl.divergence import ExactPair, distances, epic_distance
from irl.environments import TabularMDP
from irl.environments.maze import generate_maze
from irl.goal_directedness import goal_directedness, optimisation_power
from irl.hypotheses import default_candidates, fit_hypotheses
from irl.planning import normalized_return
from irl.report import exact_report
from irl.report.sparse import report_memory_bytes
from irl.rewards import LinearReward, TabularReward, reward_array
from irl.trajectories import TrajectorySet
from irl.uncertainty import resample
from irl.verdict import DEFAULT_THRESHOLDS

N_TRAJECTORIES = 50
T = TypeVar("T")
N_PARAMETERS = 3


@dataclass(frozen=True)
class Row:
    """One size's measurements."""

    name: str
    n_states: int
    nnz: int
    horizon: int
    fit_seconds: float
    fit_iterations: int
    report_seconds: float
    refit_iterations: float
    fit_peak_mb: float
    report_peak_mb: float
    estimate_mb: float
    dense_seconds: float | None


TRACE = True
"""Trace allocations for the peak-memory columns (--untraced: time without tracemalloc, whose
bookkeeping slows the report's many small allocations; the peaks then show 0)."""


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, peak traced MB) of work()."""
    if not TRACE:
        start = time.perf_counter()
        result = work()
        return result, time.perf_counter() - start, 0.0
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def fit(mdp: TabularMDP, ts: TrajectorySet) -> tuple[LinearReward | TabularReward, int]:
    """The service's linear MCE IRL fit (fast solver, default parameters)."""
    result = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=np.random.default_rng(0))
    assert isinstance(result.reward, LinearReward | TabularReward)
    return result.reward, result.n_iterations


def sparse_report(
    mdp: TabularMDP,
    ts: TrajectorySet,
    inferred: LinearReward | TabularReward,
    n_bootstrap: int,
    bootstrap_refit: str = "newton",
) -> float:
    """The service's report (irl.report.exact_report on the sparse backend: distances, returns,
    goal-directedness, named goals, optimisation power, verdict) with the bootstrap's refits
    started from the fit; mean refit iterations (objective evaluations; 0 for one-step refits)."""
    iterations: list[int] = []
    refit = warm_refit(
        mdp,
        reward_model="linear",
        params={"bootstrap_refit": bootstrap_refit},
        fitted=inferred,
        record=iterations,
    )
    exact_report(
        mdp=mdp,
        trajectories=ts,
        inferred=inferred,
        reference=TRUE_REWARD,
        n_parameters=N_PARAMETERS,
        refit=refit,
        n_bootstrap=n_bootstrap,
        rng=np.random.default_rng(1),
    )
    return float(np.mean(iterations)) if iterations else 0.0


def dense_report(
    mdp: TabularMDP, ts: TrajectorySet, inferred: LinearReward | TabularReward, n_bootstrap: int
) -> None:
    """The dense reference, as the report ran before the sparse backend: (S, A, S) reward
    arrays for every distance, return and optimisation power, cold refits for the bootstrap,
    and the goal-directedness tests and named goals fitted afresh on every resample (their
    soft-optimal plans are streamed here too, so this is a lower bound on the old report)."""
    r_reference = reward_array(TRUE_REWARD, mdp)
    candidates = default_candidates(mdp, TRUE_REWARD)

    def measure(sample: TrajectorySet, reward: LinearReward | TabularReward) -> None:
        r = reward_array(reward, mdp)
        normalized_return(mdp, r_reference, sample)
        normalized_return(mdp, r, sample)
        goal_directedness(mdp, sample, r, n_parameters=N_PARAMETERS)
        fit_hypotheses(
            mdp,
            sample,
            candidates,
            free_reward=r,
            free_parameters=N_PARAMETERS,
            far_epic=DEFAULT_THRESHOLDS.far_epic,
        )
        epic_distance(r, r_reference, discount=mdp.discount)

    measure(ts, inferred)
    r_inferred = reward_array(inferred, mdp)
    distances(ExactPair(mdp, r_reference, r_inferred, mdp.discount, None, None))
    optimisation_power(mdp, r_inferred, ts, rng=np.random.default_rng(1))
    rng = np.random.default_rng(1)
    for _ in range(n_bootstrap):
        sample = resample(ts, rng)
        measure(sample, fit(mdp, sample)[0])


def measure_size(
    name: str,
    mdp: TabularMDP,
    *,
    n_bootstrap: int,
    dense_max_states: int,
    repeat: int,
    bootstrap_refit: str = "newton",
) -> Row:
    """Fit, sparse report and (small enough) dense report of one environment; fit and sparse
    report take the fastest of `repeat` runs (the machine is shared), the dense report one."""
    ts = expert_trajectories(mdp, n=N_TRAJECTORIES, rng=np.random.default_rng(7))
    fits = [timed(lambda: fit(mdp, ts)) for _ in range(repeat)]
    (inferred, iterations), fit_seconds, fit_peak = min(fits, key=lambda run: run[1])
    reports = [
        timed(lambda: sparse_report(mdp, ts, inferred, n_bootstrap, bootstrap_refit))
        for _ in range(repeat)
    ]
    refit_iterations, report_seconds, report_peak = min(reports, key=lambda run: run[1])
    dense_seconds = None
    if mdp.n_states <= dense_max_states:
        _, dense_seconds, _ = timed(lambda: dense_report(mdp, ts, inferred, n_bootstrap))
    estimate = report_memory_bytes(
        n_states=mdp.n_states,
        n_actions=mdp.n_actions,
        nnz=int(mdp.transitions.nnz),
        horizon=mdp.horizon,
        n_steps=ts.n_transitions,
        n_features=len(mdp.feature_names),
        n_bootstrap=n_bootstrap,
    )
    return Row(
        name=name,
        n_states=mdp.n_states,
        nnz=int(mdp.transitions.nnz),
        horizon=mdp.horizon,
        fit_seconds=fit_seconds,
        fit_iterations=iterations,
        report_seconds=report_seconds,
        refit_iterations=refit_iterations,
        fit_peak_mb=fit_peak,
        report_peak_mb=report_peak,
        estimate_mb=estimate / 2**20,
        dense_seconds=dense_seconds,
    )


def print_row(row: Row) -> None:
    """One line of the table (flushed: long runs show progress)."""
    dense = "-" if row.dense_seconds is None else f"{row.dense_seconds:8.1f}"
    speedup = (
        "-" if row.dense_seconds is None else f"{row.dense_seconds / row.report_seconds:6.1f}x"
    )
    print(
        f"| {row.name:14} | {row.n_states:>9,} | {row.horizon:>5} | {row.fit_seconds:8.2f} "
        f"({row.fit_iterations:>3} it) | {row.report_seconds:8.2f} "
        f"({row.refit_iterations:4.1f} it) "
        f"| {row.report_seconds / row.fit_seconds:5.2f} | {row.fit_peak_mb:8.1f} "
        f"| {row.report_peak_mb:8.1f} | {row.estimate_mb:8.1f} | {dense} | {speedup} |",
        flush=True,
    )


def maze_mdp(size: int) -> TabularMDP:
    """A training-distribution maze of that size (seed 1)."""
    return generate_maze(size=size, distribution="train", seed=1).to_mdp()


def main(argv: list[str] | None = None) -> None:
    """Run the sizes in order within the time budget and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="*", default=[32, 40, 100, 316])
    parser.add_argument("--mazes", type=int, nargs="*", default=[22, 25])
    parser.add_argument("--max-seconds", type=float, default=1500.0)
    parser.add_argument("--dense-max-states", type=int, default=3000)
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="fastest of this many runs")
    parser.add_argument(
        "--bootstrap-refit", choices=("newton", "converged", "one_step"), default="newton"
    )
    parser.add_argument("--untraced", action="store_true", help="time without tracemalloc")
    args = parser.parse_args(argv)
    global TRACE
    TRACE = not args.untraced
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)")
    print(
        "| environment | states | H | fit s (iterations) | sparse report s (mean refit it) "
        "| report / fit | fit peak MB | report peak MB | estimate MB | dense report s "
        "| dense / sparse |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    environments: list[tuple[str, Callable[[], TabularMDP]]] = []
    environments += [(f"maze {size}", partial(maze_mdp, size)) for size in args.mazes]
    environments += [(f"open {side}x{side}", partial(open_gridworld, side)) for side in args.sides]
    started = time.perf_counter()
    last_total = 0.0
    for name, build in environments:
        spent = time.perf_counter() - started
        if spent + 10 * last_total > args.max_seconds and last_total > 0:
            print(f"(stopped before {name}: {spent:.0f} s spent of {args.max_seconds:.0f})")
            break
        row = measure_size(
            name,
            build(),
            n_bootstrap=args.bootstrap,
            dense_max_states=args.dense_max_states,
            repeat=args.repeat,
            bootstrap_refit=args.bootstrap_refit,
        )
        print_row(row)
        last_total = row.fit_seconds + row.report_seconds + (row.dense_seconds or 0.0)


if __name__ == "__main__":
    main()
