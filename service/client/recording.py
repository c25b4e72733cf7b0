"""Recording episodes of the user's own stable-baselines3 policy for `mesascope rollout`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.client.arrays import TrajectoryArrays, to_arrays


def record_episodes(
    policy_path: Path,
    env_id: str,
    episodes: int,
    *,
    algo: str = "ppo",
    seed: int = 0,
    deterministic: bool = False,
) -> TrajectoryArrays:
    """Roll out a local stable-baselines3 policy file (the user's own) in a gymnasium env."""
    import gymnasium as gym
    import seals  # noqa: F401  (registers seals/* ids)
    import stable_baselines3
    from stable_baselines3.common.base_class import BaseAlgorithm

    algorithms: dict[str, type[BaseAlgorithm]] = {
        "ppo": stable_baselines3.PPO,
        "a2c": stable_baselines3.A2C,
        "dqn": stable_baselines3.DQN,
        "sac": stable_baselines3.SAC,
    }
    model = algorithms[algo.lower()].load(policy_path, device="cpu")
    env = gym.make(env_id)
    items = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        observations, actions, rewards = [obs], [], []
        done, terminated = False, False
        while not done:
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            done = terminated or truncated
        items.append(
            {
                "obs": np.asarray(observations),
                "acts": np.asarray(actions),
                "rews": rewards,
                "terminal": bool(terminated),
            }
        )
    env.close()
    return to_arrays(items)
