"""The sampled report backend: a reward function (e.g. a network) on a gymnasium environment.

Exact returns, regret and the behaviour-model likelihood need a tabular model of the dynamics,
so this report carries what can be estimated from the rollouts: the registered distances'
sampled estimates (EPIC by Monte Carlo with coverage from the visited transitions, DARD where the
environment's dynamics are known, the Pearson distance on visited transitions) and returns under
both rewards. The verdict is then `inconclusive`, with the reason, rather than a guess.
"""

import numpy as np

from irl.divergence import NextStateSampler, RewardFn, SampledPair, distances
from irl.divergence.sampled import MAX_COVERAGE, MAX_DARD_COVERAGE, N_CANONICAL, N_DARD_ACTIONS
from irl.report.types import Coverage, Report, Returns
from irl.trajectories import TrajectorySet

RECORDED_ONLY = "the reference is known only on the visited transitions"
NO_DYNAMICS = "the environment's dynamics are not known"


def sampled_pair(
    a: RewardFn,
    b: RewardFn | np.ndarray,
    trajectories: TrajectorySet,
    *,
    discount: float,
    sample_next: NextStateSampler | None = None,
) -> SampledPair:
    """Two rewards on the trajectories' visited transitions; `b` is a function, or its values
    recorded on those transitions ((N,) float)."""
    visited = trajectories.transitions()
    b_visited = b if isinstance(b, np.ndarray) else b(*visited)
    return SampledPair(
        a=a,
        b=None if isinstance(b, np.ndarray) else b,
        a_visited=np.asarray(a(*visited), dtype=np.float64),
        b_visited=np.asarray(b_visited, dtype=np.float64),
        transitions=visited,
        discount=discount,
        sample_next=sample_next,
    )


def sampled_report(
    *,
    inferred: RewardFn,
    reference: RewardFn | np.ndarray,
    trajectories: TrajectorySet,
    discount: float,
    rng: np.random.Generator,
    sample_next: NextStateSampler | None = None,
) -> Report:
    """Sampled distances of an inferred reward to a reference reward function, or to rewards
    recorded on the visited transitions only ((N,) float array).

    DARD is estimated when the reference is a function and the dynamics (`sample_next`) are
    given.
    """
    pair = sampled_pair(
        inferred, reference, trajectories, discount=discount, sample_next=sample_next
    )
    metrics = distances(pair, rng)
    epic, dard, pearson = metrics["epic"], metrics["dard"], metrics["pearson"]
    n = trajectories.n_transitions
    return Report(
        metrics=metrics,
        returns=Returns(
            demo_under_training=_mean_return(trajectories, pair.b_visited, discount),
            demo_under_inferred=_mean_return(trajectories, pair.a_visited, discount),
        ),
        goal_directedness=None,
        verdict="inconclusive",
        explanation=(
            "inconclusive: for gymnasium environments mesascope estimates distances from the "
            f"rollouts (sampled EPIC {_shown(epic, RECORDED_ONLY)}; sampled DARD "
            f"{_shown(dard, RECORDED_ONLY if epic is None else NO_DYNAMICS)}; "
            f"Pearson distance on the visited transitions {pearson:.2f}), but the verdict "
            "also needs the achievable return and a "
            "behaviour-model likelihood, which are computed exactly for tabular environments "
            "only. Upload the rollouts with a tabular view of the environment (e.g. the maze "
            "suite's) for a verdict."
        ),
        distance_coverage="sampled from the rollouts' visited transitions (see `coverage`)",
        coverage=Coverage(
            transitions=min(n, MAX_COVERAGE) if epic is not None else 0,
            canonical_samples=N_CANONICAL if epic is not None else 0,
            dard_transitions=min(n, MAX_DARD_COVERAGE) if dard is not None else 0,
            dard_action_samples=N_DARD_ACTIONS if dard is not None else 0,
        ),
    )


def _shown(value: float | None, reason: str) -> str:
    """A distance to two decimals, or why it was not estimated."""
    return f"not estimated: {reason}" if value is None else f"{value:.2f}"


def _mean_return(trajectories: TrajectorySet, values: np.ndarray, discount: float) -> float:
    """Mean discounted return of the trajectories from per-transition rewards."""
    return float(trajectories.discounted_returns(values, discount).mean())
