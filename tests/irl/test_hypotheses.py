"""Named-goal hypotheses: candidates, posteriors, "none of the named goals"."""

import numpy as np
import pytest

from irl.hypotheses import TRAINING, default_candidates, fit_hypotheses
from irl.planning import soft_optimal_policy
from irl.rewards import LinearReward, TabularReward, reward_array
from tests.irl.scenarios import Agent, fit_linear, scenario

PURSUED: dict[Agent, str] = {"door_seeker": "door", "red_seeker": "red"}
FIRST_SEED: dict[Agent, int] = {"door_seeker": 884_000, "red_seeker": 885_000}
N_SEEDS = 20


def test_default_candidates_name_the_training_feature_and_drop_duplicates() -> None:
    s = scenario("door_seeker", seed=886_000, n=5)
    named = {"door again": LinearReward({"door": 2.0}, bias=1.0), "lamp": LinearReward({"red": -1})}
    candidates = default_candidates(s.mdp, LinearReward({"door": 1.0}), named)
    assert [(c.name, c.training) for c in candidates] == [
        ("door", True),
        ("lamp", False),
        ("red", False),
        ("blue", False),
    ]
    mixed = default_candidates(s.mdp, LinearReward({"door": 1.0, "red": 1.0}), features=False)
    assert [c.name for c in mixed] == [TRAINING]


@pytest.mark.parametrize("agent", list(PURSUED))
def test_posterior_picks_the_pursued_feature_on_fresh_seeds(agent: Agent) -> None:
    hits = 0
    for seed in range(FIRST_SEED[agent], FIRST_SEED[agent] + N_SEEDS):
        s = scenario(agent, seed=seed)
        inferred = fit_linear(s, seed=seed)
        h = fit_hypotheses(
            s.mdp,
            s.trajectories,
            default_candidates(s.mdp, s.training),
            free_reward=reward_array(inferred, s.mdp),
            free_parameters=3,
            far_epic=0.5,
        )
        assert sum(c.posterior for c in h.candidates) == pytest.approx(1.0)
        hits += h.best == PURSUED[agent] and h.best_posterior >= 0.95
        assert h.free_versus_best.p_value > 1e-3  # the pursued feature explains it fully
    assert hits >= 0.95 * N_SEEDS


def test_an_unnamed_goal_is_none_of_the_named_goals() -> None:
    s = scenario("door_seeker", seed=886_001)
    mdp = s.mdp
    corner = np.zeros(mdp.n_states)
    corner[14] = 1.0  # a plain cell: no feature marks it
    from tests.irl.test_behaviour_models import sampled

    policy = soft_optimal_policy(mdp, 3.0 * reward_array(TabularReward(corner), mdp))
    ts = sampled(mdp, policy, 50, seed=886_002)
    h = fit_hypotheses(
        mdp,
        ts,
        default_candidates(mdp, s.training),
        free_reward=reward_array(TabularReward(corner), mdp),
        free_parameters=mdp.n_states,
        far_epic=0.5,
    )
    assert h.free_versus_best.p_value < 1e-3
    assert h.free_versus_best.log_likelihood_ratio_per_step > 0.05
