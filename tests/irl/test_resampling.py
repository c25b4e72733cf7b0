"""A bootstrap resample's measurement reuses the full data's: its (t, s) pairs, a local search
for the inverse temperature near the full data's, and the named goals' plans. Each shortcut
must give the numbers the full computation gives on that resample."""

import numpy as np
import pytest

from irl.errors import InvalidInputError
from irl.goal_directedness import ActionData, PlanningReward, fit_behaviour
from irl.hypotheses import default_candidates
from irl.report.sparse import Resampling, SparseReference, sparse_measure
from irl.rewards import LinearReward, reward_array
from irl.uncertainty import resample
from tests.irl.policies import biased, sampled
from tests.irl.scenarios import Scenario, fit_linear, linear_refit, scenario

SEED = 47_000


@pytest.fixture(scope="module", params=["door_seeker", "red_seeker", "random_walker"])
def agent(request: pytest.FixtureRequest) -> Scenario:
    return scenario(request.param, seed=SEED)


def test_counts_on_the_full_data_rows_are_the_resample_counts(agent: Scenario) -> None:
    mdp, full = agent.mdp, agent.trajectories
    rows = ActionData.of(mdp, full)
    sample = resample(full, np.random.default_rng(1))
    own, aligned = ActionData.of(mdp, sample), ActionData.of(mdp, sample, rows=rows)
    assert aligned.n_steps == own.n_steps == sample.n_transitions
    keys = rows.times * mdp.n_states + rows.states
    where = np.searchsorted(keys, own.times * mdp.n_states + own.states)
    assert np.array_equal(aligned.counts[where], own.counts)
    assert aligned.counts.sum() == own.counts.sum()


def test_pairs_outside_the_rows_are_refused(agent: Scenario) -> None:
    mdp = agent.mdp
    first = resample(agent.trajectories, np.random.default_rng(2))
    rows = ActionData.of(mdp, first)
    other = sampled(mdp, biased(mdp, "left", 0.9), 30, seed=SEED + 5)
    with pytest.raises(InvalidInputError, match="outside"):
        ActionData.of(mdp, other, rows=rows)


def test_the_local_search_reaches_the_full_search_maximum(agent: Scenario) -> None:
    """On resamples, the profile maximum found near the full data's beta is the full search's
    (to its tolerance), with the bias and without."""
    mdp, full = agent.mdp, agent.trajectories
    reward = PlanningReward.of(mdp, reward_array(LinearReward({"door": 1.0, "red": 0.5}), mdp))
    rows = ActionData.of(mdp, full)
    around = fit_behaviour(mdp, rows, reward).inverse_temperature
    rng = np.random.default_rng(3)
    for _ in range(3):
        data = ActionData.of(mdp, resample(full, rng), rows=rows)
        for bias in (True, False):
            searched = fit_behaviour(mdp, data, reward, bias=bias)
            local = fit_behaviour(mdp, data, reward, bias=bias, around=around or None)
            tolerance = 1e-3 * max(1.0, abs(searched.log_likelihood))
            assert local.log_likelihood == pytest.approx(searched.log_likelihood, abs=tolerance)


def test_a_warm_resample_measures_what_a_cold_one_does(agent: Scenario) -> None:
    mdp, full = agent.mdp, agent.trajectories
    reference = SparseReference.of(mdp, agent.training, n_parameters=3)
    candidates = default_candidates(mdp, agent.training, support=reference.support)
    inferred = fit_linear(agent, seed=SEED)
    refit_of = linear_refit(mdp, seed=SEED)
    point = sparse_measure(reference, full, inferred, candidates=candidates)
    warm = Resampling.of(reference, full, candidates, point)
    rng = np.random.default_rng(4)
    for _ in range(2):
        sample = resample(full, rng)
        refit = refit_of(sample)
        cold = sparse_measure(reference, sample, refit, candidates=candidates).evidence
        hot = sparse_measure(reference, sample, refit, candidates=candidates, warm=warm).evidence
        assert hot.epic == cold.epic
        assert hot.normalized_training_return == cold.normalized_training_return
        scale = 1e-3 * max(1.0, abs(cold.log_likelihood_ratio_per_step))
        assert hot.log_likelihood_ratio_per_step == pytest.approx(
            cold.log_likelihood_ratio_per_step, abs=scale
        )
        assert hot.hypotheses is not None and cold.hypotheses is not None
        assert hot.hypotheses.best == cold.hypotheses.best
        assert hot.hypotheses.best_posterior == pytest.approx(
            cold.hypotheses.best_posterior, abs=0.02
        )
