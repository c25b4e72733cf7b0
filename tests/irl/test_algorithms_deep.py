"""Deep IRL (AIRL, GAIL, density) on seals/CartPole-v0 with tiny budgets, and its validation."""

import random
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import seals  # noqa: F401  (registers the seals/ ids)
import torch as th
from gymnasium.envs.classic_control import CartPoleEnv

from irl.algorithms.base import Cancelled, Progress
from irl.algorithms.deep import _spaces_and_horizon, deep_irl, demonstrations
from irl.algorithms.deep_params import DeepIrlParams, validate_deep_params
from irl.environments.gym_rewards import environment_reward
from irl.environments.maze_gym import MAZE_IDS, register_mazes
from irl.errors import InvalidInputError
from irl.rewards_net import NetworkReward
from irl.trajectories import TrajectorySet

ENV = "seals/CartPole-v0"
TINY = {
    "total_timesteps": 512,
    "n_envs": 2,
    "gen_n_steps": 128,
    "gen_n_epochs": 2,
    "demo_batch_size": 128,
    "n_disc_updates_per_round": 2,
    "reward_hidden_sizes": [16],
    "policy_hidden_sizes": [16],
    "n_eval_episodes": 2,
}


def rollouts(
    env_id: str, n: int, policy: Callable[[np.ndarray], Any], *, max_steps: int = 500
) -> TrajectorySet:
    """Seeded episodes of a scripted policy, as a TrajectorySet (flat float64 observations)."""
    env = gym.make(env_id)
    obs_parts, act_parts, lengths, terminal = [], [], [], []
    for episode in range(n):
        obs, _ = env.reset(seed=episode)
        observations, actions = [obs], []
        for _ in range(max_steps):
            action = policy(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            if terminated or truncated:
                break
        obs_parts.append(np.array(observations, np.float64))
        act_parts.append(np.array(actions))
        lengths.append(len(actions))
        terminal.append(bool(terminated))
    env.close()
    return TrajectorySet(
        obs=np.concatenate(obs_parts),
        acts=np.concatenate(act_parts),
        rews=None,
        terminal=np.array(terminal),
        lengths=np.array(lengths, np.int64),
    )


def scripted_cartpole(
    env_id: str, n: int, *, max_steps: int = 500, gain: float = 1.0
) -> TrajectorySet:
    """Episodes of a controller that pushes toward the pole's lean (gain < 0: away from it)."""
    return rollouts(
        env_id, n, lambda obs: int(gain * (obs[2] + 0.5 * obs[3]) > 0), max_steps=max_steps
    )


@pytest.fixture(scope="module")
def demos() -> TrajectorySet:
    """Two full-horizon scripted seals/CartPole-v0 episodes (1000 transitions)."""
    return scripted_cartpole(ENV, 2)


def _run(algorithm: Any, demos: TrajectorySet, seed: int, **kwargs: Any) -> Any:
    """deep_irl with the tiny budget."""
    params = validate_deep_params(TINY, algorithm=algorithm)
    return deep_irl(
        algorithm=algorithm,
        env=ENV,
        trajectories=demos,
        rng=np.random.default_rng(seed),
        params=params,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.parametrize(("algorithm", "output"), [("airl", "identity"), ("gail", "softplus")])
def test_adversarial_end_to_end(algorithm: str, output: str, demos: TrajectorySet) -> None:
    """A tiny run reports each round, returns a NetworkReward that round-trips bit-for-bit."""
    reports: list[Progress] = []
    result = _run(algorithm, demos, 0, progress=reports.append)
    assert [r.iteration for r in reports] == [1, 2]
    assert reports[-1].fraction == 1.0
    assert result.n_iterations == 2 and not result.converged
    assert {"iteration", "timesteps", "disc_loss", "disc_acc"} <= set(result.curve[-1])
    reward = result.reward
    assert isinstance(reward, NetworkReward)
    assert reward.config["kind"] == "basic" and reward.config["output"] == output
    data = reward.to_safetensors()
    loaded = NetworkReward.from_safetensors(data, reward.config)
    assert loaded.to_safetensors() == data
    n = demos.n_transitions
    index = np.arange(n) + demos.trajectory_of_transition
    args = (demos.obs[index], demos.acts, demos.obs[index + 1], None)
    values = loaded(*args)
    assert values.shape == (n,) and np.all(np.isfinite(values))
    np.testing.assert_array_equal(values, reward(*args))
    quality = result.diagnostics
    assert quality.generator_episodes == TINY["n_eval_episodes"]
    assert quality.demo_return == 500.0  # the scripted controller balances every step
    assert quality.disc_heldout_transitions == n // 5  # 20% held out
    accuracies = (quality.disc_heldout_demo_accuracy, quality.disc_heldout_generator_accuracy)
    assert quality.disc_heldout_accuracy == pytest.approx(sum(accuracies) / 2)


@pytest.mark.slow
def test_same_seed_same_reward_and_globals_restored(demos: TrajectorySet) -> None:
    """Two runs from the same seed give identical bytes; global RNG states are left as found."""
    np.random.seed(123)
    random.seed(123)
    torch_state = th.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    python_state = random.getstate()
    first = _run("airl", demos, 7).reward.to_safetensors()
    assert np.array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    assert th.equal(th.random.get_rng_state(), torch_state)
    assert _run("airl", demos, 7).reward.to_safetensors() == first
    assert _run("airl", demos, 8).reward.to_safetensors() != first


@pytest.mark.slow
def test_should_stop_cancels_within_one_round(demos: TrajectorySet) -> None:
    """should_stop() is checked before every round: True after the first stops the run."""
    reports: list[Progress] = []
    with pytest.raises(Cancelled, match="after 1 of 2 rounds"):
        _run("gail", demos, 0, progress=reports.append, should_stop=lambda: bool(reports))
    assert len(reports) == 1


def test_cancelled_before_training(demos: TrajectorySet) -> None:
    """A job cancelled before it starts does no training."""
    with pytest.raises(Cancelled, match="after 0 of 2"):
        _run("airl", demos, 0, should_stop=lambda: True)


@pytest.mark.slow
def test_early_termination_is_absorbed() -> None:
    """CartPole-v1 episodes end early: demos are padded to the horizon and training runs."""
    ts = scripted_cartpole("CartPole-v1", 3, max_steps=60, gain=-1.0)
    horizon = 80
    assert ts.terminal.all() and ts.lengths.max() < horizon
    transitions = demonstrations(
        ts,
        obs_space=gym.make("CartPole-v1").observation_space,
        act_space=gym.spaces.Discrete(2),
        horizon=horizon,
        rng=np.random.default_rng(0),
    )
    padded = int(ts.terminal.sum()) * horizon + int(ts.lengths[~ts.terminal].sum())
    assert len(transitions) == padded
    params = validate_deep_params({**TINY, "horizon": horizon}, algorithm="airl")
    result = deep_irl(
        algorithm="airl",
        env="CartPole-v1",
        trajectories=ts,
        rng=np.random.default_rng(0),
        params=params,
    )
    assert result.n_iterations == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env_id", "policy", "algorithm"),
    [
        ("seals/MountainCar-v0", lambda obs: 2 if obs[1] >= 0 else 0, "airl"),
        ("Pendulum-v1", lambda obs: np.clip([-2.0 * obs[1] - 0.5 * obs[2]], -2, 2), "gail"),
    ],
)
def test_other_environments(
    env_id: str, policy: Callable[[np.ndarray], Any], algorithm: str
) -> None:
    """seals/MountainCar-v0 (absorbing goal) and Pendulum-v1 (box actions) train end to end."""
    ts = rollouts(env_id, 2, policy, max_steps=200)
    params = validate_deep_params({**TINY, "gen_n_steps": 64}, algorithm=algorithm)
    result = deep_irl(
        algorithm=algorithm,
        env=env_id,
        trajectories=ts,
        rng=np.random.default_rng(0),
        params=params,
    )
    reward = result.reward
    assert isinstance(reward, NetworkReward)
    loaded = NetworkReward.from_safetensors(reward.to_safetensors(), reward.config)
    values = loaded(ts.obs[:10], ts.acts[:10], ts.obs[1:11], None)
    assert np.all(np.isfinite(values))


def test_density_fits_without_environment_steps(demos: TrajectorySet) -> None:
    """The density reward is a kernel density that round-trips and prefers demo transitions."""
    params = validate_deep_params({"max_kde_points": 300}, algorithm="density")
    result = deep_irl(
        algorithm="density",
        env=ENV,
        trajectories=demos,
        rng=np.random.default_rng(0),
        params=params,
    )
    reward = result.reward
    assert isinstance(reward, NetworkReward) and result.converged
    assert reward.config["kind"] == "kernel_density" and reward.config["n_points"] == 300
    loaded = NetworkReward.from_safetensors(reward.to_safetensors(), reward.config)
    assert loaded.to_safetensors() == reward.to_safetensors()
    obs = demos.obs[:100]
    far = obs + 5.0
    acts = demos.acts[:100]
    assert np.mean(loaded(obs, acts, obs, None)) > np.mean(loaded(far, acts, far, None))


def test_network_reward_comparable_with_environment_reward(demos: TrajectorySet) -> None:
    """Both the inferred and the known reward evaluate on the same coverage batch."""
    params = validate_deep_params({"density_type": "state"}, algorithm="density")
    inferred = deep_irl(
        algorithm="density",
        env=ENV,
        trajectories=demos,
        rng=np.random.default_rng(0),
        params=params,
    ).reward
    known = environment_reward(ENV)
    assert known is not None
    obs = demos.obs[:50]
    assert (
        inferred(obs, demos.acts[:50], obs, None).shape
        == known(obs, demos.acts[:50], obs, None).shape
    )


def test_validation_refuses_unknown_and_bad_keys() -> None:
    """Unknown keys, keys of another algorithm and bad values are refused at their location."""
    with pytest.raises(InvalidInputError) as error:
        validate_deep_params(
            {"total_timestep": 10, "kernel_bandwidth": 0.5, "gen_n_epochs": True},
            algorithm="airl",
        )
    locs = {p.loc for p in error.value.problems}
    assert locs == {"params.total_timestep", "params.kernel_bandwidth", "params.gen_n_epochs"}
    with pytest.raises(InvalidInputError, match=r"params\.potential_hidden_sizes"):
        validate_deep_params({"potential_hidden_sizes": [8]}, algorithm="gail")
    with pytest.raises(InvalidInputError, match=r"params.reward_hidden_sizes\[1\]"):
        validate_deep_params({"reward_hidden_sizes": [8, 0]}, algorithm="airl")
    with pytest.raises(InvalidInputError, match=r"params\.total_timesteps"):
        validate_deep_params({"total_timesteps": 10_000_000}, algorithm="airl")
    with pytest.raises(InvalidInputError, match="less than one round"):
        validate_deep_params({"total_timesteps": 100}, algorithm="airl")
    with pytest.raises(InvalidInputError, match=r"params\.total_timesteps"):
        validate_deep_params({"total_timesteps": 1000}, algorithm="density")
    for algorithm in ("airl", "gail", "density"):
        for bad in (0, 6, 2.5):
            with pytest.raises(InvalidInputError, match=r"params\.n_seeds"):
                validate_deep_params({"n_seeds": bad}, algorithm=algorithm)
        assert validate_deep_params({"n_seeds": 5}, algorithm=algorithm).n_seeds == 5
    assert validate_deep_params({}, algorithm="airl").n_seeds == 1
    with pytest.raises(InvalidInputError, match="algorithm"):
        validate_deep_params({}, algorithm="bc")
    with pytest.raises(InvalidInputError, match="params"):
        validate_deep_params([1], algorithm="airl")


def test_validation_defaults_and_values() -> None:
    """Missing keys take the defaults; given ones are converted."""
    given = {"reward_hidden_sizes": [8, 8], "horizon": None, "discount": 0.99}
    params = validate_deep_params(given, algorithm="gail")
    assert params == DeepIrlParams(reward_hidden_sizes=(8, 8), discount=0.99)
    # AIRL's own defaults (tuned on held-out environments), which given values still override.
    airl = validate_deep_params(given, algorithm="airl")
    assert airl == DeepIrlParams(reward_hidden_sizes=(8, 8), discount=0.99, reward_use_action=False)
    assert validate_deep_params({"reward_use_action": True}, algorithm="airl").reward_use_action


def test_trajectories_must_fit_the_environment(demos: TrajectorySet) -> None:
    """Wrong observation widths, action indices, lengths and batch sizes are refused."""
    params = validate_deep_params(TINY, algorithm="airl")
    rng = np.random.default_rng(0)
    wide = TrajectorySet(
        obs=np.zeros((4, 3)),
        acts=np.zeros(3, np.int64),
        rews=None,
        terminal=np.array([False]),
        lengths=np.array([3]),
    )
    with pytest.raises(InvalidInputError, match=r"trajectories\.obs"):
        deep_irl(algorithm="airl", env=ENV, trajectories=wide, rng=rng, params=params)
    bad_action = TrajectorySet(
        obs=np.zeros((4, 4)),
        acts=np.array([0, 1, 2]),
        rews=None,
        terminal=np.array([False]),
        lengths=np.array([3]),
    )
    with pytest.raises(InvalidInputError, match=r"trajectories\.acts"):
        deep_irl(algorithm="airl", env=ENV, trajectories=bad_action, rng=rng, params=params)
    with pytest.raises(InvalidInputError, match=r"trajectories\[0\].acts"):
        deep_irl(
            algorithm="airl",
            env=ENV,
            trajectories=demos,
            rng=rng,
            params=validate_deep_params({**TINY, "horizon": 100}, algorithm="airl"),
        )
    with pytest.raises(InvalidInputError, match=r"params\.demo_batch_size"):
        deep_irl(
            algorithm="airl",
            env=ENV,
            trajectories=demos,
            rng=rng,
            params=validate_deep_params({**TINY, "demo_batch_size": 5000}, algorithm="airl"),
        )


def test_environment_factories(demos: TrajectorySet) -> None:
    """A factory works like an id; env_kwargs apply to ids only."""
    params = validate_deep_params({"max_kde_points": 50}, algorithm="density")
    by_factory = deep_irl(
        algorithm="density",
        env=lambda: gym.make(ENV),
        trajectories=demos,
        rng=np.random.default_rng(0),
        params=params,
    )
    by_id = deep_irl(
        algorithm="density",
        env=ENV,
        trajectories=demos,
        rng=np.random.default_rng(0),
        params=params,
    )
    assert by_factory.reward.to_safetensors() == by_id.reward.to_safetensors()
    with pytest.raises(InvalidInputError, match="env_kwargs"):
        deep_irl(
            algorithm="density",
            env=lambda: gym.make(ENV),
            env_kwargs={"render_mode": None},
            trajectories=demos,
            rng=np.random.default_rng(0),
            params=params,
        )


def test_horizon_defaults_to_the_environment_s_own() -> None:
    """params.horizon, else the spec's max_episode_steps, else the env's horizon attribute."""
    register_mazes()
    default = validate_deep_params({}, algorithm="gail")
    maze = lambda: gym.make(MAZE_IDS["train"], size=3)  # noqa: E731
    assert _spaces_and_horizon(maze, default)[2] == 4 * 3**2
    assert _spaces_and_horizon(lambda: gym.make(ENV), default)[2] == 500
    explicit = validate_deep_params({"horizon": 7}, algorithm="gail")
    assert _spaces_and_horizon(maze, explicit)[2] == 7
    assert _spaces_and_horizon(CartPoleEnv, default)[2] is None
