"""Deep rewards projected onto the maze's tabular view (irl.report.projection) and the full
report on the projection (irl.report.deep.projected_report)."""

from dataclasses import replace

import numpy as np

from irl.agents import gym_trajectories
from irl.algorithms.deep import deep_irl
from irl.algorithms.deep_params import validate_deep_params
from irl.environments import MAZE_IDS, generate_maze
from irl.environments.gym_rewards import maze_door_reward
from irl.io.trajectories import parse_trajectories
from irl.report.deep import projected_report, seed_spread, with_seeds
from irl.report.projection import TabularView, project, state_trajectories, tabular_view
from irl.report.quality import deep_quality
from irl.rewards_net import NetworkReward
from irl.trajectories import TrajectorySet
from irl.verdict import VERDICTS

KWARGS = {"maze_seed": 4, "size": 3}


def door(obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    return maze_door_reward(obs, acts, next_obs, None)


def test_only_fixed_mazes_have_a_tabular_view() -> None:
    assert tabular_view("seals/CartPole-v0", {}) is None
    assert tabular_view(MAZE_IDS["train"], {"size": 3}) is None  # a new maze every reset
    view = tabular_view(MAZE_IDS["train"], KWARGS)
    assert view is not None and view.maze == generate_maze(distribution="train", seed=4, size=3)
    assert view.observations.shape == (view.maze.n_states, 5 * 7 * 7)


def test_projection_of_the_door_reward_is_the_training_reward() -> None:
    view = tabular_view(MAZE_IDS["test"], KWARGS)
    assert view is not None
    np.testing.assert_array_equal(project(door, view).values, view.maze.rewards)


def test_images_map_back_to_states_that_follow_the_dynamics() -> None:
    view = tabular_view(MAZE_IDS["test"], KWARGS)
    assert view is not None
    images = parse_trajectories(
        gym_trajectories(view.maze, agent="door_seeker", n=3, rng=np.random.default_rng(0))
    )
    states = state_trajectories(images, view)
    s, a, s_next = states.transitions()
    np.testing.assert_array_equal(view.maze.next_states[s, a], s_next)
    assert states.obs[0] == view.maze.state_of[view.maze.start]


def density_fit(ts: TrajectorySet, seed: int, points: int = 200) -> NetworkReward:
    """A state density reward of maze trajectories (`points` kernel centres drawn by seed)."""
    fit = deep_irl(
        algorithm="density",
        env=MAZE_IDS["test"],
        env_kwargs=KWARGS,
        trajectories=ts,
        rng=np.random.default_rng(seed),
        params=validate_deep_params(
            {"density_type": "state", "max_kde_points": points}, algorithm="density"
        ),
    )
    assert isinstance(fit.reward, NetworkReward)
    return fit.reward


def door_seeker(view: TabularView, n: int = 20) -> TrajectorySet:
    """n door-seeker episodes in the maze's gymnasium view."""
    rng = np.random.default_rng(1)
    return parse_trajectories(gym_trajectories(view.maze, agent="door_seeker", n=n, rng=rng))


def test_a_density_fit_gets_a_full_verdict_on_the_projection() -> None:
    """A door-seeker's density reward, projected: the tabular report's verdict, returns and
    goal-directedness, and the door-seeker pursues the training reward's door."""
    view = tabular_view(MAZE_IDS["test"], KWARGS)
    assert view is not None
    ts = door_seeker(view)
    report = projected_report(density_fit(ts, 1), view, ts, rng=np.random.default_rng(2))
    assert report.verdict in VERDICTS and report.goal_directedness is not None
    assert report.hypotheses is not None and report.returns.normalized_under_training is not None
    assert report.returns.normalized_under_training > 0.5  # the seeker reaches the door


def test_seeds_that_disagree_make_the_verdict_inconclusive() -> None:
    view = tabular_view(MAZE_IDS["test"], KWARGS)
    assert view is not None
    ts = door_seeker(view, 5)
    rewards = [density_fit(ts, seed, points=60) for seed in (1, 2)]
    reports = [projected_report(r, view, ts, rng=np.random.default_rng(2)) for r in rewards]
    point = replace(reports[0], quality=deep_quality(None, epic=None, epic_standard_error=None))
    spread = seed_spread(
        reports, rewards, ts, discount=0.95, sample_next=None, rng=np.random.default_rng(0)
    )
    assert spread.n_seeds == 2 and spread.between_seeds_dard is None
    assert 0.0 < spread.between_seeds_epic < 0.5  # 60 of 180 points: similar, not equal
    low, high = spread.metrics["epic"]
    assert low == min(r.metrics["epic"] for r in reports) and high >= low
    agreed = with_seeds(point, spread)
    assert agreed.verdict == point.verdict and agreed.quality.seeds == spread
    flipped = replace(spread, verdicts={point.verdict: 1, "inconclusive": 1})
    assert with_seeds(point, flipped).verdict == "inconclusive"
    assert "flips across 2" in with_seeds(point, flipped).explanation
