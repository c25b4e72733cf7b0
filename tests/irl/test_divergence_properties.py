"""DARD and STARC: hand-computed canonicalisations and the pseudometrics' invariances."""

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from irl.divergence import (
    dard_canonicalize,
    dard_distance,
    starc_canonicalize,
    starc_distance,
    transition_coverage,
)
from irl.environments import TabularMDP
from tests.irl.test_divergence_epic import finite, shaped

Distance = Callable[..., float]
METRICS: dict[str, tuple[Distance, Callable[..., np.ndarray]]] = {
    "dard": (dard_distance, dard_canonicalize),
    "starc": (starc_distance, starc_canonicalize),
}


def mdp_from(dynamics: np.ndarray) -> TabularMDP:
    """A TabularMDP with (S, A, S) dynamics (rows renormalised), uniform start, horizon 3."""
    n_states, n_actions, _ = dynamics.shape
    rows = dynamics.reshape(n_states * n_actions, n_states)
    rows = rows / rows.sum(axis=1, keepdims=True)
    return TabularMDP(
        name="random",
        n_states=n_states,
        n_actions=n_actions,
        transitions=scipy.sparse.csr_array(rows),
        initial_state_dist=np.full(n_states, 1.0 / n_states),
        horizon=3,
        discount=0.9,
        feature_names=("bias",),
        features=np.ones((n_states, 1)),
    )


@st.composite
def problems(
    draw: st.DrawFn, count: int = 1, min_probability: float = 0.0
) -> tuple[TabularMDP, list[np.ndarray]]:
    """A random MDP (S in 2..5, A in 1..3; some transitions impossible) and `count` rewards."""
    n_states, n_actions = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    shape = (n_states, n_actions, n_states)
    dynamics = draw(hnp.arrays(np.float64, shape, elements=st.floats(min_probability, 1.0)))
    dynamics[..., 0] += dynamics.sum(axis=2) == 0
    rewards = [draw(hnp.arrays(np.float64, shape, elements=finite)) for _ in range(count)]
    return mdp_from(dynamics), rewards


def informative(metric: str, mdp: TabularMDP, reward: np.ndarray, discount: float) -> bool:
    """Whether the canonical reward varies on the default coverage (else distance is convention)."""
    canonical = METRICS[metric][1](mdp, reward, discount).ravel()
    if metric == "dard":
        weights = transition_coverage(mdp).ravel()
        centred = canonical - weights @ canonical
        spread = float(np.sqrt(weights @ centred**2))
    else:
        spread = float(np.sqrt((canonical**2).mean()))
    return spread > 1e-6 * max(1.0, float(np.abs(reward).max()))


def two_state_mdp() -> TabularMDP:
    """States 0, 1; action 0 stays, action 1 switches (deterministic)."""
    dynamics = np.zeros((2, 2, 2))
    dynamics[0, 0, 0] = dynamics[0, 1, 1] = dynamics[1, 0, 1] = dynamics[1, 1, 0] = 1.0
    return mdp_from(dynamics)


# Feasible transitions of two_state_mdp: (0,stay,0)=1, (0,switch,1)=2, (1,stay,1)=3,
# (1,switch,0)=4; the four impossible ones are 0.
FEASIBLE = ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0))
HAND_REWARD = np.zeros((2, 2, 2))
for _value, _index in enumerate(FEASIBLE, start=1):
    HAND_REWARD[_index] = _value


def feasible(array: np.ndarray) -> list[float]:
    """The array's values on the two-state MDP's feasible transitions."""
    return [float(array[index]) for index in FEASIBLE]


def test_dard_canonicalisation_by_hand() -> None:
    # u(x) = E[R(x, A, S')], the uniform policy's one-step reward: u = [(1+2)/2, (3+4)/2].
    # cross(s, s') = mean_a R(T(s,a), a, T(s',a)): stay gives R(s,0,s'), switch R(1-s,1,1-s'):
    # cross(0,0) = (1+0)/2, cross(0,1) = (0+4)/2, cross(1,0) = (0+2)/2, cross(1,1) = (3+0)/2.
    # With gamma = 0.5, C = R + 0.5 u(s') - u(s) - 0.5 cross(s, s'):
    expected = [
        1 + 0.5 * 1.5 - 1.5 - 0.5 * 0.5,
        2 + 0.5 * 3.5 - 1.5 - 0.5 * 2.0,
        3 + 0.5 * 3.5 - 3.5 - 0.5 * 1.5,
        4 + 0.5 * 1.5 - 3.5 - 0.5 * 1.0,
    ]
    assert expected == [0.0, 1.25, 0.5, 0.75]
    canonical = dard_canonicalize(two_state_mdp(), HAND_REWARD, 0.5)
    assert feasible(canonical) == pytest.approx(expected)
    assert canonical[0, 0, 1] == pytest.approx(0 + 0.5 * 3.5 - 1.5 - 0.5 * 2.0)


def test_starc_canonicalisation_by_hand() -> None:
    # The uniform policy moves to either state w.p. 1/2, r_pi = [1.5, 3.5].
    # gamma = 0.5: V = r_pi + 0.5 mean(V) gives mean(V) = 5, V = [4, 6];
    # C = R - V(s) + 0.5 V(s'), e.g. (0,stay,0): 1 - 4 + 2 = -1.
    mdp = two_state_mdp()
    assert feasible(starc_canonicalize(mdp, HAND_REWARD, 0.5)) == pytest.approx([-1, 1, 0, 0])
    # gamma = 1: h = r_pi - g + mean(h), sum(h) = 0 gives g = 2.5, h = [-1, 1];
    # C = R - g - h(s) + h(s'), e.g. (0,stay,0): 1 - 2.5 + 1 - 1 = -1.5.
    assert feasible(starc_canonicalize(mdp, HAND_REWARD, 1.0)) == pytest.approx(
        [-1.5, 1.5, 0.5, -0.5]
    )


def test_starc_distance_by_hand() -> None:
    # On the feasible transitions the canonical rewards are [-1, 1, 0, 0] (above) and
    # [0, 0, 1, -1] (r_pi = 0, so V = 0): orthogonal unit vectors, sqrt(2) apart, distance
    # sqrt(2) / 2.
    mdp = two_state_mdp()
    other = np.zeros((2, 2, 2))
    other[1, 0, 1], other[1, 1, 0] = 1.0, -1.0
    coverage = transition_coverage(mdp)
    assert starc_distance(
        mdp, HAND_REWARD, other, discount=0.5, coverage=coverage
    ) == pytest.approx(np.sqrt(0.5))


def test_starc_zero_reward_conventions() -> None:
    mdp = two_state_mdp()
    potential = np.array([2.0, -3.0])
    shaping = shaped(np.zeros((2, 2, 2)), potential, 0.5)
    assert starc_distance(mdp, shaping, np.zeros((2, 2, 2)), discount=0.5) == 0.0
    assert starc_distance(mdp, HAND_REWARD, shaping, discount=0.5) == pytest.approx(0.5)


def test_dard_default_coverage_is_the_dynamics() -> None:
    mdp = two_state_mdp()
    other = HAND_REWARD[:, :, ::-1].copy()
    assert dard_distance(mdp, HAND_REWARD, other, discount=0.5) == dard_distance(
        mdp, HAND_REWARD, other, discount=0.5, coverage=transition_coverage(mdp)
    )
    assert dard_distance(mdp, HAND_REWARD, other, discount=0.5) != dard_distance(
        mdp, HAND_REWARD, other, discount=0.5, coverage=np.ones((2, 2, 2))
    )


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=60, deadline=None)
@given(
    problem=problems(),
    discount=st.floats(0.0, 0.99),
    scale=st.floats(0.01, 100.0),
    shift=finite,
    data=st.data(),
)
def test_shaping_rescaling_and_shifts_are_at_distance_zero(
    metric: str,
    problem: tuple[TabularMDP, list[np.ndarray]],
    discount: float,
    scale: float,
    shift: float,
    data: st.DataObject,
) -> None:
    mdp, (reward,) = problem
    assume(informative(metric, mdp, reward, discount))
    potential = data.draw(hnp.arrays(np.float64, mdp.n_states, elements=finite))
    other = scale * shaped(reward, potential, discount) + shift
    distance = METRICS[metric][0]
    assert distance(mdp, reward, other, discount=discount) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(problem=problems(min_probability=0.05), scale=st.floats(0.01, 100.0), data=st.data())
def test_starc_undiscounted_invariance_with_one_recurrent_class(
    problem: tuple[TabularMDP, list[np.ndarray]], scale: float, data: st.DataObject
) -> None:
    mdp, (reward,) = problem
    assume(informative("starc", mdp, reward, 1.0))
    potential = data.draw(hnp.arrays(np.float64, mdp.n_states, elements=finite))
    other = scale * shaped(reward, potential, 1.0) + data.draw(finite)
    assert starc_distance(mdp, reward, other, discount=1.0) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=60, deadline=None)
@given(problem=problems(), discount=st.floats(0.0, 1.0))
def test_negation_is_at_distance_one(
    metric: str, problem: tuple[TabularMDP, list[np.ndarray]], discount: float
) -> None:
    mdp, (reward,) = problem
    assume(informative(metric, mdp, reward, discount))
    distance = METRICS[metric][0]
    assert distance(mdp, reward, -reward, discount=discount) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=60, deadline=None)
@given(problem=problems(count=2), discount=st.floats(0.0, 1.0))
def test_symmetric_and_in_range(
    metric: str, problem: tuple[TabularMDP, list[np.ndarray]], discount: float
) -> None:
    mdp, (a, b) = problem
    distance = METRICS[metric][0]
    forward = distance(mdp, a, b, discount=discount)
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(distance(mdp, b, a, discount=discount), abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=60, deadline=None)
@given(problem=problems(count=3), discount=st.floats(0.0, 1.0), data=st.data())
def test_triangle_inequality(
    metric: str,
    problem: tuple[TabularMDP, list[np.ndarray]],
    discount: float,
    data: st.DataObject,
) -> None:
    mdp, (a, b, c) = problem
    coverage = data.draw(st.none() | hnp.arrays(np.float64, a.shape, elements=st.floats(0.0, 1.0)))
    assume(coverage is None or coverage.sum() > 0)
    distance = METRICS[metric][0]
    ab = distance(mdp, a, b, discount=discount, coverage=coverage)
    bc = distance(mdp, b, c, discount=discount, coverage=coverage)
    ac = distance(mdp, a, c, discount=discount, coverage=coverage)
    assert ac <= ab + bc + 1e-9
