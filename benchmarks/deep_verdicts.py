"""Do deep IRL's projected verdicts agree with MCE IRL's on the same rollouts?

    nice -n 10 .venv/bin/python -m benchmarks.deep_verdicts [--seeds 10] [--timesteps 20000]
        [--algorithm airl] [--size 3] [--trajectories 20]

For each fresh seed, one maze of the `test` distribution (blue door, red distractors) and the
three scripted agents of irl.agents (door-seeker, red-seeker, random walker) rolled out through
the maze's gymnasium view. The same rollouts go to deep IRL (a state-only reward network,
projected onto the maze's states: irl.report.deep.projected_report) and to MCE IRL (tabular
reward on the state indices); both reports are exact tabular ones against the training reward
(the door), without bootstrap. Prints each pair of verdicts and the agreement table (markdown).
Maze seeds 700_000 + i are used nowhere else.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import numpy as np
import torch

from irl.agents import AGENTS, gym_trajectories
from irl.algorithms import mce_irl
from irl.algorithms.deep import deep_irl
from irl.algorithms.deep_params import validate_deep_params
from irl.environments import MAZE_IDS
from irl.io.trajectories import parse_trajectories
from irl.report import Exact, build_report, reward_parameters
from irl.report.deep import projected_report
from irl.report.projection import TabularView, state_trajectories, tabular_view
from irl.rewards import LinearReward, TabularReward

SEED_BASE = 700_000
DISTRIBUTION = "test"


def deep_params(timesteps: int | None) -> dict[str, Any]:
    """A state-only reward (what the projection compares) on a small budget; None: the
    service's defaults (tuned on held-out environments, docs/deep_irl.md)."""
    if timesteps is None:
        return {"n_eval_episodes": 4}
    return {
        "total_timesteps": timesteps,
        "n_envs": 4,
        "gen_n_steps": 128,
        "demo_batch_size": 128,
        "reward_use_action": False,
        "n_eval_episodes": 4,
    }


def one_run(
    view: TabularView, kwargs: dict[str, int], agent: str, args: argparse.Namespace, seed: int
) -> tuple[str, str, float]:
    """(deep verdict, MCE IRL verdict, deep fit seconds) for one agent in one maze."""
    rng = np.random.default_rng(seed)
    images = parse_trajectories(
        gym_trajectories(view.maze, agent=agent, n=args.trajectories, rng=rng)  # type: ignore[arg-type]
    )
    started = time.perf_counter()
    fit = deep_irl(
        algorithm=args.algorithm,
        env=MAZE_IDS[DISTRIBUTION],
        env_kwargs=kwargs,
        trajectories=images,
        rng=np.random.default_rng(seed + 1),
        params=validate_deep_params(deep_params(args.timesteps or None), algorithm=args.algorithm),
    )
    seconds = time.perf_counter() - started
    deep = projected_report(fit.reward, view, images, rng=np.random.default_rng(seed + 2))
    states = state_trajectories(images, view)
    tabular = mce_irl(
        mdp=view.mdp, trajectories=states, reward_model="tabular", rng=np.random.default_rng(seed)
    ).reward
    assert isinstance(tabular, TabularReward | LinearReward) and view.mdp.reward is not None
    subject = Exact(view.mdp, tabular, view.mdp.reward, reward_parameters("tabular", view.mdp))
    mce = build_report(subject, states, rng=np.random.default_rng(seed + 2))
    return deep.verdict, mce.verdict, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--timesteps", type=int, default=20_000, help="0: the service's default params"
    )
    parser.add_argument("--seed-base", type=int, default=SEED_BASE, help="maze seeds start here")
    parser.add_argument("--algorithm", default="airl", choices=("airl", "gail", "density"))
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--trajectories", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs: dict[str, Counter[tuple[str, str]]] = {agent: Counter() for agent in AGENTS}
    fit_seconds: list[float] = []
    for i in range(args.seeds):
        kwargs = {"maze_seed": args.seed_base + i, "size": args.size}
        view = tabular_view(MAZE_IDS[DISTRIBUTION], kwargs)
        assert view is not None
        for k, agent in enumerate(AGENTS):
            deep, mce, seconds = one_run(view, kwargs, agent, args, 10 * (args.seed_base + i) + k)
            pairs[agent][(deep, mce)] += 1
            fit_seconds.append(seconds)
            print(f"seed {i} {agent:<14} deep {deep:<24} mce_irl {mce:<24} {seconds:5.1f} s")
    budget = f"{args.timesteps} timesteps" if args.timesteps else "default params"
    print(
        f"\n{args.algorithm}, {budget}, {args.trajectories} trajectories, "
        f"{args.size}x{args.size} `{DISTRIBUTION}` mazes, {args.seeds} seeds; "
        f"mean deep fit {np.mean(fit_seconds):.1f} s\n"
    )
    print("| agent | agree | deep verdicts | MCE IRL verdicts |")
    print("|-------|-------|---------------|------------------|")
    for agent, counts in pairs.items():
        agree = sum(c for (d, m), c in counts.items() if d == m)
        deep: Counter[str] = Counter()
        mce: Counter[str] = Counter()
        for (d, m), c in counts.items():
            deep[d] += c
            mce[m] += c
        print(f"| {agent} | {agree}/{args.seeds} | {_counts(deep)} | {_counts(mce)} |")


def _counts(counter: Counter[str]) -> str:
    """'verdict n, ...' most common first."""
    return ", ".join(f"{v} {n}" for v, n in counter.most_common())


if __name__ == "__main__":
    main()
