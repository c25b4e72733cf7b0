"""The divergence report for network rewards on gymnasium environments: sampled distances.

Exact returns, regret and the behaviour-model likelihood need a tabular model of the dynamics,
so for gymnasium environments the report carries what can be estimated from the rollouts alone:
EPIC by Monte Carlo with coverage from the visited transitions (the EPIC paper's sample-based
canonicalisation), the Pearson distance on visited transitions, and returns under both rewards.
The verdict is then `inconclusive`, with the reason, rather than a guess.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from irl.divergence.epic import pearson_distance
from irl.divergence.sampled import TransitionBatch, sampled_epic_distance
from irl.trajectories import TrajectorySet

RewardCallable = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""R(obs (K, ...), acts (K, ...), next_obs (K, ...)) -> (K,) float rewards."""

MAX_COVERAGE = 2_000
"""Visited transitions used as EPIC's coverage (a random subset when there are more)."""
N_CANONICAL = 128
"""Samples of states and of actions in each canonicalisation expectation."""


def network_divergence_report(
    *,
    inferred: RewardCallable,
    trajectories: TrajectorySet,
    discount: float,
    rng: np.random.Generator,
    reference: RewardCallable | None = None,
    recorded: np.ndarray | None = None,
) -> dict[str, Any]:
    """Sampled distances of an inferred reward to a reference reward function (`reference`) or
    to rewards recorded on the visited transitions only (`recorded`, (N,) float)."""
    obs, acts, next_obs = trajectories.transitions()
    inferred_visited = np.asarray(inferred(obs, acts, next_obs), dtype=np.float64)
    if reference is not None:
        reference_visited = np.asarray(reference(obs, acts, next_obs), dtype=np.float64)
    elif recorded is not None:
        reference_visited = np.asarray(recorded, dtype=np.float64)
    else:
        raise ValueError("give a reference reward function or recorded rewards")
    epic = None
    if reference is not None:
        cover = rng.choice(len(obs), size=min(len(obs), MAX_COVERAGE), replace=False)
        states = obs[rng.integers(0, len(obs), N_CANONICAL)]
        actions = acts[rng.integers(0, len(acts), N_CANONICAL)]
        epic = sampled_epic_distance(
            inferred,
            reference,
            TransitionBatch(obs[cover], acts[cover], next_obs[cover]),
            discount=discount,
            states=states,
            actions=actions,
        )
    pearson = pearson_distance(inferred_visited, reference_visited)
    shown = "not estimable from recorded rewards" if epic is None else f"{epic:.2f}"
    return {
        "metrics": {"epic": epic, "dard": None, "starc": None, "pearson": pearson, "regret": None},
        "returns": {
            "normalized_under_training": None,
            "normalized_under_inferred": None,
            "demo_under_training": _mean_return(trajectories, reference_visited, discount),
            "demo_under_inferred": _mean_return(trajectories, inferred_visited, discount),
        },
        "goal_directedness": None,
        "verdict": "inconclusive",
        "explanation": (
            "inconclusive: for gymnasium environments mesascope estimates distances from the "
            f"rollouts (sampled EPIC {shown}; Pearson distance on the visited transitions "
            f"{pearson:.2f}), but the verdict also needs the achievable return and a "
            "behaviour-model likelihood, which are computed exactly for tabular environments "
            "only. Upload the rollouts with a tabular view of the environment (e.g. the maze "
            "suite's) for a verdict."
        ),
        "uncertainty": None,
        "coverage": {
            "transitions": int(min(len(obs), MAX_COVERAGE)),
            "canonical_samples": N_CANONICAL,
        },
    }


def _mean_return(trajectories: TrajectorySet, values: np.ndarray, discount: float) -> float:
    """Mean discounted return of the trajectories from per-transition rewards."""
    return float(trajectories.discounted_returns(values, discount).mean())
