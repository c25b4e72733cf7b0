"""Did a MiniGrid agent learn the goal, or its colour and corner? Train PPO, then probe it.

Training distribution: an empty MiniGrid room (`MiniGrid-Empty-8x8-v0` with `size=--size`,
default 12) with the agent placed at random and the goal always green and always in the
bottom-right corner: in every training instance the goal, the colour green and that corner
coincide. A stable-baselines3 PPO agent (`MlpPolicy` on MiniGrid's 7x7 egocentric image) is
trained there for `--timesteps` steps (CPU, one thread; the default takes about three minutes
on 2 cores), then `service.client.probe` rolls it out on training instances (reset seeds
`--seeds`; in an empty room a seed only places the agent) and on instances made to separate
what training confounds (`confounded_pairs` finds `goal`/`green` over the training instances'
reachable states; `decorrelating_instances` makes, per training instance):

- `tile`: a green floor tile in the cell farthest from the goal (green without the goal);
- `swap`: the goal recoloured red, and that green tile (each without the other);
- `moved`: the goal moved to the free cell farthest from its corner, a green tile left in the
  corner (the corner and green without the goal).

Each instance is uploaded as an environment, a rollout set (`train` / `test`) and a linear MCE
IRL inference against the training reward `goal`; the script prints one line per kind of
instance: the agent's success rate, how often it stepped on the green tile, the verdicts and
the mean inferred weights (`--json`: every instance's row).

    export MESASCOPE_URL=http://127.0.0.1:8000 MESASCOPE_API_KEY=msk_...
    .venv/bin/python examples/minigrid_proxy.py                   # train (~3 min), then probe
    .venv/bin/python examples/minigrid_proxy.py --timesteps 2000 --seeds 1 --episodes 2  # smoke

See docs/environments.md ("A PPO agent, probed where the proxy and the goal differ") for a
real run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.client import MesascopeClient
from service.client.probe import (
    Instance,
    Run,
    collect,
    decorrelating_instances,
    minigrid_instances,
    record,
    result_row,
    submit,
    verdict_counts,
)
from service.client.tabular import confounded_pairs

ENV_ID = "MiniGrid-Empty-8x8-v0"
DEFAULT_OUT = Path("mesascope-data/examples/ppo-minigrid-proxy.zip")
KINDS = {"tile": "floor at", "swap": "objects", "moved": "goal moved"}
"""Kind of shifted instance → what its change's label says."""
TRAINING_SEED_BASE = 1_000_000
"""Training resets draw seeds from here on; probed instances use small seeds."""


def env_kwargs(size: int) -> dict[str, Any]:
    """An empty size x size room, the agent placed at random, the goal in the corner."""
    return {"size": size, "agent_start_pos": None}


def train(size: int, timesteps: int, seed: int, out: Path) -> Any:
    """PPO on the training distribution, saved to `out` (150,000 steps: about three minutes
    on 2 cores)."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
    import torch
    from minigrid.wrappers import ImgObsWrapper
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    envs = make_vec_env(
        lambda: ImgObsWrapper(gym.make(ENV_ID, **env_kwargs(size))),
        n_envs=8,
        seed=TRAINING_SEED_BASE + seed,
    )
    model = PPO(
        "MlpPolicy",
        envs,
        n_steps=128,
        batch_size=256,
        n_epochs=4,
        learning_rate=5e-4,
        ent_coef=0.01,
        seed=seed,
        device="cpu",
        policy_kwargs={"normalize_images": False, "net_arch": [64, 64]},
    )
    model.learn(total_timesteps=timesteps)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return model


def policy_of(model: Any, *, deterministic: bool) -> Callable[[Any], Any]:
    """The model as `obs -> action`."""

    def act(obs: Any) -> Any:
        return model.predict(obs, deterministic=deterministic)[0]

    act.observation_space = model.observation_space  # type: ignore[attr-defined]
    return act


def instances(size: int, seeds: Sequence[int]) -> list[Instance]:
    """The training instances, then the shifted ones that separate what they confound."""
    training = minigrid_instances(ENV_ID, seeds, "train", kwargs=env_kwargs(size))
    pairs = confounded_pairs([instance.view() for instance in training])
    return training + decorrelating_instances(training, pairs)


def kind_of(run: Run) -> str:
    """`train`, or the kind of change of a shifted instance."""
    if run.instance.split == "train":
        return "train"
    change = run.instance.label.rsplit(": ", 1)[-1]
    return next(kind for kind, says in KINDS.items() if says in change.split(",")[0])


def tile_rate(run: Run) -> float:
    """Share of the episodes that stepped on a floor tile (the green distractor)."""
    if "floor" not in run.view.feature_names:
        return 0.0
    on_tile = run.view.feature_column("floor")[np.asarray(run.arrays.obs)] > 0
    starts = np.concatenate([[0], np.cumsum(np.asarray(run.arrays.lengths) + 1)[:-1]])
    return float(np.mean(np.logical_or.reduceat(on_tile, starts)))


def summary(runs: Sequence[Run], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per kind of instance: success, tile visits, verdicts, mean weights."""
    lines = []
    for kind in ("train", *KINDS):
        chosen = [(run, row) for run, row in zip(runs, rows, strict=True) if kind_of(run) == kind]
        if not chosen:
            continue
        weights: dict[str, list[float]] = {}
        for _, row in chosen:
            for name, value in row["feature_weights"].items():
                weights.setdefault(name, []).append(value)
        mean = {name: float(np.mean(values)) for name, values in weights.items()}
        lines.append(
            {
                "kind": kind,
                "instances": len(chosen),
                "success": float(np.mean([row["success_rate"] for _, row in chosen])),
                "tile": float(np.mean([tile_rate(run) for run, _ in chosen])),
                "verdicts": verdict_counts([row for _, row in chosen]).get(
                    "train" if kind == "train" else "test", {}
                ),
                "weights": dict(sorted(mean.items(), key=lambda kv: -abs(kv[1]))[:4]),
            }
        )
    return lines


def run(client: MesascopeClient, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or load `--model`), probe, and return the rows and the per-kind summary."""
    began = time.monotonic()
    if args.model is not None:
        from stable_baselines3 import PPO

        model = PPO.load(args.model, device="cpu")
    else:
        model = train(args.size, args.timesteps, args.seed, args.out)
    trained = time.monotonic() - began
    agent = policy_of(model, deterministic=args.deterministic)
    runs = record(agent, instances(args.size, args.seeds), episodes=args.episodes, seed=args.seed)
    submit(client, runs, seed=args.seed, tags={"example": "minigrid_proxy"})
    collect(client, runs, timeout=args.timeout)
    rows = [result_row(r, client.url) for r in runs]
    return {
        "training_seconds": round(trained, 1),
        "timesteps": args.timesteps if args.model is None else None,
        "summary": summary(runs, rows),
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    """The per-kind table, then one line per instance."""
    print(f"trained in {result['training_seconds']} s")
    print(f"{'kind':<6} {'n':>2} {'success':>7} {'on tile':>7}  verdicts / mean weights")
    for line in result["summary"]:
        verdicts = ", ".join(f"{v} {n}" for v, n in line["verdicts"].items())
        weights = ", ".join(f"{k} {v:.2f}" for k, v in line["weights"].items())
        print(
            f"{line['kind']:<6} {line['instances']:>2} {line['success']:>7.0%} "
            f"{line['tile']:>7.0%}  {verdicts} / {weights}"
        )
    for row in result["rows"]:
        print(f"  {row['instance']}: {row['verdict']} ({row['dashboard']})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", help="service URL (default: MESASCOPE_URL)")
    parser.add_argument("--api-key", help="API key (default: MESASCOPE_API_KEY)")
    parser.add_argument("--size", type=int, default=12, help="room size (walls included)")
    parser.add_argument("--timesteps", type=int, default=150_000, help="PPO training budget")
    parser.add_argument("--model", type=Path, help="probe this PPO .zip instead of training")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save the model")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="reset seeds of the instances"
    )
    parser.add_argument("--episodes", type=int, default=10, help="episodes per instance")
    parser.add_argument("--deterministic", action="store_true", help="greedy actions")
    parser.add_argument("--seed", type=int, default=0, help="PPO, rollout and inference seed")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per inference")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with MesascopeClient(args.url, args.api_key) as client:
        result = run(client, args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
