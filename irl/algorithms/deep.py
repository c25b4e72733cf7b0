"""Deep IRL on gymnasium environments: imitation's AIRL and GAIL (PPO generator) and a density fit.

AIRL's reward is the unshaped base net of its discriminator (imitation's `reward_test`); GAIL's
is softplus of the discriminator logit (its `reward_test`, -log(1 - D)); `density` fits a
Gaussian kernel density to the demonstrations' transitions (imitation's DensityAlgorithm reward,
stationary) without any environment interaction. Every environment copy is wrapped as
Monitor -> seals AbsorbAfterDoneWrapper -> TimeLimit(horizon), so generator episodes all last
the horizon; demonstrations that end terminal before it are padded in the absorbing state.
Training runs one adversarial round at a time (a PPO update on n_envs * gen_n_steps steps, then
n_disc_updates_per_round discriminator steps): progress is reported and should_stop() checked
between rounds. Results are deterministic given rng; python's, numpy's and torch's global random
states are seeded for the run (SB3 and imitation draw from them) and restored afterwards.
"""

import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium.wrappers import TimeLimit
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.common import AdversarialTrainer
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data import rollout, types
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet, RewardNet
from imitation.util import logger as imitation_logger
from imitation.util import networks
from seals.util import AbsorbAfterDoneWrapper
from stable_baselines3 import PPO
from stable_baselines3.common import logger as sb3_logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from irl.algorithms.base import (
    Cancelled,
    FitDiagnostics,
    InferenceResult,
    Progress,
    ProgressCallback,
)
from irl.algorithms.deep_params import DEEP_ALGORITHMS, DeepAlgorithm, DeepIrlParams
from irl.algorithms.deep_quality import demo_return, fit_diagnostics, split_demonstrations
from irl.errors import InvalidInputError
from irl.io.fields import ProblemList
from irl.rewards_net import (
    FORMAT_VERSION,
    NetworkReward,
    space_config,
)
from irl.trajectories import TrajectorySet

EnvSource = str | Callable[[], gym.Env]
"""A registered gymnasium id (made with env_kwargs) or a factory returning a fresh env."""


def deep_irl(
    *,
    algorithm: DeepAlgorithm,
    env: EnvSource,
    trajectories: TrajectorySet,
    rng: np.random.Generator,
    params: DeepIrlParams,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> InferenceResult:
    """Infer a NetworkReward from vector-observation demonstrations in a gymnasium environment.

    Raises InvalidInputError for trajectories that do not fit the environment and Cancelled
    when should_stop() returns True (checked before each round).
    """
    if algorithm not in DEEP_ALGORITHMS:
        raise InvalidInputError.at("algorithm", f"expected one of {', '.join(DEEP_ALGORITHMS)}")
    make_env = _env_factory(env, env_kwargs or {})
    obs_space, act_space, horizon = _spaces_and_horizon(make_env, params)
    _check_trajectories(trajectories, obs_space, act_space)
    env_id = env if isinstance(env, str) else None
    if algorithm == "density":
        return _density(
            trajectories, obs_space, act_space, rng, params, progress, should_stop, env_id
        )
    if horizon is None:
        raise InvalidInputError.at(
            "params.horizon", "the environment has no max_episode_steps or horizon; give a horizon"
        )
    _check_horizon(trajectories, horizon)
    demos = demonstrations(
        trajectories, obs_space=obs_space, act_space=act_space, horizon=horizon, rng=rng
    )
    demos, held_out = split_demonstrations(demos, rng, min_train=params.demo_batch_size)
    if params.demo_batch_size > len(demos):
        raise InvalidInputError.at(
            "params.demo_batch_size",
            f"{params.demo_batch_size} exceeds the {len(demos)} demonstration transitions",
        )
    seed = int(rng.integers(0, 2**31 - 1))
    with _seeded_globals(seed), tempfile.TemporaryDirectory() as log_dir:
        monitors: list[Monitor] = []
        venv = _vec_env(make_env, params.n_envs, horizon, monitors)
        try:
            venv.seed(seed)
            trainer = _trainer(algorithm, demos, venv, params, seed, log_dir)
            curve = _train_rounds(trainer, params, monitors, progress, should_stop)
            reward = NetworkReward.from_module(trainer.reward_test)
            diagnostics = fit_diagnostics(
                trainer,
                venv,
                held_out,
                demo_return=demo_return(env_id, trajectories),
                n_episodes=params.n_eval_episodes,
                rng=rng,
            )
        finally:
            venv.close()
    return InferenceResult(
        reward=reward,
        curve=tuple(curve),
        n_iterations=len(curve),
        converged=False,
        diagnostics=diagnostics,
    )


def demonstrations(
    ts: TrajectorySet,
    *,
    obs_space: gym.Space,
    act_space: gym.Space,
    horizon: int,
    rng: np.random.Generator,
) -> types.Transitions:
    """imitation Transitions of the trajectories, terminal ones shorter than the horizon padded.

    Padding repeats the final observation (the AbsorbAfterDoneWrapper's absorbing state) with
    actions drawn uniformly by rng (they have no effect there); padded and full-horizon
    trajectories end `done`, as generator episodes do. Non-terminal shorter ones (truncated
    recordings) are used as they are.
    """
    trajs = []
    obs_shape = tuple(obs_space.shape or ())
    for i in range(ts.n_trajectories):
        obs = ts.obs_of(i).reshape(-1, *obs_shape).astype(obs_space.dtype)
        acts = _env_actions(ts.acts_of(i), act_space)
        short = horizon - len(acts)
        if ts.terminal[i] and short > 0:
            obs = np.concatenate([obs, np.repeat(obs[-1:], short, axis=0)])
            acts = np.concatenate([acts, _random_actions(act_space, short, rng)])
        done = bool(ts.terminal[i]) or len(acts) == horizon
        trajs.append(types.Trajectory(obs=obs, acts=acts, infos=None, terminal=done))
    return rollout.flatten_trajectories(trajs)


def _env_factory(env: EnvSource, env_kwargs: Mapping[str, Any]) -> Callable[[], gym.Env]:
    """A function making fresh copies of the environment."""
    if isinstance(env, str):
        env_id = env
        return lambda: gym.make(env_id, **env_kwargs)
    if env_kwargs:
        raise InvalidInputError.at("env_kwargs", "only for environment ids, not factories")
    return env


def _spaces_and_horizon(
    make_env: Callable[[], gym.Env], params: DeepIrlParams
) -> tuple[gym.Space, gym.Space, int | None]:
    """The environment's (checked) spaces and the generator's horizon, from one probe copy."""
    probe = make_env()
    try:
        obs_space, act_space = probe.observation_space, probe.action_space
        horizon = (
            params.horizon
            or (probe.spec.max_episode_steps if probe.spec else None)
            or getattr(probe.unwrapped, "horizon", None)
        )
    finally:
        probe.close()
    _check_spaces(obs_space, act_space)
    return obs_space, act_space, horizon


def _check_spaces(obs_space: gym.Space, act_space: gym.Space) -> None:
    """Refuse environments other than Box observations with Discrete or Box actions."""
    if not isinstance(obs_space, gym.spaces.Box):
        raise InvalidInputError.at("environment", f"observations must be a Box, got {obs_space}")
    if not isinstance(act_space, gym.spaces.Discrete | gym.spaces.Box):
        raise InvalidInputError.at(
            "environment", f"actions must be Discrete or Box, got {act_space}"
        )


def _check_trajectories(ts: TrajectorySet, obs_space: gym.Space, act_space: gym.Space) -> None:
    """Refuse observations and actions that do not fit the environment's spaces."""
    width = int(np.prod(obs_space.shape or ()))
    if ts.obs.ndim != 2 or ts.obs.shape[1] != width:
        raise InvalidInputError.at(
            "trajectories.obs", f"expected vectors of {width} values (the observation space)"
        )
    if isinstance(act_space, gym.spaces.Discrete):
        n = int(act_space.n)
        if ts.acts.ndim != 1 or ts.acts.dtype.kind not in "iu":
            raise InvalidInputError.at("trajectories.acts", "expected action indices")
        if ts.acts.min() < 0 or ts.acts.max() >= n:
            raise InvalidInputError.at("trajectories.acts", f"action indices must be in [0, {n})")
        return
    act_width = int(np.prod(act_space.shape or ()))
    acts = ts.acts.reshape(len(ts.acts), -1)
    if acts.shape[1] != act_width:
        raise InvalidInputError.at(
            "trajectories.acts", f"expected vectors of {act_width} values (the action space)"
        )


def _check_horizon(ts: TrajectorySet, horizon: int) -> None:
    """Refuse trajectories longer than the generator's episodes."""
    problems = ProblemList()
    for i in np.flatnonzero(ts.lengths > horizon)[:5]:
        problems.add(
            f"trajectories[{i}].acts",
            f"length {ts.lengths[i]} exceeds the horizon {horizon} (set params.horizon)",
        )
    problems.raise_if_any()


def _env_actions(acts: np.ndarray, act_space: gym.Space) -> np.ndarray:
    """Actions in the space's dtype and shape."""
    if isinstance(act_space, gym.spaces.Discrete):
        return acts.astype(np.int64)
    return acts.reshape(len(acts), *(act_space.shape or ())).astype(act_space.dtype)


def _random_actions(act_space: gym.Space, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform actions (padding in the absorbing state), drawn from rng."""
    if isinstance(act_space, gym.spaces.Discrete):
        return rng.integers(0, int(act_space.n), size=n) + int(act_space.start)
    box = cast(gym.spaces.Box, act_space)
    low = np.where(np.isfinite(box.low), box.low, -1.0)
    high = np.where(np.isfinite(box.high), box.high, 1.0)
    return rng.uniform(low, high, size=(n, *box.shape)).astype(box.dtype)


def _vec_env(
    make_env: Callable[[], gym.Env], n_envs: int, horizon: int, monitors: list[Monitor]
) -> DummyVecEnv:
    """n_envs copies: Monitor (true returns) -> AbsorbAfterDoneWrapper -> TimeLimit(horizon)."""

    def one() -> gym.Env:
        """One wrapped copy; its Monitor is recorded for the curve's gen_return."""
        monitor: Monitor = Monitor(make_env())
        monitors.append(monitor)
        return TimeLimit(AbsorbAfterDoneWrapper(monitor), max_episode_steps=horizon)

    return DummyVecEnv([one] * n_envs)


def _trainer(
    algorithm: str,
    demos: types.Transitions,
    venv: DummyVecEnv,
    params: DeepIrlParams,
    seed: int,
    log_dir: str,
) -> AdversarialTrainer:
    """imitation's AIRL or GAIL trainer with a small PPO generator (cpu, seeded)."""
    generator = PPO(
        "MlpPolicy",
        venv,
        n_steps=params.gen_n_steps,
        batch_size=params.gen_batch_size,
        n_epochs=params.gen_n_epochs,
        learning_rate=params.gen_learning_rate,
        ent_coef=params.gen_ent_coef,
        gamma=params.discount,
        policy_kwargs={"net_arch": list(params.policy_hidden_sizes)},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    reward_net = _reward_net(algorithm, venv, params)
    kwargs: dict[str, Any] = {
        "demonstrations": demos,
        "demo_batch_size": params.demo_batch_size,
        "venv": venv,
        "gen_algo": generator,
        "reward_net": reward_net,
        "n_disc_updates_per_round": params.n_disc_updates_per_round,
        "disc_opt_kwargs": {"lr": params.disc_learning_rate},
        "gen_replay_buffer_capacity": params.gen_replay_buffer_capacity,
        "log_dir": log_dir,
        "custom_logger": _silent_logger(log_dir),
    }
    return AIRL(**kwargs) if algorithm == "airl" else GAIL(**kwargs)


def _reward_net(algorithm: str, venv: DummyVecEnv, params: DeepIrlParams) -> RewardNet:
    """AIRL: BasicShapedRewardNet (base + potential); GAIL: BasicRewardNet discriminator."""
    flags: dict[str, Any] = {
        "use_state": True,
        "use_action": params.reward_use_action,
        "use_next_state": params.reward_use_next_state,
        "use_done": params.reward_use_done,
    }
    if params.reward_normalize_input:
        flags["normalize_input_layer"] = networks.RunningNorm
    if algorithm == "airl":
        return BasicShapedRewardNet(
            venv.observation_space,
            venv.action_space,
            reward_hid_sizes=params.reward_hidden_sizes,
            potential_hid_sizes=params.potential_hidden_sizes,
            discount_factor=params.discount,
            **flags,
        )
    return BasicRewardNet(
        venv.observation_space, venv.action_space, hid_sizes=params.reward_hidden_sizes, **flags
    )


def _train_rounds(
    trainer: AdversarialTrainer,
    params: DeepIrlParams,
    monitors: list[Monitor],
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> list[Mapping[str, float]]:
    """The rounds of AdversarialTrainer.train, one at a time: the curve, one entry per round."""
    n_rounds = params.total_timesteps // trainer.gen_train_timesteps
    curve: list[Mapping[str, float]] = []
    seen = [0] * len(monitors)
    for round_index in range(n_rounds):
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {round_index} of {n_rounds} rounds")
        trainer.train_gen(trainer.gen_train_timesteps)
        with networks.training(trainer.reward_train):
            stats = [trainer.train_disc() for _ in range(params.n_disc_updates_per_round)]
        trainer.logger.dump(round_index)
        metrics = {
            "disc_loss": float(np.mean([s["disc_loss"] for s in stats])),
            "disc_acc": float(stats[-1]["disc_acc"]),
            **_episode_returns(monitors, seen),
        }
        done = round_index + 1
        curve.append(
            {"iteration": float(done), "timesteps": float(done * trainer.gen_train_timesteps)}
            | metrics
        )
        if progress is not None:
            progress(Progress(done, n_rounds, done / n_rounds, metrics))
    return curve


def _episode_returns(monitors: list[Monitor], seen: list[int]) -> dict[str, float]:
    """{"gen_return": mean environment return of episodes finished since the last call}, or {}."""
    returns: list[float] = []
    for i, monitor in enumerate(monitors):
        episodes = monitor.get_episode_rewards()
        returns.extend(episodes[seen[i] :])
        seen[i] = len(episodes)
    return {"gen_return": float(np.mean(returns))} if returns else {}


def _density(
    ts: TrajectorySet,
    obs_space: gym.Space,
    act_space: gym.Space,
    rng: np.random.Generator,
    params: DeepIrlParams,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
    env_id: str | None,
) -> InferenceResult:
    """Gaussian kernel density of (a random subset of) the demonstrations' transition features."""
    if should_stop is not None and should_stop():
        raise Cancelled("stopped before fitting")
    index = np.arange(ts.n_transitions) + ts.trajectory_of_transition
    keep = np.arange(ts.n_transitions)
    if len(keep) > params.max_kde_points:
        keep = np.sort(rng.choice(len(keep), size=params.max_kde_points, replace=False))
    features = density_features(
        ts.obs[index[keep]],
        ts.acts[keep],
        ts.obs[index[keep] + 1],
        act_space=act_space,
        density_type=params.density_type,
    )
    mean = features.mean(axis=0) if params.standardise_inputs else np.zeros(features.shape[1])
    std = features.std(axis=0) if params.standardise_inputs else np.ones(features.shape[1])
    scale = np.where(std > 0, std, 1.0)
    config = {
        "format": FORMAT_VERSION,
        "kind": "kernel_density",
        "output": "identity",
        "observation": space_config(obs_space, what="observation"),
        "action": space_config(act_space, what="action"),
        "density_type": params.density_type,
        "bandwidth": params.kernel_bandwidth,
        "n_points": len(features),
    }
    reward = NetworkReward(
        config=config,
        state_dict={"points": (features - mean) / scale, "mean": mean, "scale": scale},
    )
    if progress is not None:
        progress(Progress(1, 1, 1.0, {"n_points": float(len(features))}))
    curve = ({"iteration": 1.0, "n_points": float(len(features))},)
    diagnostics = FitDiagnostics(demo_return=demo_return(env_id, ts))
    return InferenceResult(
        reward=reward, curve=curve, n_iterations=1, converged=True, diagnostics=diagnostics
    )


def density_features(
    obs: np.ndarray,
    acts: np.ndarray,
    next_obs: np.ndarray,
    *,
    act_space: gym.Space,
    density_type: str,
) -> np.ndarray:
    """(K, F) float64 features as imitation's DensityAlgorithm flattens them (one-hot actions)."""
    n = len(obs)
    parts = [np.asarray(obs, np.float64).reshape(n, -1)]
    if density_type == "state_action":
        if isinstance(act_space, gym.spaces.Discrete):
            parts.append(np.eye(int(act_space.n))[np.asarray(acts, np.int64).reshape(n)])
        else:
            parts.append(np.asarray(acts, np.float64).reshape(n, -1))
    elif density_type == "state_state":
        parts.append(np.asarray(next_obs, np.float64).reshape(n, -1))
    return np.concatenate(parts, axis=1)


@contextmanager
def _seeded_globals(seed: int) -> Iterator[None]:
    """Seed python's, numpy's and torch's global RNGs for a block, restoring them afterwards."""
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    with th.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        th.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def _silent_logger(folder: str) -> imitation_logger.HierarchicalLogger:
    """A logger that writes nothing (its accumulate_means still needs a folder for raw logs)."""
    return imitation_logger.HierarchicalLogger(
        sb3_logger.Logger(folder=folder, output_formats=[]), format_strs=()
    )
