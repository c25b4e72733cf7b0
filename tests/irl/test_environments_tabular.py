"""Tabular environment parsing: structure, canonical round trip, and every validation error."""

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irl.environments import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError
from irl.io.environments import parse_environment, parse_tabular_mdp
from irl.rewards import LinearReward, TabularReward
from tests.irl.assertions import json_values, only_invalid_input, problems
from tests.irl.gridworld import gridworld_spec, two_state_spec


def with_field(**fields: Any) -> dict[str, Any]:
    """The two-state spec with some fields replaced."""
    return two_state_spec(**fields)


def test_parses_gridworld_structure() -> None:
    mdp = parse_tabular_mdp(gridworld_spec(rows=5, cols=5, slip=0.1))
    assert (mdp.n_states, mdp.n_actions, mdp.horizon) == (25, 5, 10)
    assert mdp.transitions.shape == (125, 25)
    np.testing.assert_allclose(mdp.dense_transitions().sum(axis=2), 1.0)
    assert mdp.feature_names == ("door", "red", "blue")
    assert mdp.features.shape == (25, 3) and mdp.features.dtype == np.float64
    assert mdp.features[24, 0] == 1.0
    assert isinstance(mdp.reward, LinearReward) and dict(mdp.reward.weights) == {"door": 3.0}
    assert mdp.layout is not None and mdp.layout.cells.shape == (25, 2)


def test_dense_transitions_index_order(two_state: TabularMDP) -> None:
    dense = two_state.dense_transitions()
    assert dense[0, 1, 1] == 1.0 and dense[1, 1, 0] == 1.0 and dense[0, 0, 0] == 1.0


def test_defaults_are_one_hot_features_and_no_reward() -> None:
    spec = two_state_spec()
    del spec["reward"], spec["name"]
    mdp = parse_tabular_mdp(spec)
    assert mdp.feature_names == ("s0", "s1")
    np.testing.assert_array_equal(mdp.features, np.eye(2))
    assert mdp.reward is None and mdp.layout is None


def test_duplicate_transition_entries_are_summed() -> None:
    rows = [[0, 0, 0, 0.25], [0, 0, 0, 0.75], [0, 1, 1, 1.0], [1, 0, 1, 1.0], [1, 1, 0, 1.0]]
    mdp = parse_tabular_mdp(with_field(transitions=rows))
    assert mdp.dense_transitions()[0, 0, 0] == 1.0
    assert mdp.transitions.nnz == 4


def test_probabilities_within_tolerance_are_renormalised() -> None:
    rows = [[0, 0, 0, 1.0 + 5e-7], [0, 1, 1, 1.0], [1, 0, 1, 1.0], [1, 1, 0, 1.0]]
    mdp = parse_tabular_mdp(with_field(transitions=rows))
    np.testing.assert_allclose(mdp.dense_transitions().sum(axis=2), 1.0, rtol=0, atol=1e-15)


def test_is_absorbing() -> None:
    mdp = parse_tabular_mdp(gridworld_spec(rows=3, cols=3, absorbing_door=True))
    assert np.flatnonzero(mdp.is_absorbing()).tolist() == [8]


def test_to_spec_round_trips() -> None:
    spec = gridworld_spec(rows=4, cols=3, slip=0.05, reward={"door": 2.0, "red": -1.0})
    mdp = parse_tabular_mdp(spec)
    canonical = mdp.to_spec()
    again = parse_tabular_mdp(json.loads(json.dumps(canonical)))
    assert again.to_spec() == canonical
    assert (again.transitions != mdp.transitions).nnz == 0
    np.testing.assert_array_equal(again.features, mdp.features)
    np.testing.assert_array_equal(again.initial_state_dist, mdp.initial_state_dist)


def test_to_spec_round_trips_tabular_reward(two_state: TabularMDP) -> None:
    again = parse_tabular_mdp(two_state.to_spec())
    assert isinstance(again.reward, TabularReward)
    np.testing.assert_array_equal(again.reward.values, [0.0, 1.0])


def test_arrays_are_read_only(two_state: TabularMDP) -> None:
    with pytest.raises(ValueError):
        two_state.features[0, 0] = 5.0
    with pytest.raises(ValueError):
        two_state.initial_state_dist[0] = 0.5


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "gym"}, ("environment.kind", "expected `tabular`")),
        ({"n_states": 0}, ("environment.n_states", "must be >= 1, got 0")),
        ({"n_states": True}, ("environment.n_states", "expected an integer, got boolean true")),
        ({"n_states": "2"}, ("environment.n_states", "expected an integer, got string '2'")),
        ({"n_states": 2**70}, ("environment.n_states", f"must be <= 100000, got {2**70}")),
        ({"n_actions": None}, ("environment.n_actions", "expected an integer, got null")),
        ({"horizon": 0}, ("environment.horizon", "must be >= 1, got 0")),
        ({"horizon": 1.5}, ("environment.horizon", "expected an integer, got number 1.5")),
        ({"discount": 0}, ("environment.discount", "must be > 0.0, got 0.0")),
        ({"discount": 1.5}, ("environment.discount", "must be <= 1.0, got 1.5")),
        ({"discount": float("nan")}, ("environment.discount", "must be finite, got nan")),
        ({"name": ""}, ("environment.name", "must not be empty")),
        (
            {"horizion": 3},
            (
                "environment.horizion",
                "unknown field; allowed fields: discount, "
                "features, horizon, initial_state_dist, kind, layout, n_actions, "
                "n_states, name, reward, transitions",
            ),
        ),
    ],
)
def test_scalar_field_errors(fields: dict[str, Any], expected: tuple[str, str]) -> None:
    assert problems(parse_tabular_mdp, with_field(**fields)) == [expected]


def test_missing_fields_are_each_reported() -> None:
    spec = two_state_spec()
    del spec["horizon"], spec["discount"]
    assert problems(parse_tabular_mdp, spec) == [
        ("environment.horizon", "field required"),
        ("environment.discount", "field required"),
    ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [],
            [
                (
                    "environment.transitions",
                    "at least one [s, a, s_next, p] row per (s, a) is required",
                )
            ],
        ),
        (
            [[0, 0, 0, 1.0], [0, 1, 7, 1.0]],
            [("environment.transitions[1]", "next-state index 7 out of range [0, 2)")],
        ),
        (
            [[0, 0, 0, 1.0], [-1, 1, 0, 1.0]],
            [("environment.transitions[1]", "state index -1 out of range [0, 2)")],
        ),
        ([[0, 2, 0, 1.0]], [("environment.transitions[0]", "action index 2 out of range [0, 2)")]),
        (
            [[0, 0.5, 0, 1.0]],
            [("environment.transitions[0]", "action index 0.5 is not an integer")],
        ),
        ([[0, 0, 0, 1.5]], [("environment.transitions[0]", "probability 1.5 outside [0, 1]")]),
        (
            [[0, 0, 0, "x"]],
            [("environment.transitions[0][3]", "expected a number, got string 'x'")],
        ),
        ([[0, 0, 0, None]], [("environment.transitions[0][3]", "expected a number, got null")]),
        (
            [[0, 0, 0, {"p": 1}]],
            [("environment.transitions[0][3]", "expected a number, got an object")],
        ),
        ([[0, 0, 0, float("inf")]], [("environment.transitions[0][3]", "must be finite, got inf")]),
        (
            [[0, 0, 0, 1.0], [0, 1]],
            [
                (
                    "environment.transitions[1]",
                    "length 2, expected 4 as in environment.transitions[0]",
                )
            ],
        ),
        ([[0, 0, 0, 1.0], 5], [("environment.transitions[1]", "expected a list, got number 5")]),
        (
            [[0, 0, 1.0]],
            [("environment.transitions", "rows must be [s, a, s_next, p], got rows of length 3")],
        ),
        (
            [[True, False, False, True]],
            [("environment.transitions", "expected numbers, got booleans")],
        ),
        (
            [[0, 0, 0, 1.0], [0, 1, 1, 0.9], [1, 0, 1, 1.0], [1, 1, 0, 1.0]],
            [("environment.transitions", "probabilities for (s=0, a=1) sum to 0.9, expected 1")],
        ),
        (
            [[0, 0, 0, 1.0], [0, 1, 1, 1.0], [1, 0, 1, 1.0]],
            [("environment.transitions", "probabilities for (s=1, a=1) sum to 0, expected 1")],
        ),
        (
            [[0, 0, 0, 1.0], [0, 1, 2**70, 1.0]],
            [("environment.transitions[1]", f"next-state index {2**70} out of range [0, 2)")],
        ),
    ],
)
def test_transition_errors(rows: list[Any], expected: list[tuple[str, str]]) -> None:
    assert problems(parse_tabular_mdp, with_field(transitions=rows)) == expected


def test_many_bad_rows_are_capped() -> None:
    rows = [[0, 0, 9, 1.0]] * 1000
    found = problems(parse_tabular_mdp, with_field(transitions=rows))
    assert len(found) == 6
    assert found[-1] == ("environment.transitions", "995 more rows with the same problem")


def test_errors_in_several_fields_are_collected() -> None:
    layout = {"rows": 1, "cols": 1, "cells": [[0, 0], [0, 3]]}
    spec = with_field(initial_state_dist=[0.5, 0.6], horizon=-1, layout=layout)
    assert problems(parse_tabular_mdp, spec) == [
        ("environment.horizon", "must be >= 1, got -1"),
        ("environment.initial_state_dist", "sums to 1.1, expected 1"),
        ("environment.layout.cells[1]", "col 3 out of range [0, 1)"),
    ]


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        ([1.0], ("environment.initial_state_dist", "length 1, expected n_states = 2")),
        ([1.5, -0.5], ("environment.initial_state_dist[1]", "probability -0.5 is negative")),
        ([0.5, 0.4], ("environment.initial_state_dist", "sums to 0.9, expected 1")),
        ("uniform", ("environment.initial_state_dist", "expected a list, got string 'uniform'")),
    ],
)
def test_initial_state_dist_errors(dist: Any, expected: tuple[str, str]) -> None:
    assert problems(parse_tabular_mdp, with_field(initial_state_dist=dist)) == [expected]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (
            {"names": ["a", "a"], "values": [[0, 0], [1, 1]]},
            ("environment.features.names[1]", "duplicate name `a` (also at index 0)"),
        ),
        (
            {"names": ["a", ""], "values": [[0, 0], [1, 1]]},
            ("environment.features.names[1]", "must not be empty"),
        ),
        (
            {"names": ["a"], "values": [[0, 0], [1, 1]]},
            (
                "environment.features.values",
                "shape [2, 2], expected [n_states, len(names)] = [2, 1]",
            ),
        ),
        (
            {"names": ["a"], "values": [[0], [float("nan")]]},
            ("environment.features.values[1][0]", "must be finite, got nan"),
        ),
        (
            {"names": [], "values": []},
            ("environment.features.names", "expected a non-empty list of names"),
        ),
        ({"names": ["a"]}, ("environment.features.values", "field required")),
    ],
)
def test_feature_errors(features: dict[str, Any], expected: tuple[str, str]) -> None:
    assert problems(parse_tabular_mdp, with_field(features=features)) == [expected]


def test_reward_must_fit_the_environment() -> None:
    spec = gridworld_spec(rows=2, cols=2, reward={"door": 1.0, "colour": 2.0})
    assert problems(parse_tabular_mdp, spec) == [
        ("environment.reward.weights.colour", "unknown feature `colour`, known: door, red, blue"),
    ]
    assert problems(parse_tabular_mdp, with_field(reward={"kind": "tabular", "values": [1.0]})) == [
        ("environment.reward.values", "shape [1], expected [2], [2, 2] or [2, 2, 2]"),
    ]
    assert problems(parse_tabular_mdp, with_field(reward={"kind": "observed"})) == [
        ("environment.reward.kind", "expected one of tabular, linear, got 'observed'"),
    ]


def test_layout_errors() -> None:
    layout = {"rows": 1, "cols": 2, "cells": [[0, 0]]}
    assert problems(parse_tabular_mdp, with_field(layout=layout)) == [
        ("environment.layout.cells", "shape [1, 2], expected [n_states, 2] = [2, 2]"),
    ]


def test_limits_are_checked_before_conversion() -> None:
    assert problems(parse_tabular_mdp, with_field(), max_states=1) == [
        ("environment.n_states", "must be <= 1, got 2"),
    ]
    assert problems(parse_tabular_mdp, with_field(), max_transitions=3) == [
        ("environment.n_actions", "2 states x 2 actions need 4 transition rows, above the limit 3"),
    ]
    assert problems(parse_tabular_mdp, with_field(), max_transitions=4, max_horizon=1)[0] == (
        "environment.horizon",
        "must be <= 1, got 2",
    )
    big = with_field(n_states=5000, transitions=[[0, 0, 0, 1.0]], initial_state_dist=[1.0])
    assert (
        "environment.features",
        "required for 5000 states: default one-hot features would "
        "need 25000000 values (limit 1000000)",
    ) in problems(parse_tabular_mdp, big, max_feature_values=1_000_000)


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from([*two_state_spec(), "features", "layout", "extra"]), value=json_values)
def test_hostile_values_only_raise_invalid_input(field: str, value: Any) -> None:
    only_invalid_input(parse_tabular_mdp, with_field(**{field: value}))


@settings(max_examples=100, deadline=None)
@given(spec=json_values)
def test_hostile_specs_only_raise_invalid_input(spec: Any) -> None:
    only_invalid_input(parse_environment, spec, allowed_gym_ids=["*"])


def test_parse_environment_dispatches_on_kind() -> None:
    assert isinstance(parse_environment(two_state_spec()), TabularMDP)
    gym = parse_environment(
        {"kind": "gymnasium", "id": "seals/CartPole-v0", "kwargs": {"max_episode_steps": 100}},
        allowed_gym_ids=["seals/*", "CartPole-v1"],
    )
    assert gym == GymnasiumEnvSpec("seals/CartPole-v0", {"max_episode_steps": 100})
    assert gym.to_spec() == {
        "kind": "gymnasium",
        "id": "seals/CartPole-v0",
        "kwargs": {"max_episode_steps": 100},
    }
    assert problems(parse_environment, {"kind": "atari"}) == [
        ("environment.kind", 'expected `tabular` or `gymnasium`, got "atari"'),
    ]


def test_gymnasium_id_must_be_allowed() -> None:
    spec = {"kind": "gymnasium", "id": "ALE/Pong-v5"}
    assert problems(parse_environment, spec, allowed_gym_ids=["seals/*"]) == [
        ("environment.id", "`ALE/Pong-v5` is not allowed here; allowed: seals/*"),
    ]
    assert problems(
        parse_environment,
        {"kind": "gymnasium", "id": "CartPole-v1", "kwargs": {"x": float("nan")}},
        allowed_gym_ids=["*"],
    ) == [
        ("environment.kwargs", "must be plain JSON (finite numbers, strings, lists, objects)"),
    ]


def test_direct_construction_checks_shapes(two_state: TabularMDP) -> None:
    with pytest.raises(InvalidInputError, match="features: shape"):
        TabularMDP(
            name="x",
            n_states=2,
            n_actions=2,
            transitions=two_state.transitions,
            initial_state_dist=two_state.initial_state_dist,
            horizon=2,
            discount=1.0,
            feature_names=("a",),
            features=np.zeros((2, 2)),
        )
