"""The divergence report for network rewards on gymnasium environments: sampled distances.

Exact returns, regret and the behaviour-model likelihood need a tabular model of the dynamics,
so for gymnasium environments the report carries what can be estimated from the rollouts: EPIC by
Monte Carlo with coverage from the visited transitions (the EPIC paper's sample-based
canonicalisation), DARD likewise where the environment's dynamics are known
(irl.environments.gym_dynamics), the Pearson distance on visited transitions, and returns under
both rewards. The verdict is then `inconclusive`, with the reason, rather than a guess.
"""

from typing import Any

import numpy as np

from irl.divergence.epic import pearson_distance
from irl.divergence.sampled import (
    NextStateSampler,
    RewardFn,
    TransitionBatch,
    sampled_dard_distance,
    sampled_epic_distance,
)
from irl.trajectories import TrajectorySet

MAX_COVERAGE = 2_000
"""Visited transitions used as EPIC's coverage (a random subset when there are more)."""
N_CANONICAL = 128
"""Samples of states and of actions in each EPIC canonicalisation expectation."""
RECORDED_ONLY = "the reference is known only on the visited transitions"
NO_DYNAMICS = "the environment's dynamics are not known"
MAX_DARD_COVERAGE = 500
"""Visited transitions used as DARD's coverage (each needs 2 x N_DARD_ACTIONS dynamics draws)."""
N_DARD_ACTIONS = 32
"""Action samples in each DARD canonicalisation expectation."""


def sampled_distances(
    reward_a: RewardFn,
    reward_b: RewardFn,
    transitions: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    discount: float,
    rng: np.random.Generator,
    sample_next: NextStateSampler | None = None,
) -> tuple[float, float | None]:
    """Sampled EPIC and DARD (None without the dynamics) between two reward functions, with
    coverage, state and action samples drawn from the visited (obs, acts, next_obs)."""
    obs, acts, next_obs = transitions
    cover = rng.choice(len(obs), size=min(len(obs), MAX_COVERAGE), replace=False)
    epic = sampled_epic_distance(
        reward_a,
        reward_b,
        TransitionBatch(obs[cover], acts[cover], next_obs[cover]),
        discount=discount,
        states=obs[rng.integers(0, len(obs), N_CANONICAL)],
        actions=acts[rng.integers(0, len(acts), N_CANONICAL)],
    )
    if sample_next is None:
        return epic, None
    cover = rng.choice(len(obs), size=min(len(obs), MAX_DARD_COVERAGE), replace=False)
    dard = sampled_dard_distance(
        reward_a,
        reward_b,
        TransitionBatch(obs[cover], acts[cover], next_obs[cover]),
        discount=discount,
        actions=acts[rng.integers(0, len(acts), N_DARD_ACTIONS)],
        sample_next=sample_next,
    )
    return epic, dard


def network_divergence_report(
    *,
    inferred: RewardFn,
    trajectories: TrajectorySet,
    discount: float,
    rng: np.random.Generator,
    reference: RewardFn | None = None,
    recorded: np.ndarray | None = None,
    sample_next: NextStateSampler | None = None,
) -> dict[str, Any]:
    """Sampled distances of an inferred reward to a reference reward function (`reference`) or
    to rewards recorded on the visited transitions only (`recorded`, (N,) float).

    DARD is estimated when a reference function and the dynamics (`sample_next`) are given.
    """
    obs, acts, next_obs = trajectories.transitions()
    inferred_visited = np.asarray(inferred(obs, acts, next_obs), dtype=np.float64)
    epic = dard = None
    if reference is not None:
        reference_visited = np.asarray(reference(obs, acts, next_obs), dtype=np.float64)
        epic, dard = sampled_distances(
            inferred,
            reference,
            (obs, acts, next_obs),
            discount=discount,
            rng=rng,
            sample_next=sample_next,
        )
    elif recorded is not None:
        reference_visited = np.asarray(recorded, dtype=np.float64)
    else:
        raise ValueError("give a reference reward function or recorded rewards")
    pearson = pearson_distance(inferred_visited, reference_visited)
    return {
        "metrics": {"epic": epic, "dard": dard, "starc": None, "pearson": pearson, "regret": None},
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
            f"rollouts (sampled EPIC {_shown(epic, RECORDED_ONLY)}; sampled DARD "
            f"{_shown(dard, RECORDED_ONLY if epic is None else NO_DYNAMICS)}; "
            f"Pearson distance on the visited transitions {pearson:.2f}), but the verdict "
            "also needs the achievable return and a "
            "behaviour-model likelihood, which are computed exactly for tabular environments "
            "only. Upload the rollouts with a tabular view of the environment (e.g. the maze "
            "suite's) for a verdict."
        ),
        "uncertainty": None,
        "coverage": {
            "transitions": int(min(len(obs), MAX_COVERAGE)) if epic is not None else 0,
            "canonical_samples": N_CANONICAL if epic is not None else 0,
            "dard_transitions": int(min(len(obs), MAX_DARD_COVERAGE)) if dard is not None else 0,
            "dard_action_samples": N_DARD_ACTIONS if dard is not None else 0,
        },
    }


def _shown(value: float | None, reason: str) -> str:
    """A distance to two decimals, or why it was not estimated."""
    return f"not estimated: {reason}" if value is None else f"{value:.2f}"


def _mean_return(trajectories: TrajectorySet, values: np.ndarray, discount: float) -> float:
    """Mean discounted return of the trajectories from per-transition rewards."""
    return float(trajectories.discounted_returns(values, discount).mean())
