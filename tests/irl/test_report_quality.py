"""Deep reports' quality signals (irl.report.quality): warnings and the EPIC's standard error."""

import math

import numpy as np
import pytest

from irl.algorithms.base import FitDiagnostics
from irl.report.quality import (
    CONSTANT_REFERENCE,
    MIN_IMITATION_SCORE,
    NOISE_Z,
    UNRELATED_EPIC,
    deep_quality,
    epic_standard_error,
    imitation_score,
    is_constant,
)
from irl.trajectories import TrajectorySet


def random_walks(n_trajectories: int, length: int, seed: int) -> TrajectorySet:
    """Gaussian random walks in 2-D with two actions (observations as float vectors)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(n_trajectories, length + 1, 2)).cumsum(axis=1)
    return TrajectorySet(
        obs=steps.reshape(-1, 2),
        acts=rng.integers(0, 2, size=n_trajectories * length),
        rews=None,
        terminal=np.zeros(n_trajectories, dtype=bool),
        lengths=np.full(n_trajectories, length, dtype=np.int64),
    )


def first_coordinate(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64)[:, 0]


def second_coordinate(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64)[:, 1]


def test_unrelated_warning_within_noise_of_one_over_root_two() -> None:
    se = 0.01
    near = deep_quality(None, epic=UNRELATED_EPIC - 0.9 * NOISE_Z * se, epic_standard_error=se)
    far = deep_quality(None, epic=UNRELATED_EPIC - 1.1 * NOISE_Z * se, epic_standard_error=se)
    assert len(near.warnings) == 1 and "unrelated" in near.warnings[0]
    assert far.warnings == ()
    assert near.unrelated_epic == pytest.approx(1 / math.sqrt(2))
    assert deep_quality(None, epic=0.7, epic_standard_error=None).warnings == ()


def test_a_constant_reference_is_said_so_instead() -> None:
    warnings = deep_quality(
        None, epic=UNRELATED_EPIC, epic_standard_error=0.01, constant_reference=True
    ).warnings
    assert warnings == (CONSTANT_REFERENCE,)
    assert is_constant(np.ones(5)) and not is_constant(np.array([1.0, 0.0]))


def test_generator_warning_below_half_way_from_random_to_demonstrations() -> None:
    base = FitDiagnostics(demo_return=100.0, random_return=20.0, random_return_standard_error=1.0)
    for generator, warns in ((50.0, True), (70.0, False)):
        d = FitDiagnostics(**{**base.__dict__, "generator_return": generator})
        score = imitation_score(d)
        assert score == pytest.approx((generator - 20.0) / 80.0)
        assert (score < MIN_IMITATION_SCORE) == warns
        warnings = deep_quality(d, epic=None, epic_standard_error=None).warnings
        assert (len(warnings) == 1 and "did not learn" in warnings[0]) == warns


def test_no_imitation_score_when_demonstrations_are_random_play() -> None:
    d = FitDiagnostics(
        generator_return=0.0, demo_return=21.0, random_return=20.0, random_return_standard_error=1
    )
    assert imitation_score(d) is None  # |21 - 20| <= 1.96 standard errors
    assert deep_quality(d, epic=None, epic_standard_error=None).warnings == ()


def test_epic_standard_error_shrinks_with_more_trajectories() -> None:
    """Unrelated rewards: the bootstrap spread falls roughly as 1/sqrt(trajectories); a reward
    against itself has no spread."""
    few, many = random_walks(4, 50, 0), random_walks(36, 50, 1)
    se = [
        epic_standard_error(
            first_coordinate,
            second_coordinate,
            ts,
            discount=0.9,
            rng=np.random.default_rng(2),
            n_bootstrap=100,
        )
        for ts in (few, many)
    ]
    assert se[1] < se[0] / 1.5  # sqrt(36 / 4) = 3 in expectation
    same = epic_standard_error(
        first_coordinate, first_coordinate, many, discount=0.9, rng=np.random.default_rng(3)
    )
    assert same < 1e-6 < se[1]
