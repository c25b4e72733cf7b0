"""Train a PPO agent on red-door mazes until it solves held-out training mazes.

The agent (stable-baselines3 PPO with a small CNN on the agent-centred view of the maze image, see
``EgocentricObservation``) trains on ``mesascope/Maze-train-v0``: a new random maze at every
reset, exit door always red; training episodes end at the door (``EndAtDoor``). Every
``--eval-every`` steps it is evaluated on a fixed set of held-out training mazes (maze seeds from
``HELD_OUT_SEED_BASE`` on, which the training sampler draws with negligible probability); training
stops as soon as the policy (actions sampled, as the example rolls it out) reaches the door in at
least ``--target`` of them within the horizon, or when ``--timesteps`` is spent. The model is saved
to ``--out`` (a ``.zip``) with a ``.json`` sidecar recording the maze size, the policy and the
held-out success rate.

    .venv/bin/python examples/train_maze_agent.py --size 3 --timesteps 1000000

See examples/README.md and docs/tutorial.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# stable-baselines3 imports pygame, whose banner on stdout would break --json.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import SubprocVecEnv

from irl.environments.maze import generate_maze
from irl.environments.maze_gym import MAZE_IDS, MazeEnv, register_mazes

DEFAULT_OUT = Path("mesascope-data/examples/ppo-maze.zip")
DEFAULT_SIZE = 3
HELD_OUT_SEED_BASE = 1_000_000_007
"""Maze seeds HELD_OUT_SEED_BASE + i (i < --eval-mazes) are the held-out training mazes."""


class MazeCNN(BaseFeaturesExtractor):
    """Two 3x3 convolutions (padding keeps the grid) and a linear layer over the maze image."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        channels, rows, cols = observation_space.shape
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(16 * rows * cols, features_dim),
            torch.nn.ReLU(),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(batch, features_dim) features of (batch, channels, rows, cols) observations."""
        return self.net(observations)


POLICY = "ego-cnn"
"""The policy's name in the sidecar: MazeCNN on the EgocentricObservation view."""
POLICY_KWARGS: dict[str, Any] = {
    "features_extractor_class": MazeCNN,
    "normalize_images": False,
    "net_arch": [64],
}


def held_out_seeds(n: int) -> list[int]:
    """The maze seeds of the n held-out training mazes."""
    return [HELD_OUT_SEED_BASE + i for i in range(n)]


class EgocentricObservation(gym.ObservationWrapper):
    """The maze image re-centred on the agent: (4, 2 side - 1, 2 side - 1).

    Channels wall, door, red, blue (the agent channel is dropped: the agent is always in the
    middle); squares beyond the border read as wall. A CNN on this view learns rules relative to
    the agent ("the door is up this corridor"), which carry over to unseen mazes; on the absolute
    image, or with an MLP, PPO generalised far more slowly (docs/tutorial.md).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        _, side, _ = env.observation_space.shape or (0, 0, 0)
        self.side = side
        width = 2 * side - 1
        self.observation_space = gym.spaces.Box(0.0, 1.0, (4, width, width), np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Shift the wall, door, red and blue channels so the agent sits at the centre."""
        side = self.side
        (row,), (col,) = np.nonzero(observation[1])
        out = np.zeros((4, 2 * side - 1, 2 * side - 1), dtype=np.float32)
        out[0] = 1.0
        top, left = side - 1 - row, side - 1 - col
        out[:, top : top + side, left : left + side] = observation[[0, 2, 3, 4]]
        return out


class EndAtDoor(gym.Wrapper):
    """Training only: the episode ends on arrival at the door, with reward 1 for arriving.

    Under the maze reward (1 for every step acted from the door, until the horizon) and under this
    one, the best policies are the same: reach the door in the fewest moves. Ending there spares
    PPO the uninformative steps spent waiting in the door and turns the return into a clear
    "how soon" signal (gamma ** moves). Evaluation and rollouts use the unwrapped maze reward.
    """

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the maze; terminate with reward 1 when the agent has just reached the door."""
        obs, _, _, truncated, info = self.env.step(action)
        maze = self.env.unwrapped.maze  # type: ignore[attr-defined]
        arrived = info["state"] == maze.state_of[maze.door]
        return obs, float(arrived), arrived, truncated and not arrived, info


def training_env(env: gym.Env) -> gym.Env:
    """A training MazeEnv: EndAtDoor, then the agent's EgocentricObservation view."""
    return EgocentricObservation(EndAtDoor(env))


def policy_success(
    model: BaseAlgorithm,
    *,
    size: int,
    distribution: str,
    seeds: list[int],
    deterministic: bool = False,
) -> float:
    """Fraction of the given mazes in which the policy reaches the door within the horizon."""
    reached = 0
    for seed in seeds:
        maze = generate_maze(size=size, distribution=distribution, seed=seed)  # type: ignore[arg-type]
        env = EgocentricObservation(MazeEnv(maze=maze))
        door = maze.state_of[maze.door]
        obs, info = env.reset(seed=seed)
        truncated = False
        while not truncated and info["state"] != door:
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, _, _, truncated, info = env.step(int(action))
        reached += info["state"] == door
    return reached / len(seeds)


class HeldOutStop(BaseCallback):
    """Evaluate on held-out training mazes every `every` steps; stop at the target success rate."""

    def __init__(self, *, size: int, seeds: list[int], every: int, target: float) -> None:
        super().__init__()
        self.size, self.seeds = size, seeds
        self.every, self.target = every, target
        self.last_eval = 0
        self.success = 0.0
        self.history: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        """Evaluate when due; returning False stops training."""
        if self.num_timesteps - self.last_eval < self.every:
            return True
        self.last_eval = self.num_timesteps
        self.success = policy_success(
            self.model,
            size=self.size,
            distribution="train",
            seeds=self.seeds,
        )
        self.history.append((self.num_timesteps, self.success))
        print(
            f"  {self.num_timesteps:>8} steps: held-out success {self.success:.0%}",
            file=sys.stderr,
            flush=True,
        )
        return self.success < self.target


def train(
    *,
    size: int = DEFAULT_SIZE,
    timesteps: int = 1_000_000,
    seed: int = 0,
    out: Path = DEFAULT_OUT,
    target: float = 0.9,
    eval_mazes: int = 50,
    eval_every: int = 20_000,
    n_envs: int = 8,
    subprocesses: bool = False,
) -> dict[str, Any]:
    """Train PPO on train mazes of `size`; save the model at `out` and return its summary."""
    register_mazes()
    torch.set_num_threads(1)
    started = time.monotonic()
    env = make_vec_env(
        gym.make,
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"id": MAZE_IDS["train"], "size": size},
        wrapper_class=training_env,
        vec_env_cls=SubprocVecEnv if subprocesses else None,
    )
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=0.95,
        ent_coef=0.01,
        policy_kwargs=POLICY_KWARGS,
        seed=seed,
        verbose=0,
        device="cpu",
    )
    stop = HeldOutStop(size=size, seeds=held_out_seeds(eval_mazes), every=eval_every, target=target)
    model.learn(total_timesteps=timesteps, callback=stop)
    success = policy_success(model, size=size, distribution="train", seeds=stop.seeds)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    summary = {
        "model": str(out),
        "size": size,
        "policy": POLICY,
        "seed": seed,
        "timesteps": int(model.num_timesteps),
        "held_out_mazes": eval_mazes,
        "held_out_success": success,
        "solved": success >= target,
        "target": target,
        "seconds": round(time.monotonic() - started, 1),
        "history": stop.history,
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    env.close()
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="maze size n (n x n cells)")
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="training budget (steps)")
    parser.add_argument("--seed", type=int, default=0, help="PPO and environment seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save model.zip")
    parser.add_argument("--target", type=float, default=0.9, help="held-out success to stop at")
    parser.add_argument("--eval-mazes", type=int, default=50, help="held-out training mazes")
    parser.add_argument("--eval-every", type=int, default=20_000, help="steps between evaluations")
    parser.add_argument("--n-envs", type=int, default=8, help="parallel training environments")
    parser.add_argument(
        "--subprocesses", action="store_true", help="step environments in subprocesses"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Train, save, and print the held-out success rate."""
    args = parse_args(argv)
    summary = train(
        size=args.size,
        timesteps=args.timesteps,
        seed=args.seed,
        out=args.out,
        target=args.target,
        eval_mazes=args.eval_mazes,
        eval_every=args.eval_every,
        n_envs=args.n_envs,
        subprocesses=args.subprocesses,
    )
    print(
        f"saved {summary['model']} after {summary['timesteps']} steps "
        f"({summary['seconds']} s): held-out success {summary['held_out_success']:.0%} "
        f"on {summary['held_out_mazes']} unseen {args.size}x{args.size} train mazes"
    )


if __name__ == "__main__":
    main()
