"""The per-environment breakdown of a pooled report: the pooled fit's reward judged in each
environment alone (return, goal-directedness, EPIC and the verdict there).

The pooled verdict is `build_report` on the pooled MDP; this module adds one row per environment
by calling the same public builder on each block's own MDP and trajectories, without a bootstrap
(the pooled verdict carries the uncertainty) and without per-feature goals (the pooled report
tests those).
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from irl.environments.pooled import PooledMDP, split_trajectories
from irl.report import ConcreteReward, Exact, build_report, reward_parameters
from irl.rewards import LinearReward, TabularReward
from irl.trajectories import TrajectorySet
from irl.verdict import Behaviour, Verdict

BREAKDOWN_MONTE_CARLO_SAMPLES = 200
"""Monte Carlo samples of each row's optimisation power (the pooled report uses the default)."""


@dataclass(frozen=True)
class EnvironmentBreakdown:
    """The pooled fit's reward in one environment of the set (None: not computed there)."""

    environment: int
    """Index into the rollout set's environments."""
    name: str
    n_states: int
    n_trajectories: int
    n_transitions: int
    epic: float | None
    """EPIC distance between the inferred and the reference reward in this environment."""
    normalized_return: float | None
    """The demonstrations' normalised return under the reference reward here."""
    demo_return: float | None
    """Their mean return under the reference reward here."""
    log_likelihood_ratio_per_step: float | None
    """Gain of the inferred reward over the best fixed action distribution, nats per step."""
    p_value: float | None
    behaviour: Behaviour | None
    verdict: Verdict | None
    note: str | None = None
    """Why the row is empty (no trajectories in this environment)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


def per_environment(
    pooled: PooledMDP,
    trajectories: TrajectorySet,
    *,
    inferred: ConcreteReward,
    reference: ConcreteReward,
    reward_model: str,
    rng: np.random.Generator,
) -> tuple[EnvironmentBreakdown, ...]:
    """One row per environment of `pooled` (trajectories in pooled state indices); the
    likelihood test counts the free parameters of `reward_model` in that environment."""
    rows = []
    for k, own in enumerate(split_trajectories(pooled, trajectories)):
        mdp = pooled.block(k)
        counts: dict[str, Any] = {
            "environment": k,
            "name": pooled.names[k],
            "n_states": mdp.n_states,
            "n_trajectories": 0 if own is None else own.n_trajectories,
            "n_transitions": 0 if own is None else own.n_transitions,
        }
        if own is None:
            rows.append(_empty(counts, "no trajectories"))
            continue
        subject = Exact(
            mdp,
            _block_reward(inferred, pooled, k),
            _block_reward(reference, pooled, k),
            reward_parameters(reward_model, mdp),
            feature_goals=False,
        )
        report = build_report(
            subject, own, rng=rng, n_bootstrap=0, n_monte_carlo=BREAKDOWN_MONTE_CARLO_SAMPLES
        )
        directed = report.goal_directedness
        rows.append(
            EnvironmentBreakdown(
                **counts,
                epic=report.metrics.get("epic"),
                normalized_return=report.returns.normalized_under_training,
                demo_return=report.returns.demo_under_training,
                log_likelihood_ratio_per_step=(
                    None if directed is None else directed.log_likelihood_ratio_per_step
                ),
                p_value=None if directed is None else directed.p_value,
                behaviour=None if directed is None else directed.behaviour,
                verdict=report.verdict,
            )
        )
    return tuple(rows)


def _empty(counts: dict[str, Any], note: str) -> EnvironmentBreakdown:
    """A row with counts only."""
    return EnvironmentBreakdown(
        **counts,
        epic=None,
        normalized_return=None,
        demo_return=None,
        log_likelihood_ratio_per_step=None,
        p_value=None,
        behaviour=None,
        verdict=None,
        note=note,
    )


def _block_reward(reward: ConcreteReward, pooled: PooledMDP, k: int) -> ConcreteReward:
    """A pooled reward restricted to environment k (a linear reward is the same everywhere)."""
    if isinstance(reward, LinearReward):
        return reward
    start, stop = int(pooled.offsets[k]), int(pooled.offsets[k + 1])
    values = reward.values
    if values.ndim == 3:
        return TabularReward(values[start:stop, :, start:stop])
    return TabularReward(values[start:stop])
