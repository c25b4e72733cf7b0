"""One goal, or different goals in different episodes? A mixture of named goals across episodes.

Each episode is scored under each named goal's behaviour model (its fitted beta and action bias,
irl.goal_directedness.fit_behaviour) and under the bias-only model ("no goal": a mixture of goals
must not be made up from random stretches). The mixing proportions (the share of episodes each
model generated) are fitted by maximum likelihood with EM: the log-likelihood is concave in them.
The mixture is tested against the best single goal (components fixed; the null is on the
boundary of the simplex, so chi^2 with components - 1 degrees of freedom is conservative), and
the free IRL fit against the mixture. docs/verdicts.md derives the rule that reads them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from irl.goal_directedness import ActionData, LikelihoodTest, likelihood_test
from irl.trajectories import TrajectorySet

NO_GOAL = "(no goal)"
"""The bias-only component's name: episodes explained by a fixed action preference."""
EM_ITERATIONS = 2000
EM_TOLERANCE = 1e-9
"""EM stops when an iteration improves the total log-likelihood by less than this (nats)."""


@dataclass(frozen=True)
class EpisodeMixture:
    """The named goals (and no goal) as a mixture across episodes."""

    shares: Mapping[str, float]
    """Fitted share of episodes per component (candidate name, or NO_GOAL), largest first."""
    same_goal_share: float | None
    """Among the goal-pursuing share (NO_GOAL excluded), the part on candidates equivalent to the
    training reward (EPIC below far_epic); None when no episode pursues a goal."""
    log_likelihood_per_step: float
    versus_best: LikelihoodTest
    """The mixture against the best single candidate (dof: components - 1; conservative)."""
    free_versus_mixture: LikelihoodTest
    """The free IRL fit against the mixture (dof: the fit's reward parameters; not nested, an
    approximation)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**asdict(self), "shares": dict(self.shares)}


def step_pairs(n_states: int, data: ActionData, trajectories: TrajectorySet) -> np.ndarray:
    """(N,) int64: each transition's row in `data` (its distinct (t, s) pair)."""
    states, _, _ = trajectories.transitions()
    keys = np.asarray(trajectories.timesteps, dtype=np.int64) * n_states + states
    rows = data.times * n_states + data.states
    return np.asarray(np.searchsorted(rows, keys), dtype=np.int64)


def episode_log_likelihoods(
    log_policy: np.ndarray, pairs: np.ndarray, trajectories: TrajectorySet
) -> np.ndarray:
    """(n_traj,) float64 log-probability of each episode's actions under a (U, A) log policy."""
    steps = log_policy[pairs, np.asarray(trajectories.acts, dtype=np.int64)]
    return np.bincount(
        trajectories.trajectory_of_transition,
        weights=steps,
        minlength=trajectories.n_trajectories,
    )


def mixing_proportions(log_likelihoods: np.ndarray) -> tuple[np.ndarray, float]:
    """Maximum-likelihood shares w (K,) of a mixture of K fixed components and its total
    log-likelihood, from (n_episodes, K) per-episode log-likelihoods (EM from uniform)."""
    top = log_likelihoods.max(axis=1)
    likelihoods = np.exp(log_likelihoods - top[:, None])
    n_components = log_likelihoods.shape[1]
    weights = np.full(n_components, 1.0 / n_components)
    mixed = likelihoods @ weights
    total = float(np.log(mixed).sum() + top.sum())
    for _ in range(EM_ITERATIONS):
        weights = weights * (likelihoods / mixed[:, None]).mean(axis=0)
        mixed = likelihoods @ weights
        previous, total = total, float(np.log(mixed).sum() + top.sum())
        if total - previous <= EM_TOLERANCE:
            break
    return weights, total


def episode_mixture(
    names: Sequence[str],
    same_goal: Sequence[bool],
    log_likelihoods: np.ndarray,
    *,
    free_log_likelihood: float,
    free_parameters: int,
    n_steps: int,
) -> EpisodeMixture:
    """The mixture of the candidates `names` (their per-episode log-likelihoods are the columns
    of (n_episodes, K + 1) `log_likelihoods`, the last column the bias-only model) and its tests.

    same_goal[k]: whether candidate k is equivalent to the training reward.
    """
    weights, total = mixing_proportions(log_likelihoods)
    best_single = float(log_likelihoods[:, :-1].sum(axis=0).max())
    components = [*names, NO_GOAL]
    goal_share = float(weights[:-1].sum())
    same = float(sum(w for w, s in zip(weights[:-1], same_goal, strict=True) if s))
    order = np.argsort(-weights, kind="stable")
    return EpisodeMixture(
        shares={components[k]: float(weights[k]) for k in order},
        same_goal_share=same / goal_share if goal_share > 0 else None,
        log_likelihood_per_step=total / max(n_steps, 1),
        versus_best=likelihood_test(total, best_single, len(components) - 1, n_steps),
        free_versus_mixture=likelihood_test(
            free_log_likelihood, total, max(free_parameters, 1), n_steps
        ),
    )
