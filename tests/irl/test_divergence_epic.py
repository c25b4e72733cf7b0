"""EPIC: canonicalisation, Pearson distance conventions, and the pseudometric's invariances."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from irl.divergence import (
    epic_canonicalize,
    epic_distance,
    pearson_distance,
    transition_coverage,
)
from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from tests.irl.assertions import problems

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
discounts = st.floats(0.0, 1.0)


@st.composite
def reward_arrays(draw: st.DrawFn, count: int = 1) -> list[np.ndarray]:
    """`count` random (S, A, S) rewards of one shape, S in 2..5, A in 1..3."""
    n_states, n_actions = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    shape = (n_states, n_actions, n_states)
    return [draw(hnp.arrays(np.float64, shape, elements=finite)) for _ in range(count)]


def shaped(reward: np.ndarray, potential: np.ndarray, discount: float) -> np.ndarray:
    """R(s, a, s') + gamma * phi(s') - phi(s)."""
    return reward + discount * potential[None, None, :] - potential[:, None, None]


def informative(reward: np.ndarray, discount: float) -> bool:
    """Whether the canonical reward varies (otherwise every distance is a convention)."""
    canonical = epic_canonicalize(reward, discount)
    return float(canonical.std()) > 1e-6 * max(1.0, float(np.abs(canonical).max()))


def test_canonicalisation_by_hand() -> None:
    reward = np.array([[[0.0, 1.0]], [[2.0, 3.0]]])
    # State means m = [0.5, 2.5], overall mean 1.5, gamma = 0.5:
    # C = R + 0.5 m[s'] - m[s] - 0.75.
    expected = np.array(
        [
            [[0.0 + 0.25 - 0.5 - 0.75, 1.0 + 1.25 - 0.5 - 0.75]],
            [[2.0 + 0.25 - 2.5 - 0.75, 3.0 + 1.25 - 2.5 - 0.75]],
        ]
    )
    np.testing.assert_allclose(epic_canonicalize(reward, 0.5), expected)


def test_potential_shaping_canonicalises_to_zero() -> None:
    potential = np.array([3.0, -1.0, 7.0])
    np.testing.assert_allclose(
        epic_canonicalize(shaped(np.zeros((3, 2, 3)), potential, 0.9), 0.9), 0.0, atol=1e-12
    )


def test_pearson_distance_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0])
    assert pearson_distance(x, 2 * x + 5) == pytest.approx(0.0, abs=1e-7)
    assert pearson_distance(x, -x) == pytest.approx(1.0)
    assert pearson_distance(x, np.array([1.0, 3.0, 2.0])) == pytest.approx(0.5)


def test_pearson_distance_constant_conventions() -> None:
    x = np.array([1.0, 2.0, 3.0])
    assert pearson_distance(np.ones(3), np.full(3, 5.0)) == 0.0
    assert pearson_distance(x, np.ones(3)) == pytest.approx(np.sqrt(0.5))
    assert pearson_distance(x + 1e6, np.full(3, 1e6) + 1e-12 * x) == pytest.approx(np.sqrt(0.5))


def test_pearson_distance_weights_ignore_zero_weight_entries() -> None:
    x, y = np.array([1.0, 2.0, 3.0, 100.0]), np.array([1.0, 2.0, 3.0, -100.0])
    assert pearson_distance(x, y, np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(0.0, abs=1e-7)
    assert pearson_distance(x, y) > 0.5


def test_pearson_distance_ignores_huge_values_off_the_support() -> None:
    x = np.array([1e-300, 2e-300, 1e300])
    assert pearson_distance(x, np.array([1.0, 2.0, -3.0]), np.array([1.0, 1.0, 0.0])) == (
        pytest.approx(0.0, abs=1e-7)
    )


def test_pearson_distance_handles_extreme_magnitudes() -> None:
    x = np.array([1e300, -1e300, 5e299])
    assert pearson_distance(x, x) == pytest.approx(0.0, abs=1e-7)
    assert pearson_distance(x * 1e-300 * 1e-300, x) == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(
    rewards=reward_arrays(),
    discount=discounts,
    scale=st.floats(0.01, 100.0),
    shift=finite,
    data=st.data(),
)
def test_shaping_rescaling_and_shifts_are_at_distance_zero(
    rewards: list[np.ndarray], discount: float, scale: float, shift: float, data: st.DataObject
) -> None:
    (reward,) = rewards
    assume(informative(reward, discount))
    potential = data.draw(hnp.arrays(np.float64, reward.shape[0], elements=finite))
    other = scale * shaped(reward, potential, discount) + shift
    assert epic_distance(reward, other, discount=discount) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(rewards=reward_arrays(), discount=discounts)
def test_negation_is_at_distance_one(rewards: list[np.ndarray], discount: float) -> None:
    (reward,) = rewards
    assume(informative(reward, discount))
    assert epic_distance(reward, -reward, discount=discount) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(rewards=reward_arrays(count=2), discount=discounts)
def test_symmetric_and_in_range(rewards: list[np.ndarray], discount: float) -> None:
    a, b = rewards
    forward = epic_distance(a, b, discount=discount)
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(epic_distance(b, a, discount=discount), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(rewards=reward_arrays(count=3), discount=discounts)
def test_triangle_inequality(rewards: list[np.ndarray], discount: float) -> None:
    a, b, c = rewards
    ab = epic_distance(a, b, discount=discount)
    bc = epic_distance(b, c, discount=discount)
    ac = epic_distance(a, c, discount=discount)
    assert ac <= ab + bc + 1e-9


@settings(max_examples=50, deadline=None)
@given(rewards=reward_arrays(count=2), discount=discounts, data=st.data())
def test_triangle_inequality_with_coverage(
    rewards: list[np.ndarray], discount: float, data: st.DataObject
) -> None:
    a, b = rewards
    coverage = data.draw(hnp.arrays(np.float64, a.shape, elements=st.floats(0.0, 1.0)))
    assume(coverage.sum() > 0)
    c = a - b
    ab = epic_distance(a, b, discount=discount, coverage=coverage)
    bc = epic_distance(b, c, discount=discount, coverage=coverage)
    ac = epic_distance(a, c, discount=discount, coverage=coverage)
    assert ac <= ab + bc + 1e-9


def test_transition_coverage_is_a_distribution(grid5: TabularMDP) -> None:
    coverage = transition_coverage(grid5)
    assert coverage.shape == (25, 5, 25)
    assert coverage.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(coverage.sum(axis=2), 1.0 / (25 * 5))


def test_invalid_inputs() -> None:
    reward = np.zeros((2, 1, 2))
    assert problems(epic_distance, reward, np.zeros((3, 1, 3)), discount=0.9) == [
        ("b", "shape [3, 1, 3], expected [2, 1, 2] like a"),
    ]
    assert problems(epic_distance, np.zeros((2, 1, 3)), reward, discount=0.9) == [
        ("a", "shape [2, 1, 3], expected [S, A, S]"),
    ]
    assert problems(epic_distance, reward, reward, discount=1.5) == [
        ("discount", "must be in [0, 1], got 1.5"),
    ]
    assert problems(epic_distance, reward, reward, discount=0.5, coverage=-np.ones((2, 1, 2))) == [
        ("weights", "must be finite, non-negative and not all zero"),
    ]
    with pytest.raises(InvalidInputError):
        epic_distance(np.full((2, 1, 2), np.inf), reward, discount=0.5)
