"""Identifiability: co-occurring, anti-correlated and constant features over visited states."""

import numpy as np
import pytest

from irl.identifiability import identifiability
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from tests.irl.assertions import problems
from tests.irl.gridworld import gridworld_spec, sample_trajectories

NAMES = ("door", "red", "blue")


def test_red_door_is_reported_with_a_suggested_test() -> None:
    features = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=float)
    report = identifiability(features, NAMES, np.array([3, 1, 5, 0]))
    assert report.indistinguishable == (("door", "red"),)
    assert report.constant == ()
    assert report.message == (
        "`door` and `red` always co-occur in the states the agent visited, so the data cannot "
        "tell which one it pursues; test it where they are separated (a `door` that is not "
        "`red`, a `red` that is not a `door`)."
    )
    assert report.to_dict() == {
        "indistinguishable": [["door", "red"]],
        "constant": [],
        "message": report.message,
    }


def test_separated_features_are_identifiable() -> None:
    features = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=float)
    report = identifiability(features, NAMES, np.ones(4))
    assert report.indistinguishable == () and report.constant == () and report.message == ""


def test_only_visited_states_count() -> None:
    features = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=float)
    assert identifiability(features, NAMES, np.array([1, 1, 1, 0])).indistinguishable == (
        ("door", "red"),
    )
    assert identifiability(features, NAMES, np.array([1, 1, 1, 1])).indistinguishable == ()


def test_anticorrelated_and_constant_features() -> None:
    features = np.array([[1, 0, 2, 5], [0, 1, 2, 6], [1, 0, 2, 5]], dtype=float)
    report = identifiability(features, ("wall", "floor", "blue", "height"), np.ones(3))
    assert report.indistinguishable == (("wall", "floor", "height"),)
    assert report.constant == ("blue",)
    assert report.message == (
        "`wall`, `floor` and `height` are perfectly (anti)correlated in the states the agent "
        "visited (one rises exactly where another falls), so the data cannot tell which one it "
        "pursues; test it where they vary independently (both `wall` and `floor`, or neither). "
        "`blue` (always 2) never vary in the states the agent visited, so their weights cannot "
        "be inferred; test it where they vary."
    )


def test_red_door_gridworld_rollouts() -> None:
    spec = gridworld_spec(
        rows=5, cols=5, door=((4, 4),), red=((4, 4),), blue=((0, 4),), reward={"door": 3.0}
    )
    mdp = parse_tabular_mdp(spec)
    ts = parse_trajectories(sample_trajectories(spec, n=20, rng=np.random.default_rng(0)))
    report = identifiability(mdp.features, mdp.feature_names, ts.state_visits(mdp.n_states))
    assert report.indistinguishable == (("door", "red"),)


def test_many_constant_features_are_summarised() -> None:
    features = np.eye(8)
    report = identifiability(
        features, [f"s{i}" for i in range(8)], np.array([1, 0, 0, 0, 0, 0, 0, 0])
    )
    assert len(report.constant) == 8
    assert "and 3 more never vary" in report.message


@pytest.mark.parametrize(
    ("features", "visits", "expected"),
    [
        (
            np.zeros((2, 2)),
            np.ones(3),
            ("features", "shape [2, 2] does not match 3 names and 3 visit counts"),
        ),
        (np.zeros((3, 3)), np.zeros(3), ("state_visits", "no state was visited")),
        (
            np.zeros((3, 3)),
            -np.ones(3),
            ("state_visits", "features and visits must be finite, visits non-negative"),
        ),
    ],
)
def test_invalid_inputs(
    features: np.ndarray, visits: np.ndarray, expected: tuple[str, str]
) -> None:
    assert problems(identifiability, features, NAMES, visits) == [expected]


def test_reachable_states_grow_with_the_horizon() -> None:
    from irl.identifiability import reachable_states

    mdp = parse_tabular_mdp(
        gridworld_spec(rows=1, cols=6, start=(0, 0), horizon=3, red=(), blue=())
    )
    starts = np.zeros(mdp.n_states)
    starts[0] = 1.0
    assert reachable_states(mdp, starts).tolist() == [True] * 4 + [False] * 2


def test_reachable_but_unvisited_features_are_one_sided_not_constant() -> None:
    """The issue's contradiction: `door` never varies where the agent went, yet the explanation
    cited its weight. Over reachable states it varies: one-sided evidence, said in both places."""
    from irl.identifiability import reachable_identifiability
    from irl.report import exact_report
    from tests.irl.scenarios import fit_linear, scenario

    s = scenario("red_seeker", seed=887_000, n=20)
    first = s.trajectories.obs[s.trajectories.obs_starts]
    visits = np.bincount(s.trajectories.obs, minlength=s.mdp.n_states).astype(float)
    door = s.mdp.features[:, 0] > 0
    visits[door] = 0.0  # pretend the door cell was never visited
    starts = np.bincount(first, minlength=s.mdp.n_states) * ~door
    report = reachable_identifiability(s.mdp, visits, starts)
    assert "door" not in report.constant and "door" in report.one_sided
    assert "could reach but never where it went" in report.message
    assert report.to_dict()["scope"] == "reachable"
    body = exact_report(
        mdp=s.mdp,
        trajectories=s.trajectories,
        inferred=fit_linear(s, seed=887_000),
        reference=s.training,
        n_parameters=3,
    ).to_dict()
    ident = body["identifiability"]
    assert ident["scope"] == "reachable"
    for name in ident["constant"]:
        assert f"`{name}` (" not in body["explanation"] or "not identifiable" in body["explanation"]
    for name in ident["one_sided"]:
        cited = body["explanation"].split(f"`{name}` (", 1)
        assert len(cited) == 1 or cited[1].split(")")[0].endswith("never where the agent went")
