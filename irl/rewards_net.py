"""Network rewards: a JSON config plus a numpy state dict, stored as safetensors, never pickled.

A NetworkReward describes one of a few fixed architectures (imitation's BasicRewardNet and
BasicShapedRewardNet, optionally behind GAIL's softplus of the discriminator logit, and a
Gaussian kernel density over standardised transitions), so loading it only rebuilds that
architecture from the config and copies tensors into it: no code is ever deserialised.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
import numpy as np
import safetensors.numpy
import torch as th
from imitation.algorithms.adversarial.gail import RewardNetFromDiscriminatorLogit
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet, RewardNet
from imitation.util.networks import RunningNorm
from safetensors import SafetensorError
from stable_baselines3.common.preprocessing import is_image_space
from torch import nn

from irl.algorithms.deep_params import DENSITY_TYPES
from irl.errors import InvalidInputError

FORMAT_VERSION = 1
KINDS: tuple[str, ...] = ("basic", "basic_shaped", "kernel_density")
OUTPUTS: tuple[str, ...] = ("identity", "softplus")
EVAL_BATCH = 4096
KDE_CHUNK_ENTRIES = 4_000_000


@dataclass(frozen=True, eq=False)
class NetworkReward:
    """A reward network: JSON-able `config` (architecture, spaces) and its parameters."""

    config: Mapping[str, Any] = field(hash=False)
    """{"format", "kind", "observation": {...}, "action": {...}, ...}; see docs/deep_irl.md."""
    state_dict: Mapping[str, np.ndarray] = field(hash=False)
    """Parameter name -> array (float32 for MLPs, float64 for kernel densities)."""

    def __post_init__(self) -> None:
        """Refuse configs and state dicts that do not build the described architecture."""
        expected = _expected_state(self.config)
        # safetensors keeps a scalar (RunningNorm's count) as shape [1]: back to a scalar.
        restored = {
            name: value.reshape(())
            if name in expected and expected[name].dim() == 0 and np.shape(value) == (1,)
            else value
            for name, value in self.state_dict.items()
        }
        object.__setattr__(self, "state_dict", restored)
        names = set(self.state_dict)
        if names != set(expected):
            missing = sorted(set(expected) - names)[:3]
            extra = sorted(names - set(expected))[:3]
            raise InvalidInputError.at(
                "reward.state_dict", f"parameters do not match: missing {missing}, extra {extra}"
            )
        for name, tensor in expected.items():
            shape = tuple(np.shape(self.state_dict[name]))
            if shape != tuple(tensor.shape):
                raise InvalidInputError.at(
                    f"reward.state_dict.{name}",
                    f"shape {list(shape)}, expected {list(tensor.shape)}",
                )

    @classmethod
    def from_module(cls, net: RewardNet | nn.Module) -> "NetworkReward":
        """Describe an imitation reward net (BasicRewardNet, BasicShapedRewardNet, either behind
        GAIL's RewardNetFromDiscriminatorLogit, or a KernelDensityRewardNet)."""
        output = "identity"
        if isinstance(net, RewardNetFromDiscriminatorLogit):
            output, net = "softplus", net.base
        if isinstance(net, KernelDensityRewardNet):
            config = {**net.config}
        elif isinstance(net, BasicShapedRewardNet):
            base = net.base
            if not isinstance(base, BasicRewardNet):
                raise ValueError("BasicShapedRewardNet with a non-basic base net")
            config = {
                **_basic_config(base),
                "kind": "basic_shaped",
                "potential_hidden_sizes": _hidden_sizes(cast(Any, net.potential)._potential_net),
                "discount": float(net.discount_factor),
            }
        elif isinstance(net, BasicRewardNet):
            config = _basic_config(net)
        else:
            raise ValueError(f"unsupported reward network {type(net).__name__}")
        config["output"] = output
        state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        return cls(config=config, state_dict=state)

    def to_safetensors(self) -> bytes:
        """The state dict as safetensors bytes (the config is stored separately, as JSON)."""
        arrays = {k: np.ascontiguousarray(v) for k, v in self.state_dict.items()}
        return safetensors.numpy.save(arrays)

    @classmethod
    def from_safetensors(cls, data: bytes, config: Mapping[str, Any]) -> "NetworkReward":
        """Load parameters saved by to_safetensors for the architecture `config` describes."""
        try:
            arrays = safetensors.numpy.load(bytes(data))
        except (SafetensorError, ValueError) as error:
            raise InvalidInputError.at("reward", f"not a safetensors file: {error}") from None
        return cls(config=json.loads(json.dumps(config)), state_dict=arrays)

    def config_json(self) -> str:
        """The config as canonical JSON text (sorted keys)."""
        return json.dumps(self.config, sort_keys=True)

    def build_module(self) -> RewardNet:
        """The torch module (cpu, eval mode) this reward describes, with its parameters loaded."""
        net = _module_from_config(self.config)
        tensors = {k: th.from_numpy(np.array(v)) for k, v in self.state_dict.items()}
        net.load_state_dict(tensors, strict=True)
        net.eval()
        if self.config["output"] == "softplus":
            return RewardNetFromDiscriminatorLogit(net).eval()
        return net

    def __call__(
        self,
        obs: np.ndarray,
        acts: np.ndarray,
        next_obs: np.ndarray,
        dones: np.ndarray | None = None,
    ) -> np.ndarray:
        """(K,) float64 rewards of K transitions; obs may be flat (K, D) vectors."""
        module = self._module
        n = len(obs)
        if dones is None:
            dones = np.zeros(n, dtype=bool)
        shape = tuple(self.config["observation"]["shape"])
        states = np.asarray(obs).reshape(n, *shape)
        next_states = np.asarray(next_obs).reshape(n, *shape)
        actions = _actions_for(self.config["action"], np.asarray(acts), n)
        out = np.empty(n, dtype=np.float64)
        with th.no_grad():
            for start in range(0, n, EVAL_BATCH):
                part = slice(start, start + EVAL_BATCH)
                tensors = module.preprocess(
                    states[part], actions[part], next_states[part], np.asarray(dones)[part]
                )
                out[part] = module(*tensors).double().cpu().numpy()
        return out

    @property
    def _module(self) -> RewardNet:
        """The built module, cached on the instance (frozen dataclass: set via object)."""
        cached = self.__dict__.get("_built")
        if cached is None:
            cached = self.build_module()
            object.__setattr__(self, "_built", cached)
        return cached


class KernelDensityRewardNet(RewardNet):
    """log of a Gaussian kernel density estimate over standardised transition features.

    Matches sklearn's KernelDensity(kernel="gaussian").score_samples as used by imitation's
    DensityAlgorithm (stationary): features are flat obs, then one-hot/flat action or next obs.
    """

    points: th.Tensor
    mean: th.Tensor
    scale: th.Tensor

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Buffers sized from the config; values come from load_state_dict."""
        super().__init__(
            observation_space(config["observation"]),
            action_space(config["action"]),
            normalize_images=False,
        )
        self.config = dict(config)
        n_points, n_features = int(config["n_points"]), _density_width(config)
        self.register_buffer("points", th.zeros(n_points, n_features, dtype=th.float64))
        self.register_buffer("mean", th.zeros(n_features, dtype=th.float64))
        self.register_buffer("scale", th.ones(n_features, dtype=th.float64))

    def forward(
        self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor
    ) -> th.Tensor:
        """(K,) float64 log densities of the transitions' features."""
        parts = [th.flatten(state, 1)]
        if self.config["density_type"] == "state_action":
            parts.append(th.flatten(action, 1))
        elif self.config["density_type"] == "state_state":
            parts.append(th.flatten(next_state, 1))
        x = (th.cat(parts, dim=1).double() - self.mean) / self.scale
        bandwidth = float(self.config["bandwidth"])
        points = self.points
        n, d = points.shape
        log_norm = math.log(n) + 0.5 * d * math.log(2 * math.pi) + d * math.log(bandwidth)
        rows = max(1, KDE_CHUNK_ENTRIES // max(1, n))
        chunks = [
            th.logsumexp(-0.5 * th.cdist(part, points).square() / bandwidth**2, dim=1)
            for part in th.split(x, rows)
        ]
        return th.cat(chunks) - log_norm


def check_config(config: Any, *, loc: str = "reward.config") -> None:
    """Refuse a config that does not describe a supported architecture."""
    if not isinstance(config, Mapping):
        raise InvalidInputError.at(loc, "expected an object")
    if config.get("format") != FORMAT_VERSION:
        raise InvalidInputError.at(f"{loc}.format", f"expected {FORMAT_VERSION}")
    if config.get("kind") not in KINDS:
        raise InvalidInputError.at(f"{loc}.kind", f"expected one of {', '.join(KINDS)}")
    if config.get("output") not in OUTPUTS:
        raise InvalidInputError.at(f"{loc}.output", f"expected one of {', '.join(OUTPUTS)}")
    if config["kind"] == "kernel_density" and config.get("density_type") not in DENSITY_TYPES:
        raise InvalidInputError.at(f"{loc}.density_type", f"expected one of {DENSITY_TYPES}")
    try:
        observation_space(config["observation"])
        action_space(config["action"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError.at(loc, f"bad observation or action: {error}") from None


def space_config(space: gym.Space, *, what: str) -> dict[str, Any]:
    """JSON description of a Box or Discrete space (enough to preprocess inputs identically)."""
    if isinstance(space, gym.spaces.Discrete) and what == "action":
        return {"type": "discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        image = is_image_space(space, check_channels=False)
        return {"type": "box", "shape": [int(s) for s in space.shape], "image": bool(image)}
    raise ValueError(f"unsupported {what} space {space}")


def observation_space(config: Mapping[str, Any]) -> gym.spaces.Box:
    """The Box an observation config describes (uint8 0..255 when image, else float32)."""
    shape = tuple(int(s) for s in config["shape"])
    if config["type"] != "box":
        raise ValueError("observations must be a box")
    if config.get("image"):
        return gym.spaces.Box(0, 255, shape, np.uint8)
    return gym.spaces.Box(-np.inf, np.inf, shape, np.float32)


def action_space(config: Mapping[str, Any]) -> gym.spaces.Box | gym.spaces.Discrete:
    """The space an action config describes."""
    if config["type"] == "discrete":
        return gym.spaces.Discrete(int(config["n"]))
    return observation_space(config)


def _expected_state(config: Any) -> dict[str, th.Tensor]:
    """The state dict of the architecture a config describes (422 when it describes none)."""
    check_config(config)
    try:
        return dict(_module_from_config(config).state_dict())
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError.at("reward.config", f"cannot build: {error!r}") from None


def _basic_config(net: BasicRewardNet) -> dict[str, Any]:
    """Config of a BasicRewardNet (ReLU MLP without dropout, optionally an input RunningNorm)."""
    return {
        "format": FORMAT_VERSION,
        "kind": "basic",
        "observation": space_config(net.observation_space, what="observation"),
        "action": space_config(net.action_space, what="action"),
        "use_state": bool(net.use_state),
        "use_action": bool(net.use_action),
        "use_next_state": bool(net.use_next_state),
        "use_done": bool(net.use_done),
        "hidden_sizes": _hidden_sizes(net.mlp),
        "activation": "relu",
        "normalize_images": bool(net.normalize_images),
        "normalize_input": isinstance(getattr(net.mlp, "normalize_input", None), RunningNorm),
    }


def _hidden_sizes(mlp: nn.Module) -> list[int]:
    """Hidden widths of an imitation build_mlp; refuses layers the config cannot describe (an
    input RunningNorm is the config's `normalize_input`)."""
    allowed = (nn.Linear, nn.ReLU, nn.Flatten)
    for name, layer in mlp.named_children():
        described = isinstance(layer, allowed) or name == "squeeze"
        if not described and not (name == "normalize_input" and isinstance(layer, RunningNorm)):
            raise ValueError(f"unsupported layer {name}: {type(layer).__name__}")
    linears = [m for m in mlp.children() if isinstance(m, nn.Linear)]
    return [int(m.out_features) for m in linears[:-1]]


def _module_from_config(config: Mapping[str, Any]) -> RewardNet:
    """A freshly initialised module with the config's architecture (parameters overwritten)."""
    if config["kind"] == "kernel_density":
        return KernelDensityRewardNet(config)
    obs_space = observation_space(config["observation"])
    act_space = action_space(config["action"])
    flags: dict[str, Any] = {
        k: bool(config[k]) for k in ("use_state", "use_action", "use_next_state", "use_done")
    }
    if config.get("normalize_input", False):
        flags["normalize_input_layer"] = RunningNorm
    net: RewardNet
    with th.random.fork_rng(devices=[]):
        if config["kind"] == "basic_shaped":
            net = BasicShapedRewardNet(
                obs_space,
                act_space,
                reward_hid_sizes=tuple(config["hidden_sizes"]),
                potential_hid_sizes=tuple(config["potential_hidden_sizes"]),
                discount_factor=float(config["discount"]),
                **flags,
            )
            basic = net.base
        else:
            net = basic = BasicRewardNet(
                obs_space, act_space, hid_sizes=tuple(config["hidden_sizes"]), **flags
            )
    basic.normalize_images = bool(config.get("normalize_images", True))
    return net


def _density_width(config: Mapping[str, Any]) -> int:
    """Number of features of a kernel density's inputs."""
    obs = int(np.prod(config["observation"]["shape"]))
    if config["density_type"] == "state":
        return obs
    if config["density_type"] == "state_state":
        return 2 * obs
    action = config["action"]
    return obs + (
        int(action["n"]) if action["type"] == "discrete" else int(np.prod(action["shape"]))
    )


def _actions_for(config: Mapping[str, Any], acts: np.ndarray, n: int) -> np.ndarray:
    """Actions shaped for the net: (K,) integers for discrete, (K, *shape) for box."""
    if config["type"] == "discrete":
        return acts.reshape(n).astype(np.int64)
    return acts.reshape(n, *config["shape"])
