"""The divergence report: its shape, the path without bootstrap, and the bootstrap."""

import json
from collections.abc import Iterator

import numpy as np
import pytest

from irl.io.trajectories import parse_trajectories
from irl.report import exact_report
from irl.rewards import LinearReward, TabularReward
from irl.trajectories import TrajectorySet
from irl.uncertainty import resample, select
from irl.verdict import Thresholds
from tests.irl.scenarios import Scenario, fit_linear, linear_refit, scenario

SEED = 43_000


@pytest.fixture(scope="module")
def red_seeker() -> Scenario:
    """A red-seeker in the test maze."""
    return scenario("red_seeker", seed=SEED)


def report(s: Scenario, inferred: LinearReward | TabularReward, **kwargs: object) -> dict:
    """exact_report against the training reward, linear model (3 parameters)."""
    return exact_report(
        mdp=s.mdp,
        trajectories=s.trajectories,
        inferred=inferred,
        reference=s.training,
        n_parameters=3,
        **kwargs,  # type: ignore[arg-type]
    ).to_dict()


def test_report_shape_without_bootstrap(red_seeker: Scenario) -> None:
    body = report(red_seeker, LinearReward({"red": 3.0}))
    assert json.loads(json.dumps(body)) == body
    assert set(body) >= {
        "metrics",
        "returns",
        "goal_directedness",
        "verdict",
        "explanation",
        "uncertainty",
        "thresholds",
    }
    directed = body["goal_directedness"]
    assert {"log_likelihood_ratio_per_step", "p_value", "optimisation_power_bits"} <= set(directed)
    assert directed["optimisation_power"]["method"] == "exact"
    assert body["uncertainty"] is None
    assert body["thresholds"] == Thresholds().to_dict()
    assert body["verdict"] == "goal_misgeneralization"
    assert "`red` (1.00)" in body["explanation"]


def test_tabular_rewards_are_described_by_cell(red_seeker: Scenario) -> None:
    values = np.zeros(red_seeker.mdp.n_states)
    values[0] = 2.0
    body = report(red_seeker, TabularReward(values))
    assert "cell (0, 0) (1.00)" in body["explanation"]


def test_bootstrap_is_deterministic_given_rng(red_seeker: Scenario) -> None:
    inferred = fit_linear(red_seeker, seed=1)
    first, second = (
        report(
            red_seeker,
            inferred,
            refit=linear_refit(red_seeker.mdp, seed=2),
            rng=np.random.default_rng(3),
            n_bootstrap=5,
        )
        for _ in range(2)
    )
    assert first == second
    uncertainty = first["uncertainty"]
    assert uncertainty["n_bootstrap"] == 5
    assert sum(uncertainty["verdicts"].values()) == 5
    for key in ("epic", "normalized_under_training", "normalized_under_inferred"):
        lo, hi = uncertainty[key]
        assert lo <= hi
    lo, hi = uncertainty["normalized_under_training"]
    assert lo <= first["returns"]["normalized_under_training"] <= hi


def alternating(*rewards: LinearReward) -> Iterator[LinearReward]:
    """The rewards in turn, forever."""
    while True:
        yield from rewards


def test_a_verdict_that_flips_under_resampling_is_inconclusive(red_seeker: Scenario) -> None:
    refits = alternating(LinearReward({"red": 3.0}), LinearReward({"door": 3.0}))
    body = report(
        red_seeker,
        LinearReward({"red": 3.0}),
        refit=lambda ts: next(refits),
        rng=np.random.default_rng(4),
        n_bootstrap=6,
    )
    assert body["verdict"] == "inconclusive"
    assert body["uncertainty"]["verdicts"] == {
        "capability_failure": 3,
        "goal_misgeneralization": 3,
    }
    assert body["uncertainty"]["disagreement"] == 0.5
    assert "50% of 6 bootstrap resamples reach another verdict" in body["explanation"]


def test_a_small_disagreement_is_tolerated(red_seeker: Scenario) -> None:
    refits = alternating(*[LinearReward({"red": 3.0})] * 9, LinearReward({"door": 3.0}))
    body = report(
        red_seeker,
        LinearReward({"red": 3.0}),
        refit=lambda ts: next(refits),
        rng=np.random.default_rng(4),
        n_bootstrap=10,
    )
    assert body["verdict"] == "goal_misgeneralization"
    assert body["uncertainty"]["disagreement"] == pytest.approx(0.1)


def small_set() -> TrajectorySet:
    """Three trajectories of lengths 1, 2, 3 with recorded rewards."""
    return parse_trajectories(
        [
            {"obs": [0, 1], "acts": [0], "rews": [1.0]},
            {"obs": [2, 3, 4], "acts": [1, 2], "rews": [2.0, 3.0]},
            {"obs": [5, 6, 7, 8], "acts": [3, 4, 0], "rews": [4.0, 5.0, 6.0], "terminal": True},
        ]
    )


def test_select_keeps_whole_trajectories_in_order() -> None:
    picked = select(small_set(), np.array([2, 0, 2]))
    assert picked.lengths.tolist() == [3, 1, 3]
    assert picked.obs.tolist() == [5, 6, 7, 8, 0, 1, 5, 6, 7, 8]
    assert picked.acts.tolist() == [3, 4, 0, 0, 3, 4, 0]
    assert picked.rews is not None
    assert picked.rews.tolist() == [4.0, 5.0, 6.0, 1.0, 4.0, 5.0, 6.0]
    assert picked.terminal.tolist() == [True, False, True]


def test_resample_draws_with_replacement_deterministically() -> None:
    ts = small_set()
    first = resample(ts, np.random.default_rng(8))
    second = resample(ts, np.random.default_rng(8))
    assert first.n_trajectories == ts.n_trajectories
    assert first.obs.tolist() == second.obs.tolist()
