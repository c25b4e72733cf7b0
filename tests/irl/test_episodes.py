"""One goal, or different goals in different episodes (irl.episodes, and the verdict it feeds)."""

import numpy as np
import pytest

from irl.algorithms import mce_irl
from irl.environments import TabularMDP
from irl.episodes import (
    NO_GOAL,
    episode_log_likelihoods,
    episode_mixture,
    mixing_proportions,
    step_pairs,
)
from irl.goal_directedness import ActionData, fit_behaviour, fitted_log_policy
from irl.hypotheses import default_candidates, fit_hypotheses
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.report import exact_report
from irl.rewards import LinearReward, reward_array
from irl.trajectories import TrajectorySet
from tests.irl.gridworld import sample_trajectories
from tests.irl.scenarios import TRAINING_WEIGHTS, fit_linear, scenario, shifted_maze_spec


def test_mixing_proportions_of_separated_components_are_their_episode_shares() -> None:
    # 3 episodes only component 0 can produce, 1 only component 1 can: w = (3/4, 1/4)
    impossible = -1e6
    ll = np.array([[-2.0, impossible]] * 3 + [[impossible, -5.0]])
    weights, total = mixing_proportions(ll)
    np.testing.assert_allclose(weights, [0.75, 0.25], atol=1e-6)
    expected = 3 * (-2.0 + np.log(0.75)) + (-5.0 + np.log(0.25))
    assert total == pytest.approx(expected, abs=1e-6)


def test_identical_components_gain_nothing_over_one() -> None:
    ll = np.tile(np.array([[-3.0], [-4.0], [-1.5]]), (1, 3))
    _, total = mixing_proportions(ll)
    assert total == pytest.approx(-8.5, abs=1e-9)
    mixture = episode_mixture(
        ["a", "b"], [True, False], ll, free_log_likelihood=-8.5, free_parameters=2, n_steps=30
    )
    assert mixture.versus_best.log_likelihood_ratio_per_step == pytest.approx(0.0, abs=1e-9)
    assert mixture.versus_best.p_value == pytest.approx(1.0)


def test_same_goal_share_leaves_out_the_episodes_without_a_goal() -> None:
    impossible = -1e6
    # columns: training goal, other goal, no goal; 2 + 2 + 4 episodes
    ll = np.array(
        [[-1.0, impossible, impossible]] * 2
        + [[impossible, -1.0, impossible]] * 2
        + [[impossible, impossible, -1.0]] * 4
    )
    mixture = episode_mixture(
        ["exit", "gem"], [True, False], ll, free_log_likelihood=-1e3, free_parameters=2, n_steps=80
    )
    assert mixture.shares[NO_GOAL] == pytest.approx(0.5, abs=1e-6)
    assert mixture.same_goal_share == pytest.approx(0.5, abs=1e-6)
    assert next(iter(mixture.shares)) == NO_GOAL  # largest first


def test_episode_log_likelihoods_add_up_to_the_fit() -> None:
    s = scenario("red_seeker", seed=887_000, n=20)
    data = ActionData.of(s.mdp, s.trajectories)
    pairs = step_pairs(s.mdp.n_states, data, s.trajectories)
    for reward in (reward_array(LinearReward({"red": 1.0}), s.mdp), None):
        fit = fit_behaviour(s.mdp, data, reward)
        log_policy = fitted_log_policy(s.mdp, data, reward, fit)
        assert float(np.sum(data.counts * log_policy)) == pytest.approx(fit.log_likelihood)
        episodes = episode_log_likelihoods(log_policy, pairs, s.trajectories)
        assert episodes.shape == (20,)
        assert float(episodes.sum()) == pytest.approx(fit.log_likelihood)


def mixed_agents(seed: int, n_door: int, n_red: int) -> tuple[TabularMDP, TrajectorySet]:
    """n_door door-seeker and n_red red-seeker episodes in the test maze, shuffled."""
    spec = shifted_maze_spec()
    rng = np.random.default_rng(seed)
    episodes = sample_trajectories(spec, n=n_door, rng=rng, reward={"door": 3.0})
    episodes += sample_trajectories(spec, n=n_red, rng=rng, reward={"red": 3.0})
    order = rng.permutation(len(episodes))
    return parse_tabular_mdp(spec), parse_trajectories([episodes[i] for i in order])


def test_door_and_red_episodes_are_a_mixture_and_the_verdict_says_so() -> None:
    mdp, trajectories = mixed_agents(888_000, n_door=20, n_red=30)
    training = LinearReward(TRAINING_WEIGHTS)
    inferred = mce_irl(
        mdp=mdp, trajectories=trajectories, reward_model="linear", rng=np.random.default_rng(0)
    ).reward
    assert isinstance(inferred, LinearReward)
    report = exact_report(
        mdp=mdp,
        trajectories=trajectories,
        inferred=inferred,
        reference=training,
        n_parameters=len(mdp.feature_names),
    )
    h = report.hypotheses
    assert h is not None and h.episodes is not None
    assert h.episodes.shares["door"] == pytest.approx(0.4, abs=0.1)
    assert h.episodes.shares["red"] == pytest.approx(0.6, abs=0.1)
    assert h.episodes.versus_best.p_value < 1e-3
    assert report.verdict == "inconclusive", report.explanation
    assert "different episodes pursue different goals" in report.explanation


def test_one_goal_in_every_episode_is_not_a_mixture() -> None:
    s = scenario("red_seeker", seed=889_000)
    inferred = fit_linear(s, seed=889_000)
    h = fit_hypotheses(
        s.mdp,
        s.trajectories,
        default_candidates(s.mdp, s.training),
        free_reward=reward_array(inferred, s.mdp),
        free_parameters=len(s.mdp.feature_names),
        far_epic=0.5,
    )
    assert h.episodes is not None
    assert h.episodes.versus_best.log_likelihood_ratio_per_step < 0.01
    assert max(h.episodes.shares, key=h.episodes.shares.__getitem__) == "red"
