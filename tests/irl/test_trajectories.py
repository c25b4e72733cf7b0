"""Trajectory parsing (with Minari aliases), tabular checks, and pickle-free npz round trips."""

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import check_tabular, from_npz_bytes, parse_trajectories, to_npz_bytes
from irl.trajectories import TrajectorySet
from tests.irl.assertions import json_values, only_invalid_input, problems
from tests.irl.gridworld import gridworld_spec, sample_trajectories

TRAJECTORY: dict[str, Any] = {
    "obs": [0, 1, 1],
    "acts": [1, 0],
    "rews": [0.0, 1.0],
    "terminal": False,
}


def one(**fields: Any) -> list[dict[str, Any]]:
    """A single-trajectory list: TRAJECTORY with fields replaced (None removes a field)."""
    item = {**TRAJECTORY, **fields}
    return [{k: v for k, v in item.items() if v is not None}]


def test_parses_flat_arrays() -> None:
    ts = parse_trajectories(
        [
            TRAJECTORY,
            {"obs": [1, 0, 0, 1], "acts": [1, 0, 1], "rews": [1.0, 0.0, 0.0], "terminal": True},
        ]
    )
    assert ts.obs.dtype == np.int64 and ts.obs.tolist() == [0, 1, 1, 1, 0, 0, 1]
    assert ts.acts.tolist() == [1, 0, 1, 0, 1]
    assert ts.rews is not None and ts.rews.dtype == np.float64
    assert ts.terminal.tolist() == [False, True]
    assert ts.lengths.tolist() == [2, 3]
    assert (ts.n_trajectories, ts.n_transitions) == (2, 5)
    assert ts.obs_of(1).tolist() == [1, 0, 0, 1]
    assert ts.acts_of(1).tolist() == [1, 0, 1]
    rews = ts.rews_of(0)
    assert rews is not None and rews.tolist() == [0.0, 1.0]
    assert ts.timesteps.tolist() == [0, 1, 0, 1, 2]
    s, a, s_next = ts.transitions()
    assert s.tolist() == [0, 1, 1, 0, 0] and s_next.tolist() == [1, 1, 0, 0, 1]
    assert a.tolist() == ts.acts.tolist()
    assert ts.last_obs().tolist() == [1, 1]
    assert ts.state_visits(3).tolist() == [3, 4, 0]


def test_minari_aliases() -> None:
    ts = parse_trajectories(
        [
            {
                "observations": [0, 1, 1],
                "actions": [1, 0],
                "rewards": [0, 1],
                "terminations": [False, True],
                "truncations": [False, False],
                "infos": {"anything": 1},
            }
        ]
    )
    assert ts.terminal.tolist() == [True]
    assert ts.rews is not None and ts.rews.tolist() == [0.0, 1.0]


def test_vector_observations_and_actions() -> None:
    ts = parse_trajectories([{"obs": [[0.0, 1.0], [0.5, 0.5]], "acts": [[0.1]]}])
    assert ts.obs.shape == (2, 2) and ts.obs.dtype == np.float64
    assert ts.acts.shape == (1, 1) and ts.rews is None


def test_integral_floats_are_indices() -> None:
    assert parse_trajectories(one(obs=[0.0, 1.0, 1.0])).obs.dtype == np.int64


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], [("trajectories", "at least one trajectory is required")]),
        ({"obs": [0]}, [("trajectories", "expected a list of trajectories, got an object")]),
        ("abc", [("trajectories", "expected a list of trajectories, got string 'abc'")]),
        ([None], [("trajectories[0]", "expected an object, got null")]),
        (one(acts=[1]), [("trajectories[0].acts", "length 1, expected len(obs)-1 = 2")]),
        (
            one(obs=[0], acts=[], rews=[]),
            [("trajectories[0].acts", "a trajectory needs at least one action")],
        ),
        (one(rews=[0.0]), [("trajectories[0].rews", "length 1, expected len(acts) = 2")]),
        (one(rews=[0.0, float("nan")]), [("trajectories[0].rews[1]", "must be finite, got nan")]),
        (one(obs=[0, "1", 1]), [("trajectories[0].obs[1]", "expected a number, got string '1'")]),
        (one(obs=[0, None, 1]), [("trajectories[0].obs[1]", "expected a number, got null")]),
        (
            one(obs=[0, {"x": 1}, 1]),
            [("trajectories[0].obs[1]", "expected a number, got an object")],
        ),
        (one(obs=[0, [1], 1]), [("trajectories[0].obs[1]", "expected a number, got a list")]),
        (one(obs=[True, False, True]), [("trajectories[0].obs", "expected numbers, got booleans")]),
        (one(obs=[0, 2**70, 1]), [("trajectories[0].obs[1]", "index 1.18059e+21 is out of range")]),
        (
            one(obs=[0, 0.5, 1]),
            [
                (
                    "trajectories[0].obs[1]",
                    "expected an integer index, got 0.5 (give vectors as lists)",
                )
            ],
        ),
        (
            one(obs=[[0, 1], [1], [1, 1]]),
            [("trajectories[0].obs[1]", "length 1, expected 2 as in trajectories[0].obs[0]")],
        ),
        (
            one(obs=[[[0]], [[1]], [[1]]]),
            [("trajectories[0].obs", "expected 1-D or 2-D values, got shape [3, 1, 1]")],
        ),
        (one(obs=None), [("trajectories[0].obs", "field required (or `observations`)")]),
        (
            one(observations=[0, 1, 1]),
            [("trajectories[0].observations", "given together with `obs`; use one of them")],
        ),
        (
            one(terminal="yes"),
            [("trajectories[0].terminal", "expected true or false, got string 'yes'")],
        ),
        (
            one(terminal=None, terminations=[True, False]),
            [
                (
                    "trajectories[0].terminations[0]",
                    "the episode terminates at step 0 but continues to step 1",
                )
            ],
        ),
        (
            one(terminal=None, terminations=[False]),
            [("trajectories[0].terminations", "length 1, expected len(acts) = 2")],
        ),
        (
            one(truncations=[2, 0]),
            [("trajectories[0].truncations[0]", "expected a boolean, got 2")],
        ),
        (
            one(actions=[1, 0]),
            [("trajectories[0].actions", "given together with `acts`; use one of them")],
        ),
        (
            one(colour="red"),
            [
                (
                    "trajectories[0].colour",
                    "unknown field; allowed fields: actions, acts, environment, "
                    "infos, obs, observations, rewards, rews, terminal, "
                    "terminations, truncations",
                )
            ],
        ),
    ],
)
def test_trajectory_errors(items: Any, expected: list[tuple[str, str]]) -> None:
    assert problems(parse_trajectories, items) == expected


def test_trajectories_must_agree_with_the_first() -> None:
    items = [TRAJECTORY, {"obs": [[0.0], [1.0]], "acts": [0]}, {"obs": [0, 1], "acts": [0]}]
    assert problems(parse_trajectories, items) == [
        ("trajectories[1].obs", "vectors of length 1, but trajectories[0].obs has indices"),
        ("trajectories[2].rews", "give rews for every trajectory or for none"),
    ]


def test_problems_across_trajectories_are_collected_and_capped() -> None:
    items = [{"obs": [0, 1], "acts": [0, 1]}] * 100
    found = problems(parse_trajectories, items)
    assert len(found) == 21
    assert found[0] == ("trajectories[0].acts", "length 2, expected len(obs)-1 = 1")
    assert found[-1] == ("trajectories", "stopped checking after trajectories[19]")


def test_transition_limit() -> None:
    items = [TRAJECTORY] * 3
    assert problems(parse_trajectories, items, max_transitions=5) == [
        (
            "trajectories[2].acts",
            "2 actions (the transition limit is reached), above the limit of 1",
        ),
    ]


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(
        ["obs", "acts", "rews", "terminal", "terminations", "truncations", "observations"]
    ),
    value=json_values,
)
def test_hostile_fields_only_raise_invalid_input(field: str, value: Any) -> None:
    only_invalid_input(parse_trajectories, [{**TRAJECTORY, field: value}])


@settings(max_examples=100, deadline=None)
@given(items=json_values)
def test_hostile_lists_only_raise_invalid_input(items: Any) -> None:
    only_invalid_input(parse_trajectories, items)


@pytest.fixture
def grid3() -> TabularMDP:
    """A 3x3 deterministic gridworld, horizon 6."""
    return parse_tabular_mdp(gridworld_spec(rows=3, cols=3))


def test_check_tabular_accepts_sampled_trajectories(grid3: TabularMDP) -> None:
    spec = gridworld_spec(rows=3, cols=3)
    ts = parse_trajectories(sample_trajectories(spec, n=5, rng=np.random.default_rng(0)))
    check_tabular(ts, grid3)


def test_check_tabular_errors(grid3: TabularMDP) -> None:
    ts = parse_trajectories(
        [
            {"obs": [0, 1, 9], "acts": [4, 7]},
            {"obs": [0, 4], "acts": [4]},
            {"obs": [0] * 8, "acts": [0] * 7},
        ]
    )
    assert problems(check_tabular, ts, grid3) == [
        ("trajectories[0].obs[2]", "state index 9 out of range [0, 9)"),
        ("trajectories[0].acts[1]", "action index 7 out of range [0, 5)"),
        ("trajectories[2].acts", "length 7 exceeds the environment horizon 6"),
    ]
    impossible = parse_trajectories(
        [{"obs": [0, 1], "acts": [4]}, {"obs": [0, 1, 5], "acts": [4, 0]}]
    )
    assert problems(check_tabular, impossible, grid3) == [
        (
            "trajectories[1]",
            "transition 1 (s=1, a=0 -> s'=5) has probability 0 under the environment",
        ),
    ]
    vectors = parse_trajectories([{"obs": [[0.0], [1.0]], "acts": [0]}])
    assert problems(check_tabular, vectors, grid3) == [
        (
            "trajectories",
            "the environment is tabular: obs must be state indices and acts action indices",
        ),
    ]


def assert_identical(a: TrajectorySet, b: TrajectorySet) -> None:
    """Same dtypes, shapes and bytes in every array."""
    for name in ("obs", "acts", "rews", "terminal", "lengths"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None
            continue
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize(
    "items",
    [
        [TRAJECTORY, {"obs": [2, 2], "acts": [0], "rews": [-1e300], "terminal": True}],
        [{"obs": [[0.1, np.pi], [1e-300, -0.0]], "acts": [[np.e]]}],
    ],
)
def test_npz_round_trip_is_bit_for_bit(items: list[dict[str, Any]]) -> None:
    ts = parse_trajectories(items)
    again = from_npz_bytes(to_npz_bytes(ts))
    assert_identical(ts, again)
    assert_identical(again, from_npz_bytes(to_npz_bytes(again)))


def npz(**arrays: Any) -> bytes:
    """An .npz archive of the given arrays (pickles allowed, to build hostile files)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


VALID = {
    "obs": np.array([0, 1, 2]),
    "acts": np.array([0, 1]),
    "terminal": np.array([False]),
    "lengths": np.array([2]),
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            npz(**{**VALID, "obs": np.array([0, "x", None], dtype=object)}),
            ("trajectories.obs", "object arrays (pickles) are not accepted"),
        ),
        (b"not an archive", ("trajectories", "not a pickle-free .npz archive")),
        (npz(obs=np.array([0, 1])), ("trajectories.acts", "field required")),
        (
            npz(**VALID, extra=np.zeros(1)),
            (
                "trajectories.extra",
                "unknown array; allowed: obs, acts, rews, terminal, lengths, environment",
            ),
        ),
        (
            npz(**{**VALID, "lengths": np.array([3])}),
            (
                "trajectories.obs",
                "declares shape [3], expected 4 rows from the lengths "
                "(1 trajectories, 3 transitions)",
            ),
        ),
        (
            npz(**{**VALID, "lengths": np.array([0, 2])}),
            ("trajectories.lengths[0]", "length 0 outside [1, 10000000]"),
        ),
        (
            npz(**{**VALID, "obs": np.array([0.0, np.nan, 1.0])}),
            ("trajectories.obs[1]", "must be finite, got nan"),
        ),
        (
            npz(**{**VALID, "terminal": np.array([2])}),
            ("trajectories.terminal[0]", "expected a boolean, got 2"),
        ),
        (
            npz(**{**VALID, "obs": np.array(["0", "1", "2"])}),
            ("trajectories.obs[0]", "expected a number, got string '0'"),
        ),
    ],
)
def test_npz_errors(data: bytes, expected: tuple[str, str]) -> None:
    assert problems(from_npz_bytes, data)[0] == expected


def test_npz_size_limit() -> None:
    data = to_npz_bytes(parse_trajectories([TRAJECTORY]))
    assert problems(from_npz_bytes, data, max_bytes=100)[0][1].endswith("above the limit 100")


def test_direct_construction_checks_consistency() -> None:
    found = problems(
        TrajectorySet,
        obs=np.zeros(3, np.int64),
        acts=np.zeros(3, np.int64),
        rews=None,
        terminal=np.zeros(1, bool),
        lengths=np.array([2]),
    )
    assert found == [
        ("acts", "has 3 entries but lengths sum to 2"),
        ("obs", "has 3 entries, expected N + n_traj = 4"),
    ]


@pytest.mark.parametrize("field", sorted(VALID))
@pytest.mark.parametrize(
    "member",
    [
        np.array("abc"),
        np.array(3.0),
        np.array([1 + 2j, 3, 4]),
        np.array(["2020-01-01"] * 3, dtype="datetime64[D]"),
        np.zeros(3, dtype=[("a", "i4")]),
        np.array([[0, 1, 2]]),
        np.zeros((3, 0)),
        np.array([], dtype=float),
        np.array([2**63], dtype=np.uint64),
        np.array([b"a", b"b", b"c"]),
    ],
    ids=lambda member: f"{member.dtype}{list(member.shape)}",
)
def test_hostile_npz_members_only_raise_invalid_input(field: str, member: np.ndarray) -> None:
    only_invalid_input(from_npz_bytes, npz(**{**VALID, field: member}))


def test_discounted_returns_by_hand() -> None:
    ts = parse_trajectories(
        [
            {"obs": [0, 1, 2], "acts": [0, 1]},
            {"obs": [3, 4, 5, 6], "acts": [1, 1, 0]},
        ]
    )
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # 1 + 0.5 * 2 = 2;  3 + 0.5 * 4 + 0.25 * 5 = 6.25
    np.testing.assert_allclose(ts.discounted_returns(values, 0.5), [2.0, 6.25])
    np.testing.assert_allclose(ts.discounted_returns(values, 1.0), [3.0, 12.0])
