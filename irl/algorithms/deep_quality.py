"""Quality signals of an adversarial fit, measured after training (irl.algorithms.deep).

Did imitation work? The trained generator and a uniform-random policy each play
params.n_eval_episodes episodes in the environment (returns under its own reward), to set
against the demonstrations' return. Did the discriminator learn something that generalises?
Its balanced accuracy on demonstration transitions held out of training and on fresh
generator samples.
"""

from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from imitation.algorithms.adversarial.common import AdversarialTrainer
from imitation.data import rollout, types
from stable_baselines3.common.vec_env import VecEnv

from irl.algorithms.base import FitDiagnostics
from irl.environments.gym_rewards import environment_reward
from irl.trajectories import TrajectorySet

HELD_OUT_FRACTION = 0.2
"""Share of demonstration transitions kept out of the discriminator's training."""


def split_demonstrations(
    demos: types.Transitions, rng: np.random.Generator, *, min_train: int
) -> tuple[types.Transitions, types.Transitions | None]:
    """(training, held-out) demonstration transitions: HELD_OUT_FRACTION at random, fewer when
    the training part would drop below min_train (a discriminator batch); None when none fit."""
    n = len(demos)
    n_held = min(int(n * HELD_OUT_FRACTION), n - min_train)
    if n_held < 1:
        return demos, None
    order = rng.permutation(n)
    return _take(demos, np.sort(order[n_held:])), _take(demos, np.sort(order[:n_held]))


def _take(demos: types.Transitions, index: np.ndarray) -> types.Transitions:
    """The transitions at `index` (vector observations: never a DictObs here)."""
    return types.Transitions(
        obs=_array(demos.obs)[index],
        acts=demos.acts[index],
        infos=demos.infos[index],
        next_obs=_array(demos.next_obs)[index],
        dones=demos.dones[index],
    )


def _array(obs: np.ndarray | types.DictObs) -> np.ndarray:
    """Box observations as the array they are (deep_irl refuses dict spaces)."""
    assert isinstance(obs, np.ndarray)
    return obs


def demo_return(env_id: str | None, trajectories: TrajectorySet) -> float | None:
    """Mean undiscounted return of the demonstrations under the environment's reward: its
    known function (irl.environments.gym_rewards), else the recorded `rews`, else None."""
    known = environment_reward(env_id) if env_id is not None else None
    if known is not None:
        obs, acts, next_obs = trajectories.transitions()
        values = np.asarray(known(obs, acts, next_obs, None), dtype=np.float64)
    elif trajectories.rews is not None:
        values = np.asarray(trajectories.rews, dtype=np.float64)
    else:
        return None
    return float(trajectories.discounted_returns(values, 1.0).mean())


def fit_diagnostics(
    trainer: AdversarialTrainer,
    venv: VecEnv,
    held_out: types.Transitions | None,
    *,
    demo_return: float | None,
    n_episodes: int,
    rng: np.random.Generator,
) -> FitDiagnostics:
    """Generator and random-policy returns, and the discriminator's held-out accuracy."""
    generated = _episodes(trainer.gen_algo, venv, n_episodes, rng)
    uniform = _episodes(_uniform_policy(venv.action_space, rng), venv, n_episodes, rng)
    gen_mean, gen_se = _mean_and_se([float(t.rews.sum()) for t in generated])
    random_mean, random_se = _mean_and_se([float(t.rews.sum()) for t in uniform])
    accuracy: dict[str, float | int | None] = {}
    if held_out is not None:
        samples = rollout.flatten_trajectories(list(generated))
        accuracy = _held_out_accuracy(trainer, held_out, samples, rng)
    return FitDiagnostics(
        generator_return=gen_mean,
        generator_return_standard_error=gen_se,
        generator_episodes=len(generated),
        demo_return=demo_return,
        random_return=random_mean,
        random_return_standard_error=random_se,
        **accuracy,  # type: ignore[arg-type]
    )


def _episodes(
    policy: rollout.AnyPolicy, venv: VecEnv, n: int, rng: np.random.Generator
) -> Sequence[types.TrajectoryWithRew]:
    """n complete episodes of the policy (stochastic actions)."""
    sample_until = rollout.make_sample_until(min_timesteps=None, min_episodes=n)
    return rollout.generate_trajectories(policy, venv, sample_until, rng=rng)[:n]


def _uniform_policy(
    space: gym.Space, rng: np.random.Generator
) -> Callable[..., tuple[np.ndarray, None]]:
    """A policy callable drawing uniform actions from rng (seeded, unlike space.sample)."""

    def act(obs: np.ndarray, state: object = None, episode_start: object = None) -> tuple:
        n = len(obs)
        if isinstance(space, gym.spaces.Discrete):
            return rng.integers(0, int(space.n), size=n) + int(space.start), None
        box = space
        assert isinstance(box, gym.spaces.Box)
        low = np.where(np.isfinite(box.low), box.low, -1.0)
        high = np.where(np.isfinite(box.high), box.high, 1.0)
        return rng.uniform(low, high, size=(n, *box.shape)).astype(box.dtype), None

    return act


def _mean_and_se(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and its standard error (None for an empty list; 0 spread for one value)."""
    if not values:
        return None, None
    array = np.asarray(values, dtype=np.float64)
    se = float(array.std(ddof=1) / np.sqrt(len(array))) if len(array) > 1 else 0.0
    return float(array.mean()), se


def _held_out_accuracy(
    trainer: AdversarialTrainer,
    held_out: types.Transitions,
    generated: types.Transitions,
    rng: np.random.Generator,
) -> dict[str, float | int | None]:
    """The discriminator's accuracy on the held-out demonstrations and on as many generator
    samples (fewer when the evaluation episodes had fewer), and their mean."""
    n = min(len(held_out), len(generated))
    demo = _take(held_out, np.sort(rng.choice(len(held_out), size=n, replace=False)))
    gen = _take(generated, np.sort(rng.choice(len(generated), size=n, replace=False)))
    demo_accuracy = float(np.mean(_expert_logits(trainer, demo) > 0))
    gen_accuracy = float(np.mean(_expert_logits(trainer, gen) < 0))
    return {
        "disc_heldout_accuracy": (demo_accuracy + gen_accuracy) / 2,
        "disc_heldout_demo_accuracy": demo_accuracy,
        "disc_heldout_generator_accuracy": gen_accuracy,
        "disc_heldout_transitions": n,
    }


def _expert_logits(trainer: AdversarialTrainer, batch: types.Transitions) -> np.ndarray:
    """(K,) the discriminator's logits that each transition is a demonstration's."""
    net = trainer.reward_train
    with th.no_grad():
        obs, next_obs = _array(batch.obs), _array(batch.next_obs)
        state, action, next_state, done = net.preprocess(obs, batch.acts, next_obs, batch.dones)
        log_prob = trainer._get_log_policy_act_prob(
            trainer._torchify_array(obs), trainer._torchify_array(batch.acts)
        )
        logits = trainer.logits_expert_is_high(state, action, next_state, done, log_prob)
    return logits.cpu().numpy()
