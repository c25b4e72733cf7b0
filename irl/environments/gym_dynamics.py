"""Known dynamics of gymnasium environments, as next-state samplers on observations.

Sampled DARD needs draws S' ~ T(. | s, a) from arbitrary coverage states, which a generic
gymnasium environment cannot give (it can only be reset to its own start distribution). The
environments here can: the mazes' observation images hold the whole maze, so a move is a
function of the image; the classic-control environments' observations determine their
physical state, which their unwrapped simulators accept and step from. Each sampler is a batched
callable next_obs (K, ...) = T(obs (K, ...), acts (K, ...)) usable as
irl.divergence.sampled.NextStateSampler. All of them are deterministic, as the environments are.
"""

import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv, MountainCarEnv, PendulumEnv

from irl.environments.gym_rewards import MOUNTAIN_CAR_GOAL_POSITION, MOUNTAIN_CAR_GOAL_VELOCITY
from irl.environments.maze import MOVES
from irl.environments.maze_gym import CHANNELS, MAZE_IDS

NextStateSampler = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""next_obs (K, ...) = T(obs (K, ...), acts (K, ...))."""

_WALL, _AGENT, _DOOR = (CHANNELS.index(name) for name in ("wall", "agent", "door"))
_MOVES = np.array(MOVES, dtype=np.int64)


def maze_successors(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """The maze images after each move: walls block, the door absorbs (as MazeEnv.step).

    obs: (K, 5, side, side) or (K, 5 * side * side) images with exactly one agent square each.
    """
    obs = np.asarray(obs)
    k = len(obs)
    images = obs.reshape(k, len(CHANNELS), -1)
    side = math.isqrt(images.shape[2])
    agent = images[:, _AGENT].argmax(axis=1)
    rows, cols = np.divmod(agent, side)
    moves = _MOVES[np.asarray(acts, dtype=np.int64).reshape(k)]
    to_rows = np.clip(rows + moves[:, 0], 0, side - 1)
    to_cols = np.clip(cols + moves[:, 1], 0, side - 1)
    target = to_rows * side + to_cols
    index = np.arange(k)
    blocked = (images[index, _DOOR, agent] > 0.5) | (images[index, _WALL, target] > 0.5)
    landing = np.where(blocked, agent, target)
    moved = images.copy()
    moved[:, _AGENT] = 0.0
    moved[index, _AGENT, landing] = 1.0
    return moved.reshape(obs.shape)


def _stepping(
    make: Callable[[], gym.Env],
    to_state: Callable[[np.ndarray], np.ndarray],
    *,
    absorbing: Callable[[np.ndarray], bool] | None = None,
) -> NextStateSampler:
    """A sampler that sets an unwrapped simulator's state from each observation and steps it.

    to_state maps one observation to the simulator's `state`; observations for which
    `absorbing` holds are their own successors (seals' absorb-after-done states).
    """
    env = make()

    def sample(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """One simulator step from each (observation, action) row."""
        obs = np.asarray(obs)
        out = np.empty(obs.shape, dtype=np.float32)
        for i in range(len(obs)):
            if absorbing is not None and absorbing(obs[i]):
                out[i] = obs[i]
                continue
            env.state = to_state(obs[i])  # type: ignore[attr-defined]
            env.steps_beyond_terminated = None  # type: ignore[attr-defined]
            action = acts[i] if np.ndim(acts[i]) else int(acts[i])
            out[i] = np.asarray(env.step(action)[0], dtype=np.float32).reshape(obs.shape[1:])
        return out

    return sample


def _as_float64(observation: np.ndarray) -> np.ndarray:
    """The observation as the simulator's float64 state vector (CartPole, MountainCar)."""
    return np.asarray(observation, dtype=np.float64).ravel()


def _pendulum_state(observation: np.ndarray) -> np.ndarray:
    """(theta, theta_dot) from (cos theta, sin theta, theta_dot)."""
    cos, sin, velocity = np.asarray(observation, dtype=np.float64).ravel()
    return np.array([np.arctan2(sin, cos), velocity])


def _mountain_car_at_goal(observation: np.ndarray) -> bool:
    """Whether a seals MountainCar observation is the absorbing goal state."""
    position, velocity = np.asarray(observation, dtype=np.float64).ravel()
    return bool(position >= MOUNTAIN_CAR_GOAL_POSITION and velocity >= MOUNTAIN_CAR_GOAL_VELOCITY)


def _seals_cartpole() -> gym.Env:
    """seals' FixedHorizonCartPole simulator (theta wrapped to [-pi, pi], never terminal)."""
    from seals.classic_control import FixedHorizonCartPole

    return FixedHorizonCartPole()


_FACTORIES: dict[str, Callable[[], NextStateSampler]] = {
    **{env_id: (lambda: maze_successors) for env_id in MAZE_IDS.values()},
    "seals/CartPole-v0": lambda: _stepping(_seals_cartpole, _as_float64),
    "CartPole-v1": lambda: _stepping(CartPoleEnv, _as_float64),
    "CartPole-v0": lambda: _stepping(CartPoleEnv, _as_float64),
    "seals/MountainCar-v0": lambda: _stepping(
        MountainCarEnv, _as_float64, absorbing=_mountain_car_at_goal
    ),
    "MountainCar-v0": lambda: _stepping(MountainCarEnv, _as_float64),
    "Pendulum-v1": lambda: _stepping(PendulumEnv, _pendulum_state),
}
KNOWN_DYNAMICS_IDS: tuple[str, ...] = tuple(_FACTORIES)


def environment_successors(env_id: str) -> NextStateSampler | None:
    """A next-state sampler for a gymnasium environment id, or None when its dynamics are not
    known (then DARD cannot be estimated for it)."""
    factory = _FACTORIES.get(env_id)
    return factory() if factory is not None else None
