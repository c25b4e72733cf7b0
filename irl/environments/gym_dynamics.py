"""Known dynamics of gymnasium environments, as next-state samplers on observations.

Sampled DARD needs draws S' ~ T(. | s, a) from arbitrary coverage states, which a generic
gymnasium environment cannot give (it can only be reset to its own start distribution). The
environments here can: the mazes' observation images hold the whole maze, so a move is a
function of the image; the classic-control observations determine the physical state, and their
step equations (gymnasium 0.29, seals 0.2.1) are applied to the whole batch at once, with the
constants read from gymnasium's simulators. Each sampler is a batched callable
next_obs (K, ...) = T(obs (K, ...), acts (K, ...)) usable as irl.divergence.sampled's
NextStateSampler, tested against the environments' own step(). All are deterministic, as the
environments are.
"""

import math
from collections.abc import Callable

import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv, MountainCarEnv, PendulumEnv

from irl.callables import NextStateSampler
from irl.environments.gym_rewards import MOUNTAIN_CAR_GOAL_POSITION, MOUNTAIN_CAR_GOAL_VELOCITY
from irl.environments.maze import MOVES
from irl.environments.maze_gym import CHANNELS, MAZE_IDS

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


def cartpole_successors(*, wrap_angle: bool = False) -> NextStateSampler:
    """CartPoleEnv.step's Euler integration for a batch (seals' variant wraps theta to
    [-pi, pi)); constants are read from gymnasium's own simulator."""
    sim = CartPoleEnv()

    def sample(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """One step from each (x, x_dot, theta, theta_dot) row."""
        x, x_dot, theta, theta_dot = np.asarray(obs, dtype=np.float64).reshape(len(obs), 4).T
        force = np.where(np.asarray(acts).reshape(len(obs)) == 1, sim.force_mag, -sim.force_mag)
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + sim.polemass_length * theta_dot**2 * sin) / sim.total_mass
        theta_acc = (sim.gravity * sin - cos * temp) / (
            sim.length * (4.0 / 3.0 - sim.masspole * cos**2 / sim.total_mass)
        )
        x_acc = temp - sim.polemass_length * theta_acc * cos / sim.total_mass
        theta_next = theta + sim.tau * theta_dot
        if wrap_angle:
            theta_next = (theta_next + np.pi) % (2 * np.pi) - np.pi
        rows = (
            x + sim.tau * x_dot,
            x_dot + sim.tau * x_acc,
            theta_next,
            theta_dot + sim.tau * theta_acc,
        )
        return np.stack(rows, axis=1).astype(np.float32).reshape(np.shape(obs))

    return sample


def mountain_car_successors(*, absorbing_goal: bool = False) -> NextStateSampler:
    """MountainCarEnv.step for a batch; with `absorbing_goal` (seals), goal states stay put."""
    sim = MountainCarEnv()

    def sample(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """One step from each (position, velocity) row."""
        position, velocity = np.asarray(obs, dtype=np.float64).reshape(len(obs), 2).T
        push = np.asarray(acts, dtype=np.float64).reshape(len(obs)) - 1
        new_velocity = np.clip(
            velocity + push * sim.force - np.cos(3 * position) * sim.gravity,
            -sim.max_speed,
            sim.max_speed,
        )
        new_position = np.clip(position + new_velocity, sim.min_position, sim.max_position)
        new_velocity[(new_position == sim.min_position) & (new_velocity < 0)] = 0.0
        out = np.stack([new_position, new_velocity], axis=1)
        if absorbing_goal:
            at_goal = (position >= MOUNTAIN_CAR_GOAL_POSITION) & (
                velocity >= MOUNTAIN_CAR_GOAL_VELOCITY
            )
            out[at_goal] = np.stack([position, velocity], axis=1)[at_goal]
        return out.astype(np.float32).reshape(np.shape(obs))

    return sample


def pendulum_successors() -> NextStateSampler:
    """PendulumEnv.step for a batch of (cos theta, sin theta, theta_dot) observations."""
    sim = PendulumEnv()

    def sample(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        """One step from each observation row with its torque."""
        cos, sin, velocity = np.asarray(obs, dtype=np.float64).reshape(len(obs), 3).T
        theta = np.arctan2(sin, cos)
        torque = np.clip(
            np.asarray(acts, dtype=np.float64).reshape(len(obs)), -sim.max_torque, sim.max_torque
        )
        acceleration = 3 * sim.g / (2 * sim.l) * np.sin(theta) + 3.0 / (sim.m * sim.l**2) * torque
        new_velocity = np.clip(velocity + acceleration * sim.dt, -sim.max_speed, sim.max_speed)
        new_theta = theta + new_velocity * sim.dt
        out = np.stack([np.cos(new_theta), np.sin(new_theta), new_velocity], axis=1)
        return out.astype(np.float32).reshape(np.shape(obs))

    return sample


_FACTORIES: dict[str, Callable[[], NextStateSampler]] = {
    **{env_id: (lambda: maze_successors) for env_id in MAZE_IDS.values()},
    "seals/CartPole-v0": lambda: cartpole_successors(wrap_angle=True),
    "CartPole-v1": cartpole_successors,
    "CartPole-v0": cartpole_successors,
    "seals/MountainCar-v0": lambda: mountain_car_successors(absorbing_goal=True),
    "MountainCar-v0": mountain_car_successors,
    "Pendulum-v1": pendulum_successors,
}
KNOWN_DYNAMICS_IDS: tuple[str, ...] = tuple(_FACTORIES)


def environment_successors(env_id: str) -> NextStateSampler | None:
    """A next-state sampler for a gymnasium environment id, or None when its dynamics are not
    known (then DARD cannot be estimated for it)."""
    factory = _FACTORIES.get(env_id)
    return factory() if factory is not None else None
