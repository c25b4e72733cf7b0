"""Did the maze agent learn "doors" or "red things"? Ask a running mesascope service.

A PPO agent trained on mazes whose exit door is always red (``examples/train_maze_agent.py``;
reused from its cache when present) is rolled out on several ``train`` mazes and several ``test``
mazes (blue door, red distractors). Each maze is one tabular environment; every (agent, split)
is one *pooled* rollout set over all its mazes (docs/formats.md): the agent's tabular states
(``info["state"]``) and actions in each maze, uploaded with the mazes' specs and the training
reward ``door``. One linear MCE IRL fit explains all the mazes of a split; the script prints, per
maze, the normalised training return, the inferred feature weights (one fit: the same for every
maze of a split), the EPIC distance to the training reward there and the verdict in that maze
alone, then per (agent, split) the service's pooled verdict. The scripted door-seeker (the agent
we hoped for) and red-seeker (a known misgeneralizer) go through the same pipeline for contrast.

    export MESASCOPE_URL=http://127.0.0.1:8000 MESASCOPE_API_KEY=msk_...
    .venv/bin/python examples/maze_misgeneralization.py            # full run, a few minutes
    .venv/bin/python examples/maze_misgeneralization.py --quick --json   # scripted agents only

See docs/tutorial.md for a walk through the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# stable-baselines3 imports pygame, whose banner on stdout would break --json.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import torch
from stable_baselines3 import PPO

from irl.agents import tabular_trajectories
from irl.environments.maze import FEATURE_NAMES, TRAINING_WEIGHTS, Distribution, Maze, generate_maze
from irl.environments.maze_gym import MazeEnv
from service.client import MesascopeClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_maze_agent import (
    DEFAULT_OUT,
    DEFAULT_SIZE,
    POLICY,
    POLICY_KWARGS,
    EgocentricObservation,
    policy_success,
    train,
)

TRAINING_REWARD = {"kind": "linear", "weights": dict(TRAINING_WEIGHTS)}
SCRIPTED = ("door_seeker", "red_seeker")
AGENTS = ("ppo", *SCRIPTED)
MAZE_SEED_BASE = 100
"""Rollout mazes use seeds MAZE_SEED_BASE + i in each split (never the PPO held-out seeds)."""
SUCCESS_MAZES = 50
"""The PPO agent's door rate is also measured on this many mazes per split (no inference)."""


@dataclass
class Row:
    """One rollout set's result: who, where, and what the service concluded."""

    agent: str
    split: str
    maze_seed: int
    reached_door: float
    normalised_training_return: float
    weights: dict[str, float]
    epic: float
    verdict: str
    """The pooled verdict of the agent on all mazes of the split (one inference)."""
    maze_verdict: str
    """The same inferred reward judged in this maze alone (the report's per-environment row)."""
    explanation: str
    rollouts_id: str
    inference_id: str


def load_or_train_ppo(
    path: Path, *, size: int, timesteps: int, seed: int, retrain: bool
) -> tuple[Any, dict[str, Any]]:
    """The cached PPO model at `path` (trained first if missing, of another size or policy, or
    `retrain`)."""
    sidecar = path.with_suffix(".json")
    summary = json.loads(sidecar.read_text()) if sidecar.exists() else None
    stale = summary is None or (summary["size"], summary["policy"]) != (size, POLICY)
    if retrain or stale or not path.exists():
        print(f"training PPO on {size}x{size} red-door mazes ...", file=sys.stderr, flush=True)
        summary = train(size=size, timesteps=timesteps, seed=seed, out=path)
    else:
        print(f"reusing cached PPO agent {path}", file=sys.stderr, flush=True)
    model = PPO.load(path, device="cpu", custom_objects={"policy_kwargs": POLICY_KWARGS})
    return model, summary


def ppo_trajectories(model: Any, maze: Maze, *, n: int, seed: int) -> list[dict[str, Any]]:
    """n episodes of the PPO agent (actions sampled from its policy) with tabular-state obs.

    Sampling is seeded by `seed` and the maze's seed, so a rerun gives the same trajectories.
    """
    torch.manual_seed(seed + maze.seed)
    env = EgocentricObservation(MazeEnv(maze=maze))
    model.policy.set_training_mode(False)
    trajectories = []
    for episode in range(n):
        observation, info = env.reset(seed=seed + episode)
        states, actions, rewards = [info["state"]], [], []
        truncated = False
        while not truncated:
            action, _ = model.predict(observation, deterministic=False)
            observation, reward, _, truncated, info = env.step(int(action))
            states.append(info["state"])
            actions.append(int(action))
            rewards.append(reward)
        trajectories.append({"obs": states, "acts": actions, "rews": rewards, "terminal": False})
    return trajectories


def reached_door(maze: Maze, trajectories: list[dict[str, Any]]) -> float:
    """Fraction of trajectories that end on the door (it is absorbing)."""
    door = maze.state_of[maze.door]
    return float(np.mean([t["obs"][-1] == door for t in trajectories]))


def run(
    client: MesascopeClient,
    *,
    agents: list[str],
    size: int,
    n_mazes: int,
    episodes: int,
    seed: int,
    model: Any | None,
    timeout: float,
) -> list[Row]:
    """Roll out, upload and infer for every (agent, split, maze); collect the results."""
    splits: tuple[Distribution, ...] = ("train", "test")
    mazes = {
        (split, MAZE_SEED_BASE + i): generate_maze(
            size=size, distribution=split, seed=MAZE_SEED_BASE + i
        )
        for split in splits
        for i in range(n_mazes)
    }
    environments = {
        key: client.create_environment(maze.to_spec())["id"] for key, maze in mazes.items()
    }
    rng = np.random.default_rng(seed)
    jobs = []
    for agent in agents:
        for split in splits:
            keys = [key for key in mazes if key[0] == split]
            trajectories: list[dict[str, Any]] = []
            environment_of: list[int] = []
            reached = []
            for index, key in enumerate(keys):
                maze = mazes[key]
                if agent == "ppo":
                    own = ppo_trajectories(model, maze, n=episodes, seed=seed)
                else:
                    own = tabular_trajectories(maze, agent=agent, n=episodes, rng=rng)  # type: ignore[arg-type]
                reached.append(reached_door(maze, own))
                trajectories += own
                environment_of += [index] * len(own)
            uploaded = client.upload_rollouts(
                trajectories,
                environments=[{"id": environments[key]} for key in keys],
                environment_of=environment_of,
                name=f"{agent} on {len(keys)} {split} mazes",
                training_reward=TRAINING_REWARD,
                split=split,
                tags={"agent": agent, "mazes": str(len(keys)), "example": "maze"},
            )
            job = client.infer(uploaded["id"], algorithm="mce_irl", reward_model="linear")
            jobs.append((agent, split, keys, reached, uploaded, job))
            print(f"  queued {agent:<11} {split:<5} {len(keys)} mazes", file=sys.stderr, flush=True)

    Job = tuple[str, str, list[tuple[str, int]], list[float], dict[str, Any], dict[str, Any]]

    def collect(item: Job) -> list[Row]:
        agent, split, keys, reached, uploaded, job = item
        done = client.wait(job["id"], timeout=timeout, poll=0.5)
        if done["status"] != "succeeded":
            raise RuntimeError(f"inference {job['id']} {done['status']}: {done.get('error')}")
        report = client.divergence(job["id"])
        weights = done["reward"]["feature_weights"] or {}
        return [
            Row(
                agent=agent,
                split=split,
                maze_seed=maze_seed,
                reached_door=reached[index],
                normalised_training_return=_number(maze["normalized_return"]),
                weights={name: float(weights.get(name, 0.0)) for name in FEATURE_NAMES},
                epic=_number(maze["epic"]),
                verdict=report["verdict"],
                maze_verdict=maze["verdict"] or "none",
                explanation=report["explanation"],
                rollouts_id=uploaded["id"],
                inference_id=job["id"],
            )
            for index, ((_, maze_seed), maze) in enumerate(
                zip(keys, report["environments"], strict=True)
            )
        ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [row for rows in pool.map(collect, jobs) for row in rows]


def _number(value: float | None) -> float:
    """A report number, NaN where the report has none."""
    return float("nan") if value is None else float(value)


def table(rows: list[Row]) -> str:
    """The results as a fixed-width text table."""
    header = (
        f"{'agent':<11} {'split':<5} {'maze':>4} {'door%':>5} {'return':>6} "
        + " ".join(f"{name[:8]:>8}" for name in FEATURE_NAMES)
        + f" {'EPIC':>5}  verdict in this maze"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.agent:<11} {row.split:<5} {row.maze_seed:>4} {row.reached_door:>5.0%} "
            f"{row.normalised_training_return:>6.2f} "
            + " ".join(f"{row.weights[name]:>8.2f}" for name in FEATURE_NAMES)
            + f" {row.epic:>5.2f}  {row.maze_verdict}"
        )
    return "\n".join(lines)


def summary(rows: list[Row]) -> list[dict[str, Any]]:
    """Per (agent, split): mean door rate, return and EPIC over the mazes, the pooled fit's
    weights and verdict, and how the per-maze verdicts fell."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.agent, row.split), []).append(row)
    out = []
    for (agent, split), members in groups.items():
        verdicts: dict[str, int] = {}
        for row in members:
            verdicts[row.maze_verdict] = verdicts.get(row.maze_verdict, 0) + 1
        out.append(
            {
                "agent": agent,
                "split": split,
                "mazes": len(members),
                "reached_door": float(np.mean([r.reached_door for r in members])),
                "normalised_training_return": float(
                    np.mean([r.normalised_training_return for r in members])
                ),
                "weights": {
                    name: float(np.mean([r.weights[name] for r in members]))
                    for name in FEATURE_NAMES
                },
                "epic": float(np.mean([r.epic for r in members])),
                "verdict": members[0].verdict,
                "verdicts": verdicts,
            }
        )
    return out


def summary_table(groups: list[dict[str, Any]]) -> str:
    """The per-(agent, split) pooled verdicts, means and per-maze verdict counts as text."""
    header = (
        f"{'agent':<11} {'split':<5} {'door%':>5} {'return':>6} "
        + " ".join(f"{name[:8]:>8}" for name in FEATURE_NAMES)
        + f" {'EPIC':>5}  {'pooled verdict':<22}  per-maze verdicts"
    )
    lines = [header, "-" * len(header)]
    for group in groups:
        counts = ", ".join(f"{verdict} {n}" for verdict, n in group["verdicts"].items())
        lines.append(
            f"{group['agent']:<11} {group['split']:<5} {group['reached_door']:>5.0%} "
            f"{group['normalised_training_return']:>6.2f} "
            + " ".join(f"{group['weights'][name]:>8.2f}" for name in FEATURE_NAMES)
            + f" {group['epic']:>5.2f}  {group['verdict']:<22}  {counts}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="service URL (default: MESASCOPE_URL)")
    parser.add_argument("--api-key", help="API key (default: MESASCOPE_API_KEY)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="maze size n")
    parser.add_argument("--mazes", type=int, default=5, help="mazes per split")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per maze")
    parser.add_argument(
        "--agents", nargs="+", choices=AGENTS, help="default: all (quick: scripted)"
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_OUT, help="cached PPO model (.zip)")
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="PPO budget if training")
    parser.add_argument("--retrain", action="store_true", help="train PPO even if cached")
    parser.add_argument("--seed", type=int, default=0, help="seed of rollouts and training")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait per inference")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="scripted agents only, 1 maze per split, 30 episodes (for tests; under a minute)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.quick:
        args.mazes, args.episodes = 1, 30
        args.agents = args.agents or list(SCRIPTED)
    args.agents = args.agents or list(AGENTS)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the example and print the table (or JSON)."""
    args = parse_args(argv)
    started = time.monotonic()
    model, training = None, None
    if "ppo" in args.agents:
        model, training = load_or_train_ppo(
            args.model,
            size=args.size,
            timesteps=args.timesteps,
            seed=args.seed,
            retrain=args.retrain,
        )
    with MesascopeClient(args.url, args.api_key) as client:
        rows = run(
            client,
            agents=args.agents,
            size=args.size,
            n_mazes=args.mazes,
            episodes=args.episodes,
            seed=args.seed,
            model=model,
            timeout=args.timeout,
        )
    success = None
    if model is not None and training is not None:
        seeds = [MAZE_SEED_BASE + i for i in range(SUCCESS_MAZES)]
        torch.manual_seed(args.seed)
        success = {
            split: policy_success(model, size=args.size, distribution=split, seeds=seeds)
            for split in ("train", "test")
        }
    seconds = round(time.monotonic() - started, 1)
    if args.json:
        out = {
            "size": args.size,
            "episodes": args.episodes,
            "ppo_training": training,
            "ppo_success": success,
            "rows": [asdict(row) for row in rows],
            "summary": summary(rows),
            "seconds": seconds,
        }
        print(json.dumps(out, indent=2))
        return
    if training is not None:
        print(
            f"PPO agent: {training['timesteps']} steps, held-out train-maze success "
            f"{training['held_out_success']:.0%} ({args.model})"
        )
    if success is not None:
        print(
            f"PPO agent reaches the door in {success['train']:.0%} of {SUCCESS_MAZES} train mazes "
            f"and {success['test']:.0%} of {SUCCESS_MAZES} test mazes (seeds {MAZE_SEED_BASE}+)"
        )
    print(table(rows))
    print(f"\none inference per agent and split, over its {args.mazes} mazes (means per maze):")
    print(summary_table(summary(rows)))
    n_inferences = len({row.inference_id for row in rows})
    print(f"\n{n_inferences} inferences over {len(rows)} (agent, maze) pairs in {seconds} s")


if __name__ == "__main__":
    main()
