"""Deep IRL's settings, validated without torch (the training itself is irl.algorithms.deep)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from irl.algorithms.base import InferenceResult, ProgressCallback
from irl.environments.tabular import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError
from irl.io.fields import ProblemList, as_bool, as_float, as_int, as_mapping, check_keys, describe
from irl.trajectories import TrajectorySet

DeepAlgorithm = Literal["airl", "gail", "density"]
DEEP_ALGORITHMS: tuple[DeepAlgorithm, ...] = ("airl", "gail", "density")
DEFAULT_DISCOUNT = 0.95
"""PPO's gamma and AIRL's shaping discount unless given; also the default discount of reward
comparisons in gymnasium environments."""
DENSITY_TYPES: tuple[str, ...] = ("state", "state_action", "state_state")
"""What the density algorithm's kernel density is over."""
MAX_TOTAL_TIMESTEPS = 5_000_000
MAX_HIDDEN_LAYERS = 4
MAX_HIDDEN_WIDTH = 1024
MAX_SEEDS = 5


@dataclass(frozen=True)
class DeepIrlParams:
    """Settings of deep_irl (the API's `params` for algorithms airl, gail and density)."""

    n_seeds: int = 1
    """Independent fits (seeds seed, seed + 1, ...) whose spread the report carries; the
    service trains them (deep_irl fits one)."""
    total_timesteps: int = 16_384
    """Environment steps the generator may take; rounds = total // (n_envs * gen_n_steps).
    Tuned on held-out environments (see ALGORITHM_DEFAULTS): for AIRL and GAIL alike, 16,384
    recovered rewards closer to the true one than 65,536 or 100,000."""
    n_envs: int = 4
    horizon: int | None = None
    """Episode length of the generator's environments; None: the env spec's max_episode_steps."""
    discount: float = DEFAULT_DISCOUNT
    """PPO's gamma and AIRL's shaping discount."""
    demo_batch_size: int = 256
    """Expert (and generator) transitions per discriminator update."""
    n_disc_updates_per_round: int = 4
    disc_learning_rate: float = 1e-3
    gen_replay_buffer_capacity: int | None = None
    """Generator transitions the discriminator samples from; None: the last round's."""
    gen_n_steps: int = 128
    """PPO rollout length per environment (one round collects n_envs * gen_n_steps steps)."""
    gen_batch_size: int = 64
    gen_n_epochs: int = 5
    gen_learning_rate: float = 4e-4
    gen_ent_coef: float = 0.0
    n_eval_episodes: int = 8
    """Episodes the trained generator and a uniform-random policy each play for the report's
    quality signals (their mean returns' standard errors shrink as 1/sqrt of it)."""
    policy_hidden_sizes: tuple[int, ...] = (32, 32)
    reward_hidden_sizes: tuple[int, ...] = (32, 32)
    potential_hidden_sizes: tuple[int, ...] = (32, 32)
    """AIRL only: the shaping potential's MLP (discarded: the unshaped reward is returned)."""
    reward_use_action: bool = True
    reward_use_next_state: bool = False
    reward_use_done: bool = False
    reward_normalize_input: bool = False
    """Normalise the reward (and AIRL's potential) network's inputs to mean 0 and standard
    deviation 1 with running statistics (imitation's RunningNorm, kept with the weights)."""
    density_type: str = "state_action"
    """density only: state, state_action or state_state."""
    kernel_bandwidth: float = 0.5
    """density only: Gaussian kernel bandwidth in standardised units."""
    standardise_inputs: bool = True
    max_kde_points: int = 10_000
    """density only: demonstration transitions kept (a random subset) as kernel centres."""


ALGORITHM_DEFAULTS: dict[str, dict[str, Any]] = {"airl": {"reward_use_action": False}}
"""Defaults that differ by algorithm, over DeepIrlParams' own. The budget and these were chosen
on held-out environments (Pendulum-v1 and a 4x4 training-distribution maze,
benchmarks/deep_recovery.py, docs/deep_irl.md "Tuning the defaults"): the setting with the
lowest mean EPIC to the true reward, the cheaper of any within 0.02 of it. AIRL recovered
rewards best with a state-only reward net (what the tabular projection and state-based rewards
compare) and a short budget: trained on longer, its discriminator fits the demonstrations'
exact states ever more closely while the generator has not learned yet."""


def _as_hidden_sizes(value: Any, loc: str) -> tuple[int, ...]:
    """A list of at most MAX_HIDDEN_LAYERS layer widths."""
    if not isinstance(value, list | tuple):
        raise InvalidInputError.at(loc, f"expected a list of integers, got {describe(value)}")
    if len(value) > MAX_HIDDEN_LAYERS:
        raise InvalidInputError.at(loc, f"at most {MAX_HIDDEN_LAYERS} layers, got {len(value)}")
    problems = ProblemList()
    sizes = [
        problems.attempt(as_int, v, f"{loc}[{i}]", minimum=1, maximum=MAX_HIDDEN_WIDTH)
        for i, v in enumerate(value)
    ]
    problems.raise_if_any()
    return tuple(cast(list[int], sizes))


def _as_optional_int(value: Any, loc: str, **bounds: int) -> int | None:
    """None or a bounded integer."""
    return None if value is None else as_int(value, loc, **bounds)


def _as_density_type(value: Any, loc: str) -> str:
    """One of DENSITY_TYPES."""
    if isinstance(value, str) and value in DENSITY_TYPES:
        return value
    raise InvalidInputError.at(loc, f"expected one of {', '.join(DENSITY_TYPES)}")


_Parser = tuple[Callable[..., Any], dict[str, Any]]
_SEEDS: _Parser = (as_int, {"minimum": 1, "maximum": MAX_SEEDS})
_ADVERSARIAL_PARSERS: dict[str, _Parser] = {
    "n_seeds": _SEEDS,
    "total_timesteps": (as_int, {"minimum": 1, "maximum": MAX_TOTAL_TIMESTEPS}),
    "n_envs": (as_int, {"minimum": 1, "maximum": 32}),
    "horizon": (_as_optional_int, {"minimum": 1, "maximum": 100_000}),
    "discount": (as_float, {"minimum": 0.0, "maximum": 1.0, "exclusive_minimum": True}),
    "demo_batch_size": (as_int, {"minimum": 1, "maximum": 65_536}),
    "n_disc_updates_per_round": (as_int, {"minimum": 1, "maximum": 1000}),
    "disc_learning_rate": (as_float, {"minimum": 0.0, "maximum": 1.0, "exclusive_minimum": True}),
    "gen_replay_buffer_capacity": (_as_optional_int, {"minimum": 1, "maximum": 1_000_000}),
    "gen_n_steps": (as_int, {"minimum": 2, "maximum": 8192}),
    "gen_batch_size": (as_int, {"minimum": 2, "maximum": 65_536}),
    "gen_n_epochs": (as_int, {"minimum": 1, "maximum": 100}),
    "gen_learning_rate": (as_float, {"minimum": 0.0, "maximum": 1.0, "exclusive_minimum": True}),
    "gen_ent_coef": (as_float, {"minimum": 0.0, "maximum": 1.0}),
    "n_eval_episodes": (as_int, {"minimum": 2, "maximum": 100}),
    "policy_hidden_sizes": (_as_hidden_sizes, {}),
    "reward_hidden_sizes": (_as_hidden_sizes, {}),
    "reward_use_action": (as_bool, {}),
    "reward_use_next_state": (as_bool, {}),
    "reward_use_done": (as_bool, {}),
    "reward_normalize_input": (as_bool, {}),
}
_PARSERS: dict[str, dict[str, _Parser]] = {
    "airl": {**_ADVERSARIAL_PARSERS, "potential_hidden_sizes": (_as_hidden_sizes, {})},
    "gail": _ADVERSARIAL_PARSERS,
    "density": {
        "n_seeds": _SEEDS,
        "density_type": (_as_density_type, {}),
        "kernel_bandwidth": (
            as_float,
            {"minimum": 0.0, "maximum": 100.0, "exclusive_minimum": True},
        ),
        "standardise_inputs": (as_bool, {}),
        "max_kde_points": (as_int, {"minimum": 1, "maximum": 100_000}),
    },
}


def validate_deep_params(params: Any, *, algorithm: str, loc: str = "params") -> DeepIrlParams:
    """Typed deep IRL settings from an API params object; unknown keys and bad values refused."""
    if algorithm not in _PARSERS:
        raise InvalidInputError.at("algorithm", f"expected one of {', '.join(DEEP_ALGORITHMS)}")
    parsers = _PARSERS[algorithm]
    spec = as_mapping(params, loc)
    problems = ProblemList()
    problems.attempt(check_keys, spec, loc, required=(), optional=parsers)
    values: dict[str, Any] = {
        name: problems.attempt(parse, spec[name], f"{loc}.{name}", **bounds)
        for name, (parse, bounds) in parsers.items()
        if name in spec
    }
    problems.raise_if_any()
    result = DeepIrlParams(**{**ALGORITHM_DEFAULTS.get(algorithm, {}), **values})
    if algorithm != "density":
        _check_budget(result, loc)
    return result


def _check_budget(params: DeepIrlParams, loc: str) -> None:
    """Refuse budgets too small for one round and PPO batches larger than a rollout."""
    rollout_size = params.n_envs * params.gen_n_steps
    if params.total_timesteps < rollout_size:
        raise InvalidInputError.at(
            f"{loc}.total_timesteps",
            f"{params.total_timesteps} is less than one round of n_envs * gen_n_steps = "
            f"{rollout_size} steps",
        )
    if params.gen_batch_size > rollout_size:
        raise InvalidInputError.at(
            f"{loc}.gen_batch_size",
            f"{params.gen_batch_size} exceeds the rollout size n_envs * gen_n_steps = "
            f"{rollout_size}",
        )


@dataclass(frozen=True)
class DeepIrl:
    """imitation's AIRL or GAIL, or the density fit, as a registered algorithm
    (irl.algorithms.registry); training imports torch on first use."""

    name: DeepAlgorithm
    description: str
    environment_kind: Literal["gymnasium"] = "gymnasium"
    reward_models: tuple[str, ...] = ("mlp",)

    def validate_params(self, params: Any, *, loc: str) -> dict[str, Any]:
        """The settings as given, once valid: which fields apply depends on the algorithm."""
        validate_deep_params(params, algorithm=self.name, loc=loc)
        return dict(params)

    def fit(
        self,
        *,
        environment: TabularMDP | GymnasiumEnvSpec,
        trajectories: TrajectorySet,
        reward_model: str,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        progress: ProgressCallback | None,
        should_stop: Callable[[], bool] | None,
    ) -> InferenceResult:
        """Train on the gymnasium environment; the reward is a network."""
        from irl.algorithms.deep import deep_irl  # torch only when it is used

        assert isinstance(environment, GymnasiumEnvSpec) and reward_model in self.reward_models
        return deep_irl(
            algorithm=self.name,
            env=environment.id,
            env_kwargs=dict(environment.kwargs),
            trajectories=trajectories,
            rng=rng,
            params=validate_deep_params(params, algorithm=self.name),
            progress=progress,
            should_stop=should_stop,
        )


AIRL = DeepIrl(
    "airl",
    "Adversarial IRL (imitation, PPO generator) for gymnasium environments; its unshaped "
    "reward network is the inferred reward.",
)
GAIL = DeepIrl(
    "gail",
    "Generative adversarial imitation (imitation, PPO generator) for gymnasium environments; "
    "the reward is -log(1 - D) of its discriminator.",
)
DENSITY = DeepIrl(
    "density",
    "A Gaussian kernel density of the demonstrations' transitions (no environment "
    "interaction), as a reward.",
)
