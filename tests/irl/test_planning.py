"""Planning against hand-computed values on the two-state MDP, and against imitation."""

import numpy as np
import pytest
from imitation.algorithms.mce_irl import mce_partition_fh
from seals.base_envs import TabularModelPOMDP

from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.planning import (
    action_log_likelihood,
    discounted_returns,
    expected_rewards,
    normalized_return,
    optimal_policy,
    policy_value,
    soft_optimal_policy,
    uniform_policy,
)
from irl.rewards import LinearReward, TabularReward, reward_array
from tests.irl.assertions import problems
from tests.irl.gridworld import two_state_spec

# Two-state MDP: action 0 stays, action 1 switches; R(s, a, s') = [0, 1][s]; H = 2; gamma = 0.5;
# start in state 0. By hand:
#   t=1: Q(s0, .) = 0, Q(s1, .) = 1             -> V1 = [0, 1], both actions tied
#   t=0: Q(s0, stay) = 0 + 0.5 * 0 = 0, Q(s0, switch) = 0 + 0.5 * 1 = 0.5   -> optimal J = 0.5
#   uniform: V1 = [0, 1]; V0(s0) = 0 + 0.5 * (0.5 * 0 + 0.5 * 1) = 0.25     -> random J = 0.25
#   soft: V1 = [log 2, 1 + log 2]; pi0(switch | s0) = e^0.5 / (1 + e^0.5)


def state_reward(mdp: TabularMDP) -> np.ndarray:
    """Dense R = [0, 1] by state."""
    return reward_array(TabularReward(np.array([0.0, 1.0])), mdp)


def test_expected_rewards(two_state: TabularMDP) -> None:
    r = np.arange(8, dtype=float).reshape(2, 2, 2)
    np.testing.assert_array_equal(expected_rewards(two_state, r), [[0.0, 3.0], [5.0, 6.0]])


def test_optimal_policy_by_hand(two_state: TabularMDP) -> None:
    policy = optimal_policy(two_state, state_reward(two_state))
    np.testing.assert_array_equal(policy[0], [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(policy[1], [[0.5, 0.5], [0.5, 0.5]])
    assert policy_value(two_state, state_reward(two_state), policy) == pytest.approx(0.5)


def test_uniform_policy_value_by_hand(two_state: TabularMDP) -> None:
    value = policy_value(two_state, state_reward(two_state), uniform_policy(two_state))
    assert value == pytest.approx(0.25)


def test_stationary_and_time_indexed_policies_agree(two_state: TabularMDP) -> None:
    stationary = np.array([[0.3, 0.7], [0.9, 0.1]])
    reward = state_reward(two_state)
    assert policy_value(two_state, reward, stationary) == pytest.approx(
        policy_value(two_state, reward, np.stack([stationary, stationary]))
    )


def test_soft_optimal_policy_by_hand(two_state: TabularMDP) -> None:
    policy = soft_optimal_policy(two_state, state_reward(two_state))
    switch = np.exp(0.5) / (1.0 + np.exp(0.5))
    np.testing.assert_allclose(policy[0, 0], [1.0 - switch, switch])
    np.testing.assert_allclose(policy[1], 0.5)


def test_soft_optimal_policy_matches_imitation(grid5: TabularMDP) -> None:
    reward = LinearReward({"door": 2.0, "red": -1.0})
    env = TabularModelPOMDP(
        transition_matrix=grid5.dense_transitions(),
        observation_matrix=grid5.features.copy(),
        reward_matrix=np.zeros(grid5.n_states),
        horizon=grid5.horizon,
        initial_state_dist=grid5.initial_state_dist.copy(),
    )
    state_values = grid5.features @ np.array([2.0, -1.0, 0.0])
    _, _, expected = mce_partition_fh(env, reward=state_values, discount=grid5.discount)
    np.testing.assert_allclose(
        soft_optimal_policy(grid5, reward_array(reward, grid5)), expected, rtol=1e-10, atol=1e-12
    )


def test_low_temperature_approaches_optimal(two_state: TabularMDP) -> None:
    policy = soft_optimal_policy(two_state, state_reward(two_state), temperature=1e-3)
    np.testing.assert_allclose(policy[0, 0], [0.0, 1.0], atol=1e-12)


def test_normalized_return_by_hand(two_state: TabularMDP) -> None:
    ts = parse_trajectories(
        [{"obs": [0, 1, 1], "acts": [1, 0]}, {"obs": [0, 0, 0], "acts": [0, 0]}]
    )
    result = normalized_return(two_state, state_reward(two_state), ts)
    assert (result.demo, result.optimal, result.random) == pytest.approx((0.25, 0.5, 0.25))
    assert result.normalized == pytest.approx(0.0)
    best = parse_trajectories([{"obs": [0, 1, 1], "acts": [1, 0]}])
    assert normalized_return(two_state, state_reward(two_state), best).normalized == 1.0


def test_normalized_return_is_none_when_all_behaviour_is_optimal(two_state: TabularMDP) -> None:
    ts = parse_trajectories([{"obs": [0, 1, 1], "acts": [1, 0]}])
    flat = np.ones((2, 2, 2))
    result = normalized_return(two_state, flat, ts)
    assert result.normalized is None and result.demo == pytest.approx(1.5)


def test_early_end_in_absorbing_state_is_extended() -> None:
    spec = two_state_spec(
        horizon=3, transitions=[[0, 0, 0, 1.0], [0, 1, 1, 1.0], [1, 0, 1, 1.0], [1, 1, 1, 1.0]]
    )
    mdp = parse_tabular_mdp(spec)
    reward = reward_array(TabularReward(np.array([[0.0, 0.0], [1.0, 3.0]])), mdp)
    ts = parse_trajectories(
        [{"obs": [0, 1], "acts": [1], "terminal": True}, {"obs": [0, 0], "acts": [0]}]
    )
    # Absorbed in state 1 after one step: 0 + (0.5 + 0.25) * mean(1, 3); the other is not absorbed.
    np.testing.assert_allclose(discounted_returns(mdp, reward, ts), [1.5, 0.0])


def test_action_log_likelihood(two_state: TabularMDP) -> None:
    policy = soft_optimal_policy(two_state, state_reward(two_state))
    ts = parse_trajectories([{"obs": [0, 1, 1], "acts": [1, 0]}])
    switch = np.exp(0.5) / (1.0 + np.exp(0.5))
    np.testing.assert_allclose(action_log_likelihood(policy, ts), [np.log(switch), np.log(0.5)])


def test_invalid_inputs(two_state: TabularMDP) -> None:
    assert problems(optimal_policy, two_state, np.zeros((2, 2))) == [
        ("reward", "shape [2, 2], expected [2, 2, 2]"),
    ]
    assert problems(
        policy_value, two_state, np.full((2, 2, 2), np.nan), uniform_policy(two_state)
    ) == [
        ("reward", "must be finite"),
    ]
    assert problems(policy_value, two_state, np.zeros((2, 2, 2)), np.ones((2, 2))) == [
        ("policy", "each pi_t(. | s) must be a probability distribution"),
    ]
    assert problems(policy_value, two_state, np.zeros((2, 2, 2)), np.ones((3, 2, 2)) / 2) == [
        ("policy", "shape [3, 2, 2], expected [2, 2, 2] or [2, 2]"),
    ]
    too_long = parse_trajectories([{"obs": [0, 0, 0, 0], "acts": [0, 0, 0]}])
    assert problems(action_log_likelihood, np.ones((2, 2, 2)) / 2, too_long) == [
        ("trajectories", "a trajectory has 3 actions, more than the horizon 2"),
    ]
    out_of_range = parse_trajectories([{"obs": [0, 5], "acts": [0]}])
    assert problems(discounted_returns, two_state, np.zeros((2, 2, 2)), out_of_range) == [
        ("trajectories.obs", "expected indices in [0, 2)"),
    ]
