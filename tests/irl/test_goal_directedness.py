"""Goal-directedness: the likelihood-ratio test, its effect size, and optimisation power."""

import numpy as np
import pytest
import scipy.stats

from irl.algorithms import mce_irl
from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from irl.goal_directedness import (
    goal_directedness,
    optimisation_power,
    preference_gain,
    random_policy_returns,
)
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.planning import policy_value, uniform_policy
from irl.rewards import LinearReward, TabularReward, reward_array
from irl.trajectories import TrajectorySet
from irl.verdict import Evidence, Thresholds, is_goal_directed
from tests.irl.gridworld import gridworld_spec, sample_trajectories

GRID = gridworld_spec(rows=4, cols=4)


def fitted_test(seed: int, weights: dict[str, float], n: int = 30) -> tuple[float, float]:
    """(p-value, gain per step) of linear MCE IRL on n trajectories of a soft-optimal agent."""
    mdp = parse_tabular_mdp(GRID)
    rng = np.random.default_rng(seed)
    ts = parse_trajectories(sample_trajectories(GRID, n=n, rng=rng, reward=weights))
    reward = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=rng).reward
    result = goal_directedness(mdp, ts, reward_array(reward, mdp), n_parameters=3)
    return result.p_value, result.log_likelihood_ratio_per_step


def not_goal_directed(p_value: float, gain: float) -> bool:
    """Whether the default thresholds call this evidence not goal-directed (5 actions)."""
    evidence = Evidence(
        normalized_training_return=0.0,
        p_value=p_value,
        log_likelihood_ratio_per_step=gain,
        epic=1.0,
        n_trajectories=30,
        n_actions=5,
    )
    return not is_goal_directed(evidence, Thresholds())


def test_random_walker_p_values_are_roughly_uniform_and_not_goal_directed() -> None:
    results = [fitted_test(seed, {}) for seed in range(41_000, 41_040)]
    p_values = np.array([p for p, _ in results])
    assert scipy.stats.kstest(p_values, "uniform").pvalue > 0.01
    assert all(not_goal_directed(p, gain) for p, gain in results)


def test_expert_is_goal_directed_with_tiny_p_value() -> None:
    p_value, gain = fitted_test(41_100, {"door": 3.0})
    assert p_value < 1e-20
    assert not not_goal_directed(p_value, gain)


def test_uniform_reward_gains_nothing(grid5: TabularMDP) -> None:
    ts = parse_trajectories(
        sample_trajectories(gridworld_spec(rows=5, cols=5), n=5, rng=np.random.default_rng(3))
    )
    zero = np.zeros((grid5.n_states, grid5.n_actions, grid5.n_states))
    result = goal_directedness(grid5, ts, zero, n_parameters=3)
    assert result.log_likelihood_ratio_per_step == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)


def test_preference_gain_matches_hand_computed_kl() -> None:
    expected = (2 / 3) * np.log(4 / 3) + (1 / 3) * np.log(2 / 3)
    assert preference_gain(2, 2.0) == pytest.approx(expected)
    assert preference_gain(5, 1.0) == pytest.approx(0.0, abs=1e-15)
    assert preference_gain(5, 2.0) == pytest.approx(0.0487275, rel=1e-5)
    with pytest.raises(InvalidInputError):
        preference_gain(1, 2.0)


def two_state_demo(mdp: TabularMDP) -> TrajectorySet:
    """One trajectory 0 -switch-> 1 -stay-> 1: return 0 + 0.5 * 1 under R = [0, 1]."""
    return parse_trajectories([{"obs": [0, 1, 1], "acts": [1, 0]}])


def test_optimisation_power_exact_on_two_states(two_state: TabularMDP) -> None:
    # A random agent from state 0 earns 0 or 0.5 with probability 1/2 each; the demo earns 0.5.
    reward = reward_array(TabularReward(np.array([0.0, 1.0])), two_state)
    power = optimisation_power(
        two_state, reward, two_state_demo(two_state), rng=np.random.default_rng(0)
    )
    assert power.method == "exact"
    assert power.demo_return == pytest.approx(0.5)
    assert power.fraction == pytest.approx(0.5)
    assert power.bits == pytest.approx(1.0)


def test_optimisation_power_monte_carlo_agrees_with_exact(two_state: TabularMDP) -> None:
    reward = reward_array(TabularReward(np.array([0.0, 1.0])), two_state)
    power = optimisation_power(
        two_state,
        reward,
        two_state_demo(two_state),
        rng=np.random.default_rng(1),
        n_samples=20_000,
        max_exact_support=0,
    )
    assert power.method == "monte_carlo"
    assert power.n_samples == 20_000
    assert power.bits == pytest.approx(1.0, abs=0.03)
    assert not power.lower_bound


def test_optimisation_power_exact_and_monte_carlo_agree_on_a_gridworld(grid5: TabularMDP) -> None:
    spec = gridworld_spec(rows=5, cols=5)
    ts = parse_trajectories(sample_trajectories(spec, n=20, rng=np.random.default_rng(41_200)))
    reward = reward_array(LinearReward({"door": 1.0, "red": 0.3, "blue": -0.2}), grid5)
    exact = optimisation_power(grid5, reward, ts, rng=np.random.default_rng(0))
    sampled = optimisation_power(
        grid5, reward, ts, rng=np.random.default_rng(0), n_samples=50_000, max_exact_support=0
    )
    assert exact.method == "exact"
    assert exact.bits > 3.0
    standard_error = np.sqrt(exact.fraction * (1 - exact.fraction) / 50_000)
    assert sampled.fraction == pytest.approx(exact.fraction, abs=4 * standard_error + 1e-4)


def test_monte_carlo_lower_bound_when_no_sample_reaches(grid5: TabularMDP) -> None:
    spec = gridworld_spec(rows=5, cols=5, start=(0, 0))
    mdp = parse_tabular_mdp(spec)
    ts = parse_trajectories(
        sample_trajectories(spec, n=10, rng=np.random.default_rng(41_300), temperature=0.01)
    )
    reward = reward_array(LinearReward({"door": 1.0}), mdp)
    power = optimisation_power(
        mdp, reward, ts, rng=np.random.default_rng(0), n_samples=99, max_exact_support=0
    )
    assert power.lower_bound
    assert power.fraction == pytest.approx(1 / 100)
    assert power.bits == pytest.approx(np.log2(100))


def test_random_policy_returns_average_to_the_uniform_policy_value(grid5: TabularMDP) -> None:
    reward = reward_array(LinearReward({"door": 1.0, "red": -0.5}), grid5)
    returns = random_policy_returns(
        grid5,
        lambda s, a, s_next: reward[s, a, s_next],
        grid5.initial_state_dist,
        n=40_000,
        rng=np.random.default_rng(5),
    )
    expected = policy_value(grid5, reward, uniform_policy(grid5))
    assert returns.mean() == pytest.approx(expected, abs=4 * returns.std() / 200)


def test_optimisation_power_is_deterministic_given_rng(grid5: TabularMDP) -> None:
    spec = gridworld_spec(rows=5, cols=5)
    ts = parse_trajectories(sample_trajectories(spec, n=5, rng=np.random.default_rng(7)))
    reward = reward_array(LinearReward({"door": 1.0}), grid5)
    first, second = (
        optimisation_power(grid5, reward, ts, rng=np.random.default_rng(9), max_exact_support=0)
        for _ in range(2)
    )
    assert first == second
