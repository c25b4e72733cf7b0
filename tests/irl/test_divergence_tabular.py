"""Regret by hand, and tabular_distances (the service's entry point)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from irl.divergence import (
    METRICS,
    epic_distance,
    regret,
    symmetric_regret,
    tabular_distances,
)
from irl.environments import TabularMDP
from tests.irl.assertions import problems


def fork() -> TabularMDP:
    """Start in 0; action k moves to state k + 1 and states 1..3 stay put; horizon 2, gamma 1."""
    rows = np.zeros((4 * 3, 4))
    for action in range(3):
        rows[action, action + 1] = 1.0
    for state in range(1, 4):
        rows[3 * state : 3 * state + 3, state] = 1.0
    return TabularMDP(
        name="fork",
        n_states=4,
        n_actions=3,
        transitions=scipy.sparse.csr_array(rows),
        initial_state_dist=np.array([1.0, 0.0, 0.0, 0.0]),
        horizon=2,
        discount=1.0,
        feature_names=("bias",),
        features=np.ones((4, 1)),
    )


def by_state(*values: float) -> np.ndarray:
    """(4, 3, 4) reward of the source state."""
    return np.broadcast_to(np.array(values)[:, None, None], (4, 3, 4)).copy()


def test_regret_by_hand() -> None:
    # Returns are the reward of the state reached at t = 1 (state 0 pays 0 at t = 0).
    # Under a = [0, 3, 2, 0]: optimal 3, uniform (3 + 2 + 0) / 3 = 5/3.
    mdp, a = fork(), by_state(0, 3, 2, 0)
    # b's optimum goes to state 2 and earns 2: (3 - 2) / (3 - 5/3) = 3/4.
    assert regret(mdp, a, by_state(0, 0, 1, 0)) == pytest.approx(0.75)
    # Tied optima share probability: states 1 and 2 each w.p. 1/2, 2.5: 0.5 / (4/3) = 3/8.
    assert regret(mdp, a, by_state(0, 1, 1, 0)) == pytest.approx(0.375)
    # Asymmetric: under b = [0, 0, 1, 0] (optimal 1, uniform 1/3) a's optimum earns 0:
    # (1 - 0) / (2/3) = 3/2, worse than random, clipped to 1.
    assert regret(mdp, by_state(0, 0, 1, 0), a) == 1.0
    assert symmetric_regret(mdp, a, by_state(0, 0, 1, 0)) == 1.0
    assert regret(mdp, a, 7 * a + 2) == 0.0


def test_regret_is_none_when_every_policy_is_as_good() -> None:
    mdp = fork()
    assert regret(mdp, by_state(5, 1, 1, 1), by_state(0, 3, 2, 0)) is None
    assert symmetric_regret(mdp, by_state(5, 1, 1, 1), by_state(0, 0, 1, 0)) == 1.0
    assert symmetric_regret(mdp, by_state(1, 1, 1, 1), by_state(2, 2, 2, 2)) is None


def test_tabular_distances_keys_and_nulls() -> None:
    mdp, a, b = fork(), by_state(0, 3, 2, 0), by_state(0, 0, 1, 0)
    result = tabular_distances(mdp, a, b, discount=0.9, coverage=None, visited=None)
    assert tuple(result) == METRICS
    assert result["pearson"] is None
    assert result["regret"] == pytest.approx(0.75)
    assert result["epic"] == epic_distance(a, b, discount=0.9)
    assert all(0.0 <= v <= 1.0 for v in result.values() if v is not None)
    flat = tabular_distances(
        mdp, by_state(1, 1, 1, 1), b, discount=0.9, coverage=None, visited=None
    )
    assert flat["regret"] is None


def test_pearson_on_visited_transitions_by_hand() -> None:
    # Visits: (0, 0, 1) twice, (0, 1, 2) and (1, 0, 1) once; weights [1/2, 1/4, 1/4].
    # a = r(s) gives x = [0, 0, 3]; b = a shaped by phi = [0, 1, 0, 0] (gamma 1) gives
    # y = [1, 0, 3]. Weighted: mean x = 3/4, mean y = 5/4, cov = 21/16, var x = 27/16,
    # var y = 19/16, so rho = 21 / sqrt(513). Raw rewards: shaping is not removed.
    mdp, a = fork(), by_state(0, 3, 2, 0)
    potential = np.array([0.0, 1.0, 0.0, 0.0])
    b = a + potential[None, None, :] - potential[:, None, None]
    visited = np.zeros((4, 3, 4))
    visited[0, 0, 1], visited[0, 1, 2], visited[1, 0, 1] = 2, 1, 1
    result = tabular_distances(mdp, a, b, discount=1.0, coverage=None, visited=visited)
    assert result["pearson"] == pytest.approx(np.sqrt((1 - 21 / np.sqrt(513)) / 2))
    assert result["epic"] == pytest.approx(0.0, abs=1e-7)
    shifted = tabular_distances(mdp, a, 3 * a + 1, discount=1.0, coverage=None, visited=visited)
    assert shifted["pearson"] == pytest.approx(0.0, abs=1e-7)


def test_tabular_distances_invalid_inputs() -> None:
    mdp, a = fork(), by_state(0, 3, 2, 0)
    assert problems(
        tabular_distances, mdp, a, a, discount=0.9, coverage=np.ones((4, 3)), visited=None
    ) == [("coverage", "shape [4, 3], expected [4, 3, 4]")]
    assert problems(
        tabular_distances, mdp, a, a, discount=0.9, coverage=None, visited=np.ones(4)
    ) == [("visited", "shape [4], expected [4, 3, 4]")]
    assert problems(
        tabular_distances,
        mdp,
        np.zeros((2, 1, 2)),
        np.zeros((2, 1, 2)),
        discount=0.9,
        coverage=None,
        visited=None,
    ) == [("a", "shape [2, 1, 2], expected [4, 3, 4]")]


def test_docs_table_names_every_registered_distance() -> None:
    text = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text()
    table = text.split("| name | exact | sampled |")[1].split("\n\n")[0]
    rows = [line.split("|")[1].strip(" `") for line in table.splitlines() if line.startswith("| `")]
    assert tuple(rows) == METRICS
