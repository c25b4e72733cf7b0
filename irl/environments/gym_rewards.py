"""Known rewards of gymnasium environments whose reward is a function of (s, a, s').

Each is a batched callable R(obs (K, D), acts (K, ...), next_obs (K, D), dones) -> (K,) float64,
written from the environment's source (gymnasium 0.29, seals 0.2.1), usable as a training reward
for irl.divergence.sampled. Computed from float32 observations, so values can differ from the
environment's own at the boundaries of its thresholds (within float32 rounding).
"""

import math
from collections.abc import Callable

import numpy as np

from irl.callables import RewardFn
from irl.rewards import EnvironmentReward, ObservedReward, RewardSpec
from irl.trajectories import TrajectorySet

GymReward = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
"""R(obs, acts, next_obs, dones) -> (K,) float64."""

CARTPOLE_X_THRESHOLD = 2.4
CARTPOLE_THETA_THRESHOLD = 12 * 2 * math.pi / 360
MOUNTAIN_CAR_GOAL_POSITION = 0.5
MOUNTAIN_CAR_GOAL_VELOCITY = 0.0
PENDULUM_MAX_TORQUE = 2.0


def constant_reward(value: float) -> GymReward:
    """R = value on every transition (CartPole-v1: 1, MountainCar-v0: -1)."""

    def reward(
        obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
    ) -> np.ndarray:
        """value for each of the K transitions."""
        return np.full(len(obs), value, dtype=np.float64)

    return reward


def seals_cartpole_reward(
    obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
) -> np.ndarray:
    """seals/CartPole-v0: 1 when the next state has |x| < 2.4 and |theta| < 12 degrees, else 0."""
    nxt = np.asarray(next_obs, dtype=np.float64).reshape(len(next_obs), -1)
    ok = (np.abs(nxt[:, 0]) < CARTPOLE_X_THRESHOLD) & (np.abs(nxt[:, 2]) < CARTPOLE_THETA_THRESHOLD)
    return ok.astype(np.float64)


def seals_mountain_car_reward(
    obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
) -> np.ndarray:
    """seals/MountainCar-v0: -1 per step until the goal, then 0 in the absorbing goal state.

    The absorbing state repeats the goal observation, so a transition from a goal state
    (position >= 0.5, velocity >= 0) is one from the absorbing state.
    """
    s = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
    at_goal = (s[:, 0] >= MOUNTAIN_CAR_GOAL_POSITION) & (s[:, 1] >= MOUNTAIN_CAR_GOAL_VELOCITY)
    return np.where(at_goal, 0.0, -1.0)


def acrobot_reward(
    obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
) -> np.ndarray:
    """Acrobot-v1: 0 when the next state is terminal (tip above the bar), else -1."""
    nxt = np.asarray(next_obs, dtype=np.float64).reshape(len(next_obs), -1)
    cos1, sin1, cos2, sin2 = nxt[:, 0], nxt[:, 1], nxt[:, 2], nxt[:, 3]
    cos12 = cos1 * cos2 - sin1 * sin2
    terminal = -cos1 - cos12 > 1.0
    return np.where(terminal, 0.0, -1.0)


def pendulum_reward(
    obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
) -> np.ndarray:
    """Pendulum-v1: -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2), theta in [-pi, pi] before the step."""
    s = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
    theta = np.arctan2(s[:, 1], s[:, 0])
    torque = np.clip(
        np.asarray(acts, dtype=np.float64).reshape(len(obs)),
        -PENDULUM_MAX_TORQUE,
        PENDULUM_MAX_TORQUE,
    )
    return -(theta**2 + 0.1 * s[:, 2] ** 2 + 0.001 * torque**2)


MAZE_CHANNELS, MAZE_AGENT, MAZE_DOOR = 5, 1, 2
"""Channel count, agent channel and door channel of the maze images (see maze_gym)."""


def maze_door_reward(
    obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray, dones: np.ndarray | None = None
) -> np.ndarray:
    """The maze suite's reward, 1 for acting from the exit door (the tabular view's door
    feature), read off the observation image: the agent channel overlaps the door channel."""
    flat = np.asarray(obs, dtype=np.float64).reshape(len(obs), MAZE_CHANNELS, -1)
    return (flat[:, MAZE_AGENT] * flat[:, MAZE_DOOR]).sum(axis=1).clip(0.0, 1.0)


_KNOWN: dict[str, GymReward] = {
    "seals/CartPole-v0": seals_cartpole_reward,
    "seals/MountainCar-v0": seals_mountain_car_reward,
    "CartPole-v1": constant_reward(1.0),
    "CartPole-v0": constant_reward(1.0),
    "MountainCar-v0": constant_reward(-1.0),
    "Acrobot-v1": acrobot_reward,
    "Pendulum-v1": pendulum_reward,
    "mesascope/Maze-train-v0": maze_door_reward,
    "mesascope/Maze-test-v0": maze_door_reward,
    "mesascope/Maze-decorrelated-v0": maze_door_reward,
}
KNOWN_ENVIRONMENT_IDS: tuple[str, ...] = tuple(_KNOWN)


def environment_reward(env_id: str) -> GymReward | None:
    """The known reward of a gymnasium environment id, or None when it is not known."""
    return _KNOWN.get(env_id)


def known_reference(
    env_id: str, spec: RewardSpec, trajectories: TrajectorySet
) -> RewardFn | np.ndarray | None:
    """A reward spec as far as it is known in a gymnasium environment: the environment's reward
    function (`environment`, where known), the `rews` recorded with the trajectories
    (`observed`, (N,) float64), otherwise None."""
    known = environment_reward(env_id)
    if isinstance(spec, EnvironmentReward) and known is not None:
        return lambda obs, acts, next_obs: known(obs, acts, next_obs, None)
    if isinstance(spec, ObservedReward) and trajectories.rews is not None:
        return np.asarray(trajectories.rews, dtype=np.float64)
    return None
