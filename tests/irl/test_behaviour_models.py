"""The bias-inclusive null: behaviour-model fits, their nesting, calibration and invariances."""

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from irl.environments import TabularMDP
from irl.goal_directedness import (
    MAX_ABS_BIAS,
    ActionData,
    PlanningReward,
    _fit_bias,
    behaviour_logits,
    fit_behaviour,
    goal_directedness,
)
from irl.io.environments import parse_tabular_mdp
from irl.planning import soft_optimal_policy
from irl.rewards import LinearReward, reward_array
from irl.trajectories import TrajectorySet
from irl.verdict import Evidence, behaviour, decide
from tests.irl.gridworld import gridworld_spec
from tests.irl.policies import biased, sampled

GRID = gridworld_spec(rows=4, cols=4)


def evidence_of(mdp: TabularMDP, ts: TrajectorySet, weights: dict[str, float]) -> Evidence:
    """Evidence of the four tests for a given linear reward (3 parameters)."""
    g = goal_directedness(mdp, ts, reward_array(LinearReward(weights), mdp), n_parameters=3)
    return Evidence(
        normalized_training_return=0.0,
        epic=0.7,
        n_trajectories=ts.n_trajectories,
        n_actions=mdp.n_actions,
        **g.evidence_fields(),
    )


def test_the_bias_only_fit_is_the_action_frequencies() -> None:
    mdp = parse_tabular_mdp(GRID)
    ts = sampled(mdp, biased(mdp, "left", 0.6), 20, seed=51_000)
    fit = fit_behaviour(mdp, ActionData.of(mdp, ts), None)
    counts = np.bincount(ts.acts, minlength=mdp.n_actions)
    assert fit.action_probabilities == pytest.approx(counts / counts.sum())
    assert fit.log_likelihood == pytest.approx(
        float(np.sum(counts * np.log(counts / counts.sum())))
    )


def test_nested_models_are_ordered() -> None:
    mdp = parse_tabular_mdp(GRID)
    ts = sampled(mdp, biased(mdp, "left", 0.5), 20, seed=51_001)
    data = ActionData.of(mdp, ts)
    r = reward_array(LinearReward({"door": 1.0}), mdp)
    uniform = -ts.n_transitions * np.log(mdp.n_actions)
    bias = fit_behaviour(mdp, data, None).log_likelihood
    goal = fit_behaviour(mdp, data, r, bias=False).log_likelihood
    both = fit_behaviour(mdp, data, r).log_likelihood
    assert uniform <= goal + 1e-9 and uniform <= bias + 1e-9
    assert max(goal, bias) <= both + 1e-6


def test_a_soft_optimal_agent_recovers_its_inverse_temperature() -> None:
    mdp = parse_tabular_mdp(GRID)
    r = reward_array(LinearReward({"door": 1.0}), mdp)
    ts = sampled(mdp, soft_optimal_policy(mdp, 3.0 * r), 200, seed=51_002)
    fit = fit_behaviour(mdp, ActionData.of(mdp, ts), r)
    assert fit.inverse_temperature == pytest.approx(3.0, rel=0.2)
    assert max(fit.action_probabilities) < 0.35  # no habit to speak of


def test_an_action_habit_is_not_goal_directed() -> None:
    """The issue's case: a policy that repeats one action beats uniform random easily, but not
    the best fixed action distribution."""
    mdp = parse_tabular_mdp(GRID)
    ts = sampled(mdp, biased(mdp, "left", 0.6), 50, seed=51_003)
    evidence = evidence_of(mdp, ts, {"door": -0.3, "red": 0.2, "blue": 0.1})
    assert behaviour(evidence) == "action_bias"


def test_a_goal_seeker_is_goal_directed_beyond_its_action_marginal() -> None:
    mdp = parse_tabular_mdp(GRID)
    r = reward_array(LinearReward({"door": 1.0}), mdp)
    ts = sampled(mdp, soft_optimal_policy(mdp, 3.0 * r), 50, seed=51_004)
    assert behaviour(evidence_of(mdp, ts, {"door": 1.0})) == "goal_directed"


def test_always_right_in_a_corridor_is_indistinguishable_from_a_goal_on_the_right() -> None:
    """Moving right never reaches the wall within the horizon: a goal "further right" (a reward
    on the state reached, so the last action counts too) and a habit "right" predict every
    action equally well."""
    cols = 12
    spec = gridworld_spec(rows=1, cols=cols, start=(0, 0), horizon=8, red=(), blue=())
    mdp = parse_tabular_mdp(spec)
    ts = sampled(mdp, biased(mdp, "right", 1.0), 40, seed=51_005)
    x = np.arange(cols, dtype=np.float64) / (cols - 1)
    further_right = np.broadcast_to(x[None, None, :], (cols, mdp.n_actions, cols)).copy()
    g = goal_directedness(mdp, ts, further_right, n_parameters=cols)
    evidence = Evidence(
        normalized_training_return=0.0,
        epic=0.7,
        n_trajectories=ts.n_trajectories,
        n_actions=mdp.n_actions,
        **g.evidence_fields(),
    )
    assert behaviour(evidence) == "indistinguishable"
    assert decide(evidence)[0] == "inconclusive"


def test_under_the_bias_null_p_values_are_not_too_small() -> None:
    """Calibration: agents with a habit and no goal are rarely called goal-directed; the p-value
    of goal+bias vs bias is at least as large as uniform (the test is conservative)."""
    mdp = parse_tabular_mdp(GRID)
    r = reward_array(LinearReward({"door": 1.0, "red": -0.5, "blue": 0.5}), mdp)
    p_values = []
    for seed in range(51_100, 51_130):
        ts = sampled(mdp, biased(mdp, "up", 0.5), 20, seed=seed)
        p_values.append(goal_directedness(mdp, ts, r, n_parameters=3).p_value)
    # a fixed reward direction chosen without the data: beta alone is fitted (1 dof of 3)
    assert np.mean(np.array(p_values) < 0.05) <= 0.15
    assert scipy.stats.kstest(p_values, "uniform", alternative="greater").pvalue > 0.01


@settings(max_examples=15, deadline=None)
@given(
    scale=st.floats(min_value=0.1, max_value=10.0),
    shift=st.floats(min_value=-5.0, max_value=5.0),
)
def test_fits_are_invariant_to_positive_scale_and_constant(scale: float, shift: float) -> None:
    mdp = parse_tabular_mdp(GRID)
    r = reward_array(LinearReward({"door": 1.0, "red": 0.4}), mdp)
    ts = sampled(mdp, soft_optimal_policy(mdp, 2.0 * r), 10, seed=51_200)
    data = ActionData.of(mdp, ts)
    base = fit_behaviour(mdp, data, r).log_likelihood
    moved = fit_behaviour(mdp, data, scale * r + shift).log_likelihood
    assert moved == pytest.approx(base, abs=1e-4 * abs(base))


@pytest.mark.parametrize("beta", [4.0, 32.0, 256.0])
def test_the_bias_fit_reaches_the_maximum_from_any_start(beta: float) -> None:
    """Near-deterministic logits make Newton's step huge; capped and halved steps still reach
    the concave maximum (checked against a generic optimiser), from zeros or a far start."""
    mdp = parse_tabular_mdp(GRID)
    ts = sampled(mdp, biased(mdp, "left", 0.9), 6, seed=51_500)
    data = ActionData.of(mdp, ts)
    r = reward_array(LinearReward({"door": 1.0}), mdp)
    logits = behaviour_logits(mdp, data, PlanningReward.of(mdp, r))(beta)

    def negative(free: np.ndarray) -> float:
        shifted = logits + np.concatenate([[0.0], free])
        top = shifted.max(axis=1, keepdims=True)
        log_p = shifted - top - np.log(np.exp(shifted - top).sum(axis=1, keepdims=True))
        return -float(np.sum(data.counts * log_p))

    bounds = [(-MAX_ABS_BIAS, MAX_ABS_BIAS)] * (mdp.n_actions - 1)
    best = scipy.optimize.minimize(negative, np.zeros(mdp.n_actions - 1), bounds=bounds)
    far = np.array([0.0, *np.resize([20.0, -20.0, 5.0], mdp.n_actions - 1)])
    for start in (None, far):
        value, _ = _fit_bias(logits, data.counts, start)
        assert value >= -best.fun - 1e-6
