"""MCE IRL: parameters, trajectory fit, occupancy, determinism, progress, and reward recovery."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from imitation.algorithms.mce_irl import MCEIRL
from imitation.data.types import Trajectory
from imitation.rewards.reward_nets import BasicRewardNet
from imitation.util.logger import configure
from seals.base_envs import TabularModelPOMDP

from irl.algorithms import (
    Cancelled,
    MceIrlParams,
    Progress,
    RewardModel,
    check_mce_irl_fit,
    demo_occupancy,
    mce_irl,
    validate_params,
)
from irl.divergence import epic_distance
from irl.environments import TabularMDP
from irl.io.environments import parse_tabular_mdp
from irl.io.trajectories import parse_trajectories
from irl.rewards import LinearReward, TabularReward, reward_array
from irl.trajectories import TrajectorySet
from tests.irl.assertions import problems
from tests.irl.gridworld import gridworld_spec, sample_trajectories


def demonstrations(
    seed: int, n: int, **spec_fields: Any
) -> tuple[TabularMDP, TrajectorySet, np.random.Generator]:
    """A gridworld, n soft-optimal demonstrations, and the generator that sampled them."""
    spec = gridworld_spec(**spec_fields)
    rng = np.random.default_rng(seed)
    ts = parse_trajectories(sample_trajectories(spec, n=n, rng=rng))
    return parse_tabular_mdp(spec), ts, rng


def epic_to(
    reward: TabularReward | LinearReward, weights: dict[str, float], mdp: TabularMDP
) -> float:
    """EPIC distance (uniform coverage, the environment's discount) to a linear reward."""
    truth = reward_array(LinearReward(weights), mdp)
    return epic_distance(reward_array(reward, mdp), truth, discount=mdp.discount)


def test_validate_params_defaults_and_values() -> None:
    assert validate_params({}) == MceIrlParams()
    assert validate_params({"max_iter": 50, "learning_rate": 0.5}) == MceIrlParams(
        max_iter=50, learning_rate=0.5
    )


def test_validate_params_errors() -> None:
    assert problems(validate_params, {"max_iter": 0, "learning_rate": "fast", "lr": 1}) == [
        (
            "params.lr",
            "unknown field; allowed fields: bootstrap_refit, grad_l2_eps, l2_penalty, "
            "learning_rate, linf_eps, max_iter, solver",
        ),
        ("params.max_iter", "must be >= 1, got 0"),
        ("params.learning_rate", "expected a number, got string 'fast'"),
    ]
    assert problems(validate_params, {"linf_eps": -1.0, "l2_penalty": None}) == [
        ("params.linf_eps", "must be >= 0.0, got -1.0"),
        ("params.l2_penalty", "expected a number, got null"),
    ]
    assert problems(validate_params, [1]) == [("params", "expected an object, got a list")]
    assert problems(validate_params, {"bootstrap_refit": "twice"}) == [
        ("params.bootstrap_refit", "expected one of newton, converged, one_step, got 'twice'")
    ]


def test_check_mce_irl_fit() -> None:
    mdp = parse_tabular_mdp(gridworld_spec(rows=2, cols=2, absorbing_door=True, horizon=3))
    fine = parse_trajectories(
        [
            {"obs": [0, 1, 3], "acts": [4, 2], "terminal": True},
            {"obs": [0, 0, 0, 1], "acts": [0, 0, 4]},
        ]
    )
    check_mce_irl_fit(mdp, fine)
    bad = parse_trajectories(
        [
            {"obs": [0, 1], "acts": [4]},
            {"obs": [0, 1], "acts": [4], "terminal": True},
            {"obs": [0] * 5, "acts": [0] * 4},
        ]
    )
    assert problems(check_mce_irl_fit, mdp, bad) == [
        ("trajectories[2].acts", "length 4 exceeds the environment horizon 3"),
        (
            "trajectories[0].acts",
            "length 1 is shorter than the horizon 3 and the trajectory is not terminal; "
            "MCE IRL needs full-horizon trajectories or terminal ends in absorbing states",
        ),
        (
            "trajectories[1].obs",
            "ends at step 1, before the horizon 3, in state 1, which is not "
            "absorbing (some action leaves it)",
        ),
    ]


def test_demo_occupancy_matches_imitation_and_pads_early_ends(tmp_path: Path) -> None:
    mdp = parse_tabular_mdp(
        gridworld_spec(rows=2, cols=2, absorbing_door=True, horizon=3, discount=0.9)
    )
    full = [np.array([0, 1, 3, 3]), np.array([0, 0, 2, 3]), np.array([0, 1, 0, 1])]
    acts = [np.array([4, 2, 0]), np.array([0, 2, 4]), np.array([4, 3, 4])]
    env = TabularModelPOMDP(
        transition_matrix=mdp.dense_transitions(),
        observation_matrix=mdp.features.copy(),
        reward_matrix=np.zeros(4),
        horizon=3,
        initial_state_dist=mdp.initial_state_dist.copy(),
    )
    reference = MCEIRL(
        [
            Trajectory(obs=o, acts=a, infos=None, terminal=True)
            for o, a in zip(full, acts, strict=True)
        ],
        env,
        BasicRewardNet(env.observation_space, env.action_space),
        np.random.default_rng(0),
        discount=0.9,
        custom_logger=configure(tmp_path, format_strs=[]),
    )
    early = parse_trajectories(
        [
            {"obs": [0, 1, 3], "acts": [4, 2], "terminal": True},
            {"obs": [0, 0, 2, 3], "acts": [0, 2, 4]},
            {"obs": [0, 1, 0, 1], "acts": [4, 3, 4]},
        ]
    )
    assert reference.demo_state_om is not None
    np.testing.assert_allclose(demo_occupancy(mdp, early), reference.demo_state_om, rtol=1e-12)


def test_recovers_the_door_on_a_7x7_gridworld() -> None:
    mdp, ts, rng = demonstrations(0, 50, reward={"door": 3.0})
    result = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=rng)
    assert isinstance(result.reward, LinearReward)
    weights = result.reward.weights
    assert max(weights, key=lambda name: weights[name]) == "door"
    assert weights["door"] == pytest.approx(3.0, abs=0.5)
    assert result.converged and result.n_iterations < 1000
    assert epic_to(result.reward, {"door": 3.0}, mdp) < 0.15


def test_recovers_the_door_on_a_slippery_5x5_gridworld() -> None:
    mdp, ts, rng = demonstrations(0, 50, rows=5, cols=5, slip=0.05, reward={"door": 3.0})
    result = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=rng)
    assert isinstance(result.reward, LinearReward)
    weights = result.reward.weights
    assert max(weights, key=lambda name: weights[name]) == "door"
    assert result.converged
    assert epic_to(result.reward, {"door": 3.0}, mdp) < 0.15


def test_estimate_is_consistent_with_many_demonstrations() -> None:
    mdp, ts, rng = demonstrations(0, 1000, reward={"door": 3.0, "red": -1.0})
    result = mce_irl(mdp=mdp, trajectories=ts, reward_model="linear", rng=rng, l2_penalty=0.0)
    assert epic_to(result.reward, {"door": 3.0, "red": -1.0}, mdp) < 0.03


@pytest.mark.parametrize("reward_model", ["linear", "tabular", "mlp"])
def test_same_seed_same_result(reward_model: RewardModel) -> None:
    mdp, ts, _ = demonstrations(0, 10, rows=4, cols=4)
    runs = [
        mce_irl(
            mdp=mdp,
            trajectories=ts,
            reward_model=reward_model,
            rng=np.random.default_rng(7),
            max_iter=40,
        )
        for _ in range(2)
    ]
    first, second = (reward_array(run.reward, mdp) for run in runs)
    np.testing.assert_array_equal(first, second)
    assert runs[0].curve == runs[1].curve and runs[0].n_iterations == runs[1].n_iterations


def test_mlp_initialisation_depends_on_the_seed_only() -> None:
    mdp, ts, _ = demonstrations(0, 10, rows=4, cols=4)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    values = [
        mce_irl(
            mdp=mdp,
            trajectories=ts,
            reward_model="mlp",
            rng=np.random.default_rng(seed),
            max_iter=1,
        ).reward
        for seed in (1, 2)
    ]
    assert torch.equal(torch.random.get_rng_state(), before)
    assert isinstance(values[0], TabularReward) and isinstance(values[1], TabularReward)
    assert not np.allclose(values[0].values, values[1].values)


@pytest.mark.parametrize("reward_model", ["tabular", "mlp"])
def test_tabular_and_mlp_models_return_state_rewards(reward_model: RewardModel) -> None:
    mdp, ts, rng = demonstrations(0, 20, rows=4, cols=4, reward={"door": 3.0})
    result = mce_irl(mdp=mdp, trajectories=ts, reward_model=reward_model, rng=rng, max_iter=300)
    assert isinstance(result.reward, TabularReward)
    assert result.reward.values.shape == (16,)
    assert int(np.argmax(result.reward.values)) == 15


def test_early_terminal_trajectories_in_absorbing_states() -> None:
    spec = gridworld_spec(rows=4, cols=4, absorbing_door=True, reward={"door": 3.0})
    rng = np.random.default_rng(0)
    ts = parse_trajectories(sample_trajectories(spec, n=30, rng=rng, stop_when_absorbed=True))
    assert ts.terminal.any() and (ts.lengths < 8).any()
    result = mce_irl(mdp=parse_tabular_mdp(spec), trajectories=ts, reward_model="linear", rng=rng)
    assert isinstance(result.reward, LinearReward)
    weights = result.reward.weights
    assert max(weights, key=lambda name: weights[name]) == "door"


def test_progress_is_reported_per_chunk() -> None:
    mdp, ts, rng = demonstrations(0, 10, rows=4, cols=4)
    reports: list[Progress] = []
    result = mce_irl(
        mdp=mdp,
        trajectories=ts,
        reward_model="linear",
        rng=rng,
        max_iter=35,
        grad_l2_eps=0.0,
        linf_eps=0.0,
        solver="imitation",
        progress=reports.append,
    )
    assert [p.iteration for p in reports] == [10, 20, 30, 35]
    assert [p.fraction for p in reports] == pytest.approx([10 / 35, 20 / 35, 30 / 35, 1.0])
    assert set(reports[0].metrics) == {"linf_delta", "grad_norm"}
    assert [entry["iteration"] for entry in result.curve] == [10.0, 20.0, 30.0, 35.0]
    assert result.n_iterations == 35 and not result.converged


def test_should_stop_cancels_between_chunks() -> None:
    mdp, ts, rng = demonstrations(0, 10, rows=4, cols=4)
    calls: list[int] = []

    def stop_on_second_check() -> bool:
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(Cancelled, match="after 10 iterations"):
        mce_irl(
            mdp=mdp,
            trajectories=ts,
            reward_model="linear",
            rng=rng,
            solver="imitation",
            should_stop=stop_on_second_check,
        )


def test_invalid_arguments() -> None:
    mdp, ts, rng = demonstrations(0, 3, rows=3, cols=3)
    assert problems(mce_irl, mdp=mdp, trajectories=ts, reward_model="cnn", rng=rng) == [
        ("reward_model", "expected one of linear, tabular, mlp, got 'cnn'"),
    ]
    assert problems(
        mce_irl, mdp=mdp, trajectories=ts, reward_model="linear", rng=rng, learning_rate=-1.0
    ) == [
        ("params.learning_rate", "must be > 0.0, got -1.0"),
    ]
    short = parse_trajectories([{"obs": [0, 1], "acts": [4]}])
    assert problems(mce_irl, mdp=mdp, trajectories=short, reward_model="linear", rng=rng)[0][0] == (
        "trajectories[0].acts"
    )
