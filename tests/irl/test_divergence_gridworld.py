"""The 3x3 gridworld rewards of the EPIC paper's appendix, with distances derived by hand.

As in the paper (evaluating-rewards, analysis/gridworld_rewards.py): deterministic moves
stay/up/down/left/right (walls block), gamma = 0.99, R(s, a, s') = r(s) + gamma phi(s') - phi(s)
for a state reward r of the source state and a potential phi. States are cells in row-major order
with the goal in the bottom-right corner.

For unshaped state rewards every canonicalisation has a closed form, used below:
- EPIC (uniform D_S, D_A, coverage): the state means of R are r itself, so
  C(R)(s,a,s') = r(s) + gamma r(s') - r(s) - gamma mean(r) = gamma (r(s') - mean(r)), and EPIC is
  sqrt((1 - rho) / 2) with rho the plain correlation of the two 3x3 grids.
- DARD (feasible coverage): C(R)(s,a,s') = gamma (r(s') - mean_b r(next(s, b))).
- STARC (uniform coverage): V = (I - gamma P)^-1 r, so r(s) - V(s) = -gamma (P V)(s) and
  C(R)(s,a,s') = gamma (V(s') - (P V)(s)); STARC is sqrt((1 - cos) / 2) of the two canonical
  vectors (half the distance of unit vectors).
The DARD and STARC expectations are recomputed below from the grid moves, independently of
irl.divergence.
"""

import itertools

import numpy as np
import pytest

from irl.divergence import dard_distance, epic_distance, regret, starc_distance
from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from tests.irl.gridworld import gridworld_spec

GAMMA = 0.99
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
SPARSE_GOAL = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 1.0]])
OBSTACLE_COURSE = np.array([[0, -1, -1], [0, 0, 0], [-1, -1, 5.0]])
CLIFF_WALK = np.array([[0, -1, -1], [0, 0, 0], [-9, -9, 5.0]])
MANHATTAN_FROM_GOAL = np.array([[4, 3, 2], [3, 2, 1], [2, 1, 0.0]])
ZERO = np.zeros((3, 3))
REWARDS = {
    "sparse_goal": (SPARSE_GOAL, ZERO),
    "sparse_goal_shift": (SPARSE_GOAL + 1, ZERO),
    "sparse_goal_scale": (SPARSE_GOAL * 10, ZERO),
    "dense_goal": (SPARSE_GOAL, -MANHATTAN_FROM_GOAL),
    "antidense_goal": (SPARSE_GOAL, MANHATTAN_FROM_GOAL),
    "transformed_goal": (SPARSE_GOAL * 10 - 1, -MANHATTAN_FROM_GOAL * 10),
    "dirt_path": (OBSTACLE_COURSE, ZERO),
    "cliff_walk": (CLIFF_WALK, ZERO),
    "sparse_penalty": (-SPARSE_GOAL, ZERO),
}
EQUIVALENT = (
    "sparse_goal_shift",
    "sparse_goal_scale",
    "dense_goal",
    "antidense_goal",
    "transformed_goal",
)


def grid(horizon: int = 6) -> TabularMDP:
    """The deterministic 3x3 gridworld, uniform start, gamma 0.99."""
    return parse_tabular_mdp(gridworld_spec(rows=3, cols=3, discount=GAMMA, horizon=horizon))


def reward(name: str) -> np.ndarray:
    """(9, 5, 9) R(s, a, s') = r(s) + gamma phi(s') - phi(s)."""
    state_reward, potential = (x.ravel() for x in REWARDS[name])
    return (
        np.broadcast_to(state_reward[:, None, None], (9, 5, 9))
        + GAMMA * potential[None, None, :]
        - potential[:, None, None]
    )


def successor(state: int, action: int) -> int:
    """The cell a move leads to (walls block)."""
    row, col = divmod(state, 3)
    d_row, d_col = MOVES[action]
    if 0 <= row + d_row < 3 and 0 <= col + d_col < 3:
        row, col = row + d_row, col + d_col
    return 3 * row + col


def one_step_means(values: np.ndarray) -> np.ndarray:
    """(9,) mean over the five moves of values[successor(s, a)]."""
    return np.array([np.mean([values[successor(s, a)] for a in range(5)]) for s in range(9)])


def half_distance(x: np.ndarray, y: np.ndarray, centred: bool) -> float:
    """sqrt((1 - cos) / 2) of x and y, after centring if asked (then cos is Pearson's rho)."""
    if centred:
        x, y = x - x.mean(), y - y.mean()
    cos = float(x @ y / np.sqrt((x @ x) * (y @ y)))
    return float(np.sqrt((1.0 - cos) / 2.0))


def dard_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson distance of gamma (r(s') - mean_b r(next(s, b))) over the 45 feasible (s, a)."""

    def canonical(r: np.ndarray) -> np.ndarray:
        r = r.ravel()
        means = one_step_means(r)
        return np.array([r[successor(s, a)] - means[s] for s in range(9) for a in range(5)])

    return half_distance(canonical(a), canonical(b), centred=True)


def starc_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt((1 - cos) / 2) of V(s') - (P V)(s) over all (s, s') (the action does not enter)."""

    def canonical(r: np.ndarray) -> np.ndarray:
        chain = np.zeros((9, 9))
        for s, a in itertools.product(range(9), range(5)):
            chain[s, successor(s, a)] += 0.2
        values = np.linalg.solve(np.eye(9) - GAMMA * chain, r.ravel())
        return (values[None, :] - (chain @ values)[:, None]).ravel()

    return half_distance(canonical(a), canonical(b), centred=False)


def returns_by_hand(r: np.ndarray, horizon: int) -> tuple[float, float]:
    """(optimal, uniform-random) expected return of state reward r from a uniform start."""
    optimal, random = np.zeros(9), np.zeros(9)
    for _ in range(horizon):
        nexts = [[successor(s, a) for a in range(5)] for s in range(9)]
        optimal = r.ravel() + GAMMA * np.array([max(optimal[n] for n in row) for row in nexts])
        random = r.ravel() + GAMMA * np.array([np.mean([random[n] for n in row]) for row in nexts])
    return float(optimal.mean()), float(random.mean())


@pytest.mark.parametrize("name", EQUIVALENT)
def test_equivalent_rewards_are_at_distance_zero(name: str) -> None:
    mdp, a, b = grid(), reward("sparse_goal"), reward(name)
    assert epic_distance(a, b, discount=GAMMA) == pytest.approx(0.0, abs=1e-7)
    assert dard_distance(mdp, a, b, discount=GAMMA) == pytest.approx(0.0, abs=1e-7)
    assert starc_distance(mdp, a, b, discount=GAMMA) == pytest.approx(0.0, abs=1e-7)


def test_sparse_penalty_is_at_distance_one() -> None:
    mdp, a, b = grid(), reward("sparse_goal"), reward("sparse_penalty")
    assert epic_distance(a, b, discount=GAMMA) == pytest.approx(1.0)
    assert dard_distance(mdp, a, b, discount=GAMMA) == pytest.approx(1.0)
    assert starc_distance(mdp, a, b, discount=GAMMA) == pytest.approx(1.0)


def test_epic_by_hand() -> None:
    # Grids as 9-vectors: goal g = e_8 (mean 1/9, var 8/81); dirt o (sum 1, mean 1/9,
    # mean(o^2) = 29/9, var 260/81); cliff c (sum -15, mean -5/3, mean(c^2) = 189/9, var 164/9).
    # cov(g, o) = 5/9 - 1/81 = 44/81  -> rho = 44 / sqrt(8 * 260) = 11 / sqrt(130)
    # cov(g, c) = 5/9 + 5/27 = 20/27  -> rho = 20 / sqrt(8 * 164) = 5 / sqrt(82)
    # cov(o, c) = 45/9 + 5/27 = 140/27 -> rho = 140 / sqrt(260 * 164) = 35 / sqrt(2665)
    expected = {
        ("sparse_goal", "dirt_path"): np.sqrt((1 - 11 / np.sqrt(130)) / 2),
        ("sparse_goal", "cliff_walk"): np.sqrt((1 - 5 / np.sqrt(82)) / 2),
        ("dirt_path", "cliff_walk"): np.sqrt((1 - 35 / np.sqrt(2665)) / 2),
    }
    assert [round(v, 4) for v in expected.values()] == [0.1327, 0.4732, 0.4013]
    for (x, y), value in expected.items():
        assert epic_distance(reward(x), reward(y), discount=GAMMA) == pytest.approx(value)
        assert epic_distance(reward(x), reward("transformed_goal"), discount=GAMMA) == (
            pytest.approx(epic_distance(reward(x), reward("sparse_goal"), discount=GAMMA), abs=1e-7)
        )


@pytest.mark.parametrize(
    ("x", "y", "dard", "starc"),
    [
        ("sparse_goal", "dirt_path", 0.1459, 0.0796),
        ("sparse_goal", "cliff_walk", 0.4215, 0.6142),
        ("dirt_path", "cliff_walk", 0.3309, 0.5885),
    ],
)
def test_dard_and_starc_by_independent_computation(
    x: str, y: str, dard: float, starc: float
) -> None:
    mdp = grid()
    a, b = REWARDS[x][0], REWARDS[y][0]
    assert dard_by_hand(a, b) == pytest.approx(dard, abs=5e-5)
    assert starc_by_hand(a, b) == pytest.approx(starc, abs=5e-5)
    assert dard_distance(mdp, reward(x), reward(y), discount=GAMMA) == pytest.approx(
        dard_by_hand(a, b)
    )
    assert starc_distance(mdp, reward(x), reward(y), discount=GAMMA) == pytest.approx(
        starc_by_hand(a, b)
    )


@pytest.mark.parametrize("name", [*EQUIVALENT[:3], "transformed_goal", "dirt_path", "cliff_walk"])
def test_optimising_a_goal_seeking_reward_costs_nothing_under_the_sparse_goal(name: str) -> None:
    # Each reaches the goal by a shortest path and stays, as sparse_goal's optimum does.
    assert regret(grid(), reward("sparse_goal"), reward(name)) == 0.0


def test_optimising_the_sparse_penalty_is_worse_than_random() -> None:
    # It leaves the goal and never returns: J = 1/9 (from a start on the goal, paid at t = 0),
    # below the random policy's return, so the normalised regret exceeds 1 and is clipped.
    optimal, random = returns_by_hand(SPARSE_GOAL, 6)
    assert 1 / 9 < random < optimal
    assert regret(grid(), reward("sparse_goal"), reward("sparse_penalty")) == 1.0


def test_regret_of_the_sparse_goal_under_the_dirt_path() -> None:
    # sparse_goal's optimum picks uniformly among moves towards the goal. Expected discounted
    # -1 penalties after t = 0 it pays (W at t = 0) where dirt_path's optimum pays none more:
    # W(1,1) = g/2; W(1,0) = g/2 + 3g^2/4; W(0,1) = g/2 + g^2/4; W(0,0) = g/2 + g^2/2 + g^3/2
    # (from (2,0) both go right through (2,1)). Same arrival times, so the regret is their mean
    # over the 9 starts over the optimal-minus-random return of dirt_path.
    g = GAMMA
    lost = (2 * g + 1.5 * g**2 + 0.5 * g**3) / 9
    optimal, random = returns_by_hand(OBSTACLE_COURSE, 6)
    expected = lost / (optimal - random)
    assert expected == pytest.approx(0.0241, abs=1e-4)
    assert regret(grid(), reward("dirt_path"), reward("sparse_goal")) == pytest.approx(expected)


def test_finite_horizon_regret_sees_the_terminal_potential() -> None:
    # antidense_goal adds gamma^H phi(s_H) - phi(s_0) to a return, phi = Manhattan distance.
    # With H = 6, from (0,0) staying far earns 4 g^6 = 3.77 > g^4 + g^5 + g^6 = 2.85 (reach the
    # goal, step off at the end), so it never reaches the goal from there and sparse_goal loses
    # g^4 + g^5 on that start; from (0,1) and (1,0) the goal still wins (3.82 > 3.77).
    # With H = 20 the goal wins everywhere, and only the (irrelevant) last move differs.
    g = GAMMA
    optimal, random = returns_by_hand(SPARSE_GOAL, 6)
    expected = (g**4 + g**5) / 9 / (optimal - random)
    sparse, antidense = reward("sparse_goal"), reward("antidense_goal")
    assert regret(grid(6), sparse, antidense) == pytest.approx(expected)
    assert regret(grid(20), sparse, antidense) == 0.0
