"""Reward specs: parsing against an MDP, canonical specs, and dense (S, A, S) arrays."""

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import irl.rewards as rewards_module
from irl.environments import TabularMDP
from irl.io.rewards import checked_reward_array as reward_array
from irl.io.rewards import parse_reward_spec
from irl.rewards import (
    EnvironmentReward,
    InferenceReward,
    LinearReward,
    ObservedReward,
    TabularReward,
    observed_reward,
    reward_to_spec,
)
from irl.trajectories import TrajectorySet
from tests.irl.assertions import json_values, only_invalid_input, problems


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"kind": "linear", "weights": {"door": 1.0, "red": -0.5}, "bias": 0.25},
            LinearReward({"door": 1.0, "red": -0.5}, 0.25),
        ),
        ({"kind": "linear", "weights": {}}, LinearReward({})),
        ({"kind": "observed"}, ObservedReward()),
        ({"kind": "environment"}, EnvironmentReward()),
        ({"kind": "inference", "id": "inf_123"}, InferenceReward("inf_123")),
    ],
)
def test_parses_non_array_specs(spec: dict[str, Any], expected: object) -> None:
    assert parse_reward_spec(spec, loc="reward") == expected


@pytest.mark.parametrize("shape", [(2,), (2, 2), (2, 2, 2)])
def test_parses_tabular_shapes(two_state: TabularMDP, shape: tuple[int, ...]) -> None:
    values = np.arange(np.prod(shape), dtype=float).reshape(shape)
    reward = parse_reward_spec(
        {"kind": "tabular", "values": values.tolist()}, loc="r", mdp=two_state
    )
    assert isinstance(reward, TabularReward)
    np.testing.assert_array_equal(reward.values, values)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"kind": "tabular", "values": [1.0, 2.0, 3.0]},
            ("training_reward.values", "shape [3], expected [2], [2, 2] or [2, 2, 2]"),
        ),
        (
            {"kind": "tabular", "values": [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]},
            ("training_reward.values", "shape [2, 3], expected [2], [2, 2] or [2, 2, 2]"),
        ),
        (
            {"kind": "tabular", "values": [1.0, "high"]},
            ("training_reward.values[1]", "expected a number, got string 'high'"),
        ),
        (
            {"kind": "tabular", "values": [1.0, None]},
            ("training_reward.values[1]", "expected a number, got null"),
        ),
        (
            {"kind": "tabular", "values": [1.0, float("-inf")]},
            ("training_reward.values[1]", "must be finite, got -inf"),
        ),
        (
            {"kind": "tabular", "values": [True, False]},
            ("training_reward.values", "expected numbers, got booleans"),
        ),
        ({"kind": "tabular"}, ("training_reward.values", "field required")),
        (
            {"kind": "linear", "weights": {"colour": 1.0}},
            ("training_reward.weights.colour", "unknown feature `colour`, known: s0, s1"),
        ),
        (
            {"kind": "linear", "weights": {"s0": "1"}},
            ("training_reward.weights.s0", "expected a number, got string '1'"),
        ),
        (
            {"kind": "linear", "weights": {"s0": True}},
            ("training_reward.weights.s0", "expected a number, got boolean true"),
        ),
        (
            {"kind": "linear", "weights": {"s0": 2**2000}},
            ("training_reward.weights.s0", "number too large"),
        ),
        (
            {"kind": "linear", "weights": [1.0]},
            ("training_reward.weights", "expected an object, got a list"),
        ),
        (
            {"kind": "linear", "weights": {}, "bias": None},
            ("training_reward.bias", "expected a number, got null"),
        ),
        ({"kind": "inference"}, ("training_reward.id", "field required")),
        ({"kind": "inference", "id": 3}, ("training_reward.id", "expected a string, got number 3")),
        (
            {"kind": "observed", "values": []},
            ("training_reward.values", "unknown field; allowed fields: kind"),
        ),
        (
            {"kind": "magic"},
            (
                "training_reward.kind",
                "expected one of tabular, linear, observed, environment, inference, got 'magic'",
            ),
        ),
        (
            {},
            (
                "training_reward.kind",
                "expected one of tabular, linear, observed, environment, inference, got None",
            ),
        ),
    ],
)
def test_reward_spec_errors(
    two_state: TabularMDP, spec: dict[str, Any], expected: tuple[str, str]
) -> None:
    spec_without_features = TabularMDP(
        name="x",
        n_states=2,
        n_actions=2,
        transitions=two_state.transitions,
        initial_state_dist=two_state.initial_state_dist,
        horizon=2,
        discount=0.5,
        feature_names=("s0", "s1"),
        features=np.eye(2),
    )
    assert problems(parse_reward_spec, spec, loc="training_reward", mdp=spec_without_features) == [
        expected
    ]


def test_spec_must_be_an_object() -> None:
    assert problems(parse_reward_spec, [1, 2], loc="a") == [("a", "expected an object, got a list")]


def test_without_mdp_only_structure_is_checked() -> None:
    reward = parse_reward_spec({"kind": "tabular", "values": [[[1.0] * 3]] * 3}, loc="r")
    assert isinstance(reward, TabularReward) and reward.values.shape == (3, 1, 3)
    assert problems(parse_reward_spec, {"kind": "tabular", "values": [[[1.0, 2.0]]]}, loc="r") == [
        ("r.values", "shape [1, 1, 2]: the first and last dimensions must both be states"),
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "tabular", "values": [0.5, -1.0]},
        {"kind": "linear", "weights": {"door": 1.0}, "bias": -0.5},
        {"kind": "observed"},
        {"kind": "environment"},
        {"kind": "inference", "id": "abc"},
    ],
)
def test_reward_to_spec_round_trips(spec: dict[str, Any]) -> None:
    canonical = reward_to_spec(parse_reward_spec(spec, loc="r"))
    assert canonical == ({"bias": 0.0, **spec} if spec["kind"] == "linear" else spec)
    assert reward_to_spec(parse_reward_spec(canonical, loc="r")) == canonical


def test_reward_array_of_state_values_repeats_over_actions_and_next_states(
    two_state: TabularMDP,
) -> None:
    dense = reward_array(TabularReward(np.array([0.0, 1.0])), two_state)
    assert dense.shape == (2, 2, 2)
    np.testing.assert_array_equal(dense[0], 0.0)
    np.testing.assert_array_equal(dense[1], 1.0)


def test_reward_array_of_state_action_values(two_state: TabularMDP) -> None:
    dense = reward_array(TabularReward(np.array([[1.0, 2.0], [3.0, 4.0]])), two_state)
    np.testing.assert_array_equal(dense[:, :, 0], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(dense[:, :, 0], dense[:, :, 1])


def test_reward_array_of_linear_reward(grid5: TabularMDP) -> None:
    dense = reward_array(LinearReward({"door": 2.0, "blue": -1.0}, bias=0.5), grid5)
    expected = 0.5 + 2.0 * grid5.features[:, 0] - 1.0 * grid5.features[:, 2]
    np.testing.assert_array_equal(dense[:, 3, 7], expected)
    assert dense[24, 0, 0] == 2.5


def test_reward_array_refuses_misfit(two_state: TabularMDP) -> None:
    assert problems(reward_array, TabularReward(np.zeros(3)), two_state) == [
        ("reward.values", "shape [3], expected [2], [2, 2] or [2, 2, 2]"),
    ]
    assert problems(reward_array, LinearReward({"red": 1.0}), two_state, loc="a") == [
        ("a.weights.red", "unknown feature `red`, known: s0, s1"),
    ]


def test_reward_objects_are_immutable() -> None:
    linear = LinearReward({"a": 1.0})
    with pytest.raises(TypeError):
        linear.weights["a"] = 2.0  # type: ignore[index]
    tabular = TabularReward(np.zeros(2))
    with pytest.raises(ValueError):
        tabular.values[0] = 1.0


@settings(max_examples=150, deadline=None)
@given(spec=json_values)
def test_hostile_reward_specs_only_raise_invalid_input(spec: Any) -> None:
    only_invalid_input(
        parse_reward_spec, spec, loc="r", n_states=2, n_actions=2, feature_names=("a", "b")
    )
    only_invalid_input(parse_reward_spec, {"kind": "tabular", "values": spec}, loc="r")
    only_invalid_input(parse_reward_spec, {"kind": "linear", "weights": spec}, loc="r")


def test_observed_rewards_average_per_state_action_beyond_the_dense_limit(
    grid5: TabularMDP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_OBSERVED_ENTRIES no (S, A, S) array is built: recorded rewards are averaged per
    (s, a), exactly what the full average gives for these deterministic dynamics."""
    rng = np.random.default_rng(3)
    starts = rng.integers(0, grid5.n_states, size=6)
    obs, acts = [], []
    for start in starts:
        state, path, actions = int(start), [int(start)], []
        for _ in range(5):
            action = int(rng.integers(grid5.n_actions))
            state = int(grid5.transitions[[state * grid5.n_actions + action]].indices[0])
            path.append(state)
            actions.append(action)
        obs += path
        acts += actions
    ts = TrajectorySet(
        obs=np.array(obs),
        acts=np.array(acts),
        rews=rng.normal(size=len(acts)),
        terminal=np.zeros(6, dtype=bool),
        lengths=np.full(6, 5),
    )
    full = observed_reward(grid5, ts).values
    monkeypatch.setattr(rewards_module, "MAX_OBSERVED_ENTRIES", 1)
    per_pair = observed_reward(grid5, ts).values
    assert per_pair.shape == (grid5.n_states, grid5.n_actions)
    s, a, s_next = ts.transitions()
    assert np.allclose(per_pair[s, a], full[s, a, s_next])
