"""NetworkReward: config + safetensors state dicts, bit-for-bit round trips, no pickle."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from imitation.algorithms.adversarial.gail import RewardNetFromDiscriminatorLogit
from imitation.algorithms.density import DensityAlgorithm, DensityType
from imitation.data import types
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet, RewardNet
from imitation.util.networks import RunningNorm
from stable_baselines3.common.vec_env import DummyVecEnv

from irl.algorithms.deep import density_features
from irl.divergence.sampled import TransitionBatch, sampled_epic_distance
from irl.errors import InvalidInputError
from irl.rewards_net import NetworkReward

OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
DISCRETE = gym.spaces.Discrete(3)
BOX = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)


def _seeded(make: type[RewardNet], *args: object, **kwargs: object) -> RewardNet:
    """A network initialised from a fixed torch seed (without touching the global RNG)."""
    with th.random.fork_rng(devices=[]):
        th.manual_seed(0)
        return make(*args, **kwargs)


def _batch(act_space: gym.Space, n: int = 50) -> tuple[np.ndarray, ...]:
    """(obs, acts, next_obs, dones) random transitions for the spaces."""
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    next_obs = rng.normal(size=(n, 4)).astype(np.float32)
    if isinstance(act_space, gym.spaces.Discrete):
        acts = rng.integers(0, act_space.n, size=n)
    else:
        acts = rng.uniform(-2, 2, size=(n, 2)).astype(np.float32)
    return obs, acts, next_obs, rng.random(n) < 0.2


def _normalised(make: type[RewardNet], *args: object, **kwargs: object) -> RewardNet:
    """A seeded network with input RunningNorms whose statistics have seen one training batch
    (so they differ from their initial values)."""
    net = _seeded(make, *args, normalize_input_layer=RunningNorm, **kwargs)
    obs, acts, next_obs, dones = _batch(net.action_space)
    net.train()
    net(*net.preprocess(obs, acts, next_obs, dones))
    if isinstance(net, BasicShapedRewardNet):
        assert float(net.potential._potential_net.normalize_input.count) > 0  # type: ignore[union-attr]
    return net.eval()


NETS = {
    "basic_discrete": lambda: _seeded(BasicRewardNet, OBS, DISCRETE, use_next_state=True),
    "basic_normalised": lambda: _normalised(BasicRewardNet, OBS, BOX, use_next_state=True),
    "shaped_normalised": lambda: _normalised(
        BasicShapedRewardNet, OBS, DISCRETE, discount_factor=0.9
    ),
    "basic_box": lambda: _seeded(BasicRewardNet, OBS, BOX, use_done=True, hid_sizes=(8,)),
    "shaped": lambda: _seeded(BasicShapedRewardNet, OBS, DISCRETE, discount_factor=0.9),
    "gail": lambda: RewardNetFromDiscriminatorLogit(_seeded(BasicRewardNet, OBS, BOX)),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_outputs_match_the_module(name: str) -> None:
    """Calling the NetworkReward gives the module's own predictions (float64)."""
    net = NETS[name]()
    reward = NetworkReward.from_module(net)
    batch = _batch(net.action_space)
    expected = net.predict(*batch)
    values = reward(*batch)
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, expected.astype(np.float64))


@pytest.mark.parametrize("name", sorted(NETS))
def test_safetensors_round_trip_is_bit_for_bit(name: str) -> None:
    """Stored bytes reload to identical bytes, parameters and outputs; the config is JSON."""
    reward = NetworkReward.from_module(NETS[name]())
    data = reward.to_safetensors()
    config = json.loads(reward.config_json())
    loaded = NetworkReward.from_safetensors(data, config)
    assert loaded.to_safetensors() == data
    assert loaded.config == reward.config
    for key, value in reward.state_dict.items():
        assert loaded.state_dict[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded.state_dict[key], value)
    batch = _batch(action_space_of(reward))
    np.testing.assert_array_equal(loaded(*batch), reward(*batch))


def action_space_of(reward: NetworkReward) -> gym.Space:
    """The action space a reward's config describes."""
    return DISCRETE if reward.config["action"]["type"] == "discrete" else BOX


def test_build_module_matches_and_is_fresh() -> None:
    """build_module rebuilds the architecture with the stored parameters, in eval mode."""
    net = NETS["shaped"]()
    module = NetworkReward.from_module(net).build_module()
    assert isinstance(module, BasicShapedRewardNet)
    assert not module.training
    batch = _batch(DISCRETE)
    np.testing.assert_array_equal(module.predict(*batch), net.predict(*batch))


def test_refuses_mismatched_parameters_and_garbage() -> None:
    """Loading refuses bytes that are not safetensors and parameters of another architecture."""
    reward = NetworkReward.from_module(NETS["basic_discrete"]())
    with pytest.raises(InvalidInputError, match="safetensors"):
        NetworkReward.from_safetensors(b"\x80\x04not safetensors", reward.config)
    wider = {**reward.config, "hidden_sizes": [64, 64]}
    with pytest.raises(InvalidInputError, match="shape"):
        NetworkReward.from_safetensors(reward.to_safetensors(), wider)
    with pytest.raises(InvalidInputError, match="kind"):
        NetworkReward.from_safetensors(reward.to_safetensors(), {**reward.config, "kind": "x"})


def test_refuses_unsupported_modules() -> None:
    """Networks the config cannot describe (dropout layers, other classes) are refused."""
    with pytest.raises(ValueError, match="unsupported"):
        NetworkReward.from_module(_seeded(BasicRewardNet, OBS, DISCRETE, dropout_prob=0.5))
    with pytest.raises(ValueError, match="unsupported"):
        NetworkReward.from_module(th.nn.Linear(2, 1))


def test_kernel_density_matches_imitation_density_reward() -> None:
    """The kernel-density NetworkReward equals imitation's DensityAlgorithm reward."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(60, 4)).astype(np.float32)
    acts = rng.integers(0, 3, size=59)
    traj = types.Trajectory(obs=obs, acts=acts, infos=None, terminal=True)
    venv = DummyVecEnv([lambda: _SpacesEnv()])
    algo = DensityAlgorithm(
        demonstrations=[traj],
        venv=venv,
        rng=rng,
        density_type=DensityType.STATE_ACTION_DENSITY,
        kernel_bandwidth=0.7,
    )
    algo.train()
    features = density_features(
        obs[:-1], acts, obs[1:], act_space=DISCRETE, density_type="state_action"
    )
    mean, std = features.mean(axis=0), features.std(axis=0)
    reward = NetworkReward(
        config={
            "format": 1,
            "kind": "kernel_density",
            "output": "identity",
            "observation": {"type": "box", "shape": [4], "image": False},
            "action": {"type": "discrete", "n": 3},
            "density_type": "state_action",
            "bandwidth": 0.7,
            "n_points": len(features),
        },
        state_dict={"points": (features - mean) / std, "mean": mean, "scale": std},
    )
    batch = _batch(DISCRETE, 20)
    np.testing.assert_allclose(reward(*batch), algo(*batch), rtol=1e-5)
    loaded = NetworkReward.from_safetensors(reward.to_safetensors(), reward.config)
    np.testing.assert_array_equal(loaded(*batch), reward(*batch))


def test_usable_as_sampled_epic_reward() -> None:
    """A NetworkReward is at EPIC distance 0 from a positive rescaling of itself."""
    reward = NetworkReward.from_module(NETS["basic_discrete"]())
    obs, acts, next_obs, _ = _batch(DISCRETE, 40)
    batch = TransitionBatch(obs=obs, acts=acts, next_obs=next_obs)

    def doubled(o: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Twice the reward."""
        return 2.0 * reward(o, a, n)

    distance = sampled_epic_distance(
        reward, doubled, batch, discount=0.9, states=next_obs, actions=acts
    )
    assert distance == pytest.approx(0.0, abs=1e-6)


class _SpacesEnv(gym.Env):
    """An environment that only has the test's spaces (DensityAlgorithm reads them)."""

    observation_space = OBS
    action_space = DISCRETE

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        """A zero observation."""
        return np.zeros(4, np.float32), {}

    def step(self, action: int) -> tuple:
        """Nothing happens."""
        return np.zeros(4, np.float32), 0.0, False, False, {}


def test_input_normalisation_is_described_and_kept() -> None:
    """A normalised network's config says so, its running statistics travel in the state dict,
    and evaluating the stored reward never updates them."""
    net = NETS["basic_normalised"]()
    reward = NetworkReward.from_module(net)
    assert reward.config["normalize_input"] is True
    assert NetworkReward.from_module(NETS["basic_box"]()).config["normalize_input"] is False
    stats = {k: v for k, v in reward.state_dict.items() if "normalize_input" in k}
    assert stats and float(stats["mlp.normalize_input.count"]) > 0
    batch = _batch(BOX)
    first = reward(*batch)
    np.testing.assert_array_equal(reward(*batch), first)
    module = reward._module
    for key, value in stats.items():
        np.testing.assert_array_equal(module.state_dict()[key].numpy(), value)
