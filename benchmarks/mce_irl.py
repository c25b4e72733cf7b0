"""Benchmark MCE IRL solvers: fast (sparse, L-BFGS) against imitation's (dense, Adam).

Both fit a linear reward to 50 soft-optimal expert trajectories on open n x n gridworlds
(5 actions, horizon 2n, door reward 3) in one process, with mce_irl's default parameters, and
the table gives each solver's time to convergence, their ratio and the EPIC distance between
their rewards. imitation's solver gets --max-seconds per size; when it runs out, the row says
how far it got and its time per iteration. --big fits a 316 x 316 gridworld (~100,000 states)
with the fast solver alone and reports time and peak memory.

    .venv/bin/python -m benchmarks.mce_irl [--sizes 8 16 24 32 48 64] [--max-seconds 120] [--big]
"""

import argparse
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from irl.algorithms import Cancelled, InferenceResult, Progress, Solver, mce_irl
from irl.algorithms.fast_mce import SparseDynamics, soft_values
from irl.divergence import pearson_distance
from irl.environments import TabularMDP
from irl.rewards import LinearReward, TabularReward, linear_state_values
from irl.trajectories import TrajectorySet

MOVES = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)])
FEATURE_NAMES = ("door", "red", "blue")
TRUE_REWARD = LinearReward({"door": 3.0})
N_TRAJECTORIES = 50
BIG_SIDE = 316
DEFAULT_SIZES = (8, 16, 24, 32, 48, 64)


@dataclass(frozen=True)
class Timed:
    """One solver run: its result (None if nothing finished), wall and CPU time, iterations."""

    result: InferenceResult | None
    seconds: float
    cpu_seconds: float
    iterations: int
    finished: bool


def open_gridworld(side: int) -> TabularMDP:
    """An open side x side grid (walls block moves), door bottom-right, red and blue cells."""
    rows, cols = np.divmod(np.arange(side * side), side)
    target_rows = np.clip(rows[:, None] + MOVES[None, :, 0], 0, side - 1)
    target_cols = np.clip(cols[:, None] + MOVES[None, :, 1], 0, side - 1)
    targets = (target_rows * side + target_cols).ravel()
    n_pairs = targets.size
    transitions = scipy.sparse.csr_array(
        (np.ones(n_pairs), targets, np.arange(n_pairs + 1)), shape=(n_pairs, side * side)
    )
    cells = {
        "door": [(side - 1, side - 1)],
        "red": [(1, side - 2), (side // 2, side // 2), (side - 2, 1)],
        "blue": [(1, 1), (side - 2, side - 2)],
    }
    features = np.zeros((side * side, len(FEATURE_NAMES)))
    for column, name in enumerate(FEATURE_NAMES):
        for r, c in cells[name]:
            features[r * side + c, column] = 1.0
    return TabularMDP(
        name=f"open-{side}x{side}",
        n_states=side * side,
        n_actions=len(MOVES),
        transitions=transitions,
        initial_state_dist=np.full(side * side, 1.0 / (side * side)),
        horizon=2 * side,
        discount=1.0,
        feature_names=FEATURE_NAMES,
        features=features,
    )


def expert_trajectories(mdp: TabularMDP, *, n: int, rng: np.random.Generator) -> TrajectorySet:
    """n full-horizon trajectories of the soft-optimal policy for TRUE_REWARD (sparse sampling)."""
    rewards = linear_state_values(TRUE_REWARD, mdp.feature_names, mdp.features)
    dynamics = SparseDynamics.of(
        mdp.transitions,
        n_actions=mdp.n_actions,
        horizon=mdp.horizon,
        discount=mdp.discount,
        initial_dist=mdp.initial_state_dist,
    )
    values = soft_values(dynamics, rewards)
    transitions = scipy.sparse.csr_array(mdp.transitions)
    states = rng.choice(mdp.n_states, size=n, p=mdp.initial_state_dist)
    obs, acts = [states], []
    for t in range(mdp.horizon):
        pairs = states[:, None] * mdp.n_actions + np.arange(mdp.n_actions)
        expected = (transitions[pairs.ravel()] @ values[t + 1]).reshape(n, mdp.n_actions)
        q = rewards[states, None] + mdp.discount * expected
        policy = np.exp(q - values[t][states, None])
        actions = _sample_rows(rng, policy)
        states = _next_states(mdp, states * mdp.n_actions + actions, rng)
        acts.append(actions)
        obs.append(states)
    return TrajectorySet(
        obs=np.stack(obs, axis=1).ravel(),
        acts=np.stack(acts, axis=1).ravel(),
        rews=None,
        terminal=np.zeros(n, dtype=bool),
        lengths=np.full(n, mdp.horizon, dtype=np.int64),
    )


def state_epic(
    a: TabularReward | LinearReward, b: TabularReward | LinearReward, mdp: TabularMDP
) -> float:
    """EPIC distance (uniform coverage) of two state rewards, without (S, A, S) arrays.

    For R(s, a, s') = r(s), EPIC's canonical reward is gamma * (r(s') - mean r), so the distance
    is the Pearson distance of the two state-reward vectors.
    """
    return pearson_distance(_state_values(a, mdp), _state_values(b, mdp))


def timed_fit(
    mdp: TabularMDP, ts: TrajectorySet, *, solver: Solver, max_seconds: float | None
) -> Timed:
    """Run mce_irl with one solver, stopping (after the current chunk) past max_seconds."""
    start, cpu_start = time.perf_counter(), time.process_time()
    reports: list[Progress] = []

    def out_of_time() -> bool:
        return max_seconds is not None and time.perf_counter() - start > max_seconds

    try:
        result = mce_irl(
            mdp=mdp,
            trajectories=ts,
            reward_model="linear",
            rng=np.random.default_rng(0),
            solver=solver,
            progress=reports.append,
            should_stop=out_of_time,
        )
    except Cancelled:
        iterations = reports[-1].iteration if reports else 0
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return Timed(None, wall, cpu, iterations, finished=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Timed(result, wall, cpu, result.n_iterations, finished=True)


def probe_one_iteration(mdp: TabularMDP, ts: TrajectorySet) -> Timed:
    """imitation's solver stopped after a single iteration (setup included)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    mce_irl(
        mdp=mdp,
        trajectories=ts,
        reward_model="linear",
        rng=np.random.default_rng(0),
        solver="imitation",
        max_iter=1,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Timed(None, wall, cpu, 1, finished=False)


def compare(
    side: int, max_seconds: float, reference_iterations: int | None
) -> tuple[str, int | None]:
    """One table row for an n x n gridworld, and imitation's iteration count if it converged."""
    mdp = open_gridworld(side)
    ts = expert_trajectories(mdp, n=N_TRAJECTORIES, rng=np.random.default_rng(side))
    fast = timed_fit(mdp, ts, solver="fast", max_seconds=None)
    assert fast.result is not None
    probe = probe_one_iteration(mdp, ts)
    if probe.seconds * 10 > max_seconds:
        slow = probe
    else:
        slow = timed_fit(mdp, ts, solver="imitation", max_seconds=max_seconds)
    cells = [f"{side}x{side}", str(mdp.n_states), str(mdp.horizon)]
    cells.append(f"{fast.seconds:.2f} s, CPU {fast.cpu_seconds:.2f} s ({fast.iterations} it)")
    if slow.finished and slow.result is not None:
        cells.append(f"{slow.seconds:.1f} s, CPU {slow.cpu_seconds:.1f} s ({slow.iterations} it)")
        cells.append(f"{slow.seconds / fast.seconds:.0f}x")
        cells.append(f"{state_epic(fast.result.reward, slow.result.reward, mdp):.4f}")
        return " | ".join(cells), slow.iterations
    seconds_per_it = slow.seconds / max(slow.iterations, 1)
    estimate = ""
    if reference_iterations is not None:
        estimate = f"; ~{reference_iterations * seconds_per_it:.0f} s at {reference_iterations} it"
    cells.append(
        f"> {max_seconds:.0f} s (stopped after {slow.iterations} it, "
        f"{seconds_per_it:.2f} s/it{estimate})"
    )
    cells.append(f"> {max_seconds / fast.seconds:.0f}x")
    cells.append("n/a (not converged)")
    return " | ".join(cells), reference_iterations


def run_sizes(sizes: list[int], max_seconds: float) -> None:
    """Print the comparison table for the given grid sides."""
    print("| grid | states | horizon | fast | imitation | speed-up | EPIC(fast, imitation) |")
    print("|---|---|---|---|---|---|---|")
    reference: int | None = None
    for side in sizes:
        row, reference = compare(side, max_seconds, reference)
        print(f"| {row} |", flush=True)


def run_big() -> None:
    """Fit the 316 x 316 gridworld with the fast solver; print time, iterations and peak RSS."""
    mdp = open_gridworld(BIG_SIDE)
    ts = expert_trajectories(mdp, n=N_TRAJECTORIES, rng=np.random.default_rng(BIG_SIDE))
    fast = timed_fit(mdp, ts, solver="fast", max_seconds=None)
    assert fast.result is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    weights = fast.result.reward.weights if isinstance(fast.result.reward, LinearReward) else {}
    print(
        f"{BIG_SIDE}x{BIG_SIDE}: {mdp.n_states} states, horizon {mdp.horizon}: fast solver "
        f"{fast.seconds:.1f} s (CPU {fast.cpu_seconds:.1f} s), {fast.iterations} iterations, "
        "converged "
        f"{fast.result.converged}, peak RSS {peak_mb:.0f} MB, weights "
        + ", ".join(f"{k}={v:.3f}" for k, v in weights.items())
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="time budget of imitation's solver"
    )
    parser.add_argument("--big", action="store_true", help="only the 316 x 316 fast run")
    args = parser.parse_args(argv)
    machine = platform.processor() or platform.machine()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"# {machine}, {os.cpu_count()} cores, load average {load}, python {sys.version.split()[0]}"
    )
    if args.big:
        run_big()
    else:
        run_sizes(args.sizes, args.max_seconds)


def _state_values(reward: TabularReward | LinearReward, mdp: TabularMDP) -> np.ndarray:
    """(S,) state rewards of a linear or state-tabular reward."""
    if isinstance(reward, LinearReward):
        return linear_state_values(reward, mdp.feature_names, mdp.features)
    return np.asarray(reward.values, dtype=np.float64).reshape(mdp.n_states)


def _sample_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One column index per row of an (n, k) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), probabilities.shape[1] - 1)


def _next_states(mdp: TabularMDP, pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A next state for each (s * A + a) row, drawn from the sparse transitions."""
    matrix = mdp.transitions
    out = np.empty(len(pairs), dtype=np.int64)
    for i, row in enumerate(pairs):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        out[i] = matrix.indices[lo + _sample_rows(rng, matrix.data[None, lo:hi])[0]]
    return out


if __name__ == "__main__":
    main()
