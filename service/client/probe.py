"""`mesascope probe`: roll a policy out on training-like and shifted instances of an
environment family, upload each instance with its tabular view, infer, and collect verdicts.

User-side: the policy and the environments run here (gymnasium, minigrid and
stable-baselines3 are imported inside the functions that need them). Each instance is an
environment; the instances of one family and split are one pooled rollout set and one
inference (docs/formats.md, "Pooled environments"), whose report judges the pooled fit in each
instance as well.

    from service.client import MesascopeClient
    from service.client.probe import minigrid_instances, probe

    instances = minigrid_instances("MiniGrid-Empty-8x8-v0", range(3), "train")
    instances += minigrid_instances("MiniGrid-FourRooms-v0", range(3), "test")
    with MesascopeClient() as client:
        results = probe(client, my_policy, instances, episodes=20)

`decorrelating_instances(training, [("goal", "green")])` makes shifted MiniGrid instances that
separate features the training instances confound (service/client/tabular/decorrelate.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from service.client.arrays import TrajectoryArrays
from service.client.http import MesascopeClient
from service.client.tabular.recording import Policy, record_episodes
from service.client.tabular.view import TabulariseError, TabularView, replaced

MAZE_FAMILY = "mesascope/Maze-"
"""The maze suite's family ids (irl.environments.maze_gym.MAZE_IDS) start so."""
OBSERVATION_WRAPPERS = ("image", "flat", "full", "none")
"""MiniGrid observation wrappers a policy may have been trained with (see `wrap_minigrid`)."""


@dataclass(frozen=True)
class Instance:
    """One environment instance to probe: how to make it, and its tabular view."""

    family: str
    """The environment id, e.g. `MiniGrid-FourRooms-v0`."""
    label: str
    """Which instance of the family, e.g. `seed 3` or `map_name=8x8`."""
    split: str
    """`train` (training-like) or `test` (shifted)."""
    make_env: Callable[[], Any]
    """A fresh environment, with the wrappers the policy expects."""
    build_view: Callable[[Any], TabularView]
    """The tabular view of a reset environment of this instance."""
    reset_seed: int | None = None
    """The reset seed that makes this instance (MiniGrid's grid); None: every episode's own."""

    def view(self) -> TabularView:
        """Reset a fresh environment as this instance and build its view."""
        env = self.make_env()
        try:
            env.reset(seed=self.reset_seed if self.reset_seed is not None else 0)
            return self.build_view(env)
        finally:
            env.close()


@dataclass
class Run:
    """An instance's view and recorded episodes, then what the service made of them."""

    instance: Instance
    view: TabularView
    arrays: TrajectoryArrays
    environment_id: str | None = None
    rollouts_id: str | None = None
    inference_id: str | None = None
    environment_index: int | None = None
    """This instance's index into its pooled rollout set's environments."""
    job: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    """The pooled inference's training report (shared by the runs of one set)."""
    error: str | None = None

    @property
    def breakdown(self) -> dict[str, Any]:
        """The report's row for this instance (empty before the report arrives)."""
        rows = self.report.get("environments") or []
        index = self.environment_index
        return dict(rows[index]) if index is not None and index < len(rows) else {}


def parse_seeds(text: str) -> list[int]:
    """`0-4` → [0, 1, 2, 3, 4]; `1,5,9` → [1, 5, 9]; ranges and lists combine (`0-2,7`)."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"seeds: expected e.g. `0-4` or `1,5,9`, got {text!r}")
        seeds.extend(range(int(first), int(last) + 1) if dash else [int(first)])
    if not seeds:
        raise ValueError("seeds: none given")
    return seeds


def wrap_minigrid(env: Any, observation: str) -> Any:
    """The observation wrapper a MiniGrid policy was trained with: `image` (ImgObsWrapper, the
    7x7x3 egocentric view), `flat` (FlatObsWrapper), `full` (FullyObsWrapper then
    ImgObsWrapper), `none` (the dict observation)."""
    from minigrid.wrappers import FlatObsWrapper, FullyObsWrapper, ImgObsWrapper

    if observation == "image":
        return ImgObsWrapper(env)
    if observation == "flat":
        return FlatObsWrapper(env)
    if observation == "full":
        return ImgObsWrapper(FullyObsWrapper(env))
    if observation == "none":
        return env
    raise ValueError(f"observation wrapper: expected one of {OBSERVATION_WRAPPERS}")


def minigrid_instances(
    env_id: str,
    seeds: Iterable[int],
    split: str,
    *,
    observation: str = "image",
    kwargs: Mapping[str, Any] | None = None,
    **view_options: Any,
) -> list[Instance]:
    """MiniGrid instances, one per seed (the grid `reset(seed=seed)` generates)."""

    def make() -> Any:
        import gymnasium as gym
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)

        return wrap_minigrid(gym.make(env_id, **dict(kwargs or {})), observation)

    def build(env: Any) -> TabularView:
        from service.client.tabular.minigrid import minigrid_view

        return minigrid_view(env, **view_options)

    return [
        Instance(env_id, f"seed {seed}", split, make, _named(build, env_id, seed), seed)
        for seed in seeds
    ]


def toy_text_instances(
    env_id: str,
    variants: Sequence[Mapping[str, Any]],
    split: str,
    **view_options: Any,
) -> list[Instance]:
    """Toy-text instances, one per kwargs variant (e.g. `{"map_name": "8x8"}`, a custom
    `{"desc": [...]}`, `{"is_slippery": False}`)."""

    def instance(kwargs: Mapping[str, Any]) -> Instance:
        def make() -> Any:
            import gymnasium as gym

            return gym.make(env_id, **dict(kwargs))

        def build(env: Any) -> TabularView:
            from service.client.tabular.toytext import toy_text_view

            return toy_text_view(env, **view_options)

        label = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items()) or "default"
        return Instance(env_id, label, split, make, build)

    return [instance(kwargs) for kwargs in (variants or [{}])]


def maze_instances(
    distribution: str, seeds: Iterable[int], split: str, *, size: int | None = None
) -> list[Instance]:
    """mesascope's maze suite (docs/mazes.md): one instance per maze seed of `distribution`
    (`train` or `test`), its observation the maze environment's image. The view is the maze's
    own tabular MDP (features door, red, blue; training reward: the door)."""
    from irl.environments.maze import DEFAULT_SIZE
    from irl.environments.maze_gym import MAZE_IDS, MazeEnv

    family = MAZE_IDS[distribution]  # type: ignore[index]
    chosen = DEFAULT_SIZE if size is None else size

    def instance(seed: int) -> Instance:
        def make() -> Any:
            return MazeEnv(distribution=distribution, size=chosen, maze_seed=seed)  # type: ignore[arg-type]

        return Instance(family, f"seed {seed}", split, make, maze_view, None)

    return [instance(int(seed)) for seed in seeds]


def maze_view(env: Any) -> TabularView:
    """The tabular view of a maze environment: its maze's MDP, states keyed by index."""
    from service.client.tabular.view import Layout

    mdp = env.unwrapped.maze.to_mdp()
    coo = mdp.transitions.tocoo()
    spec = mdp.to_spec()
    layout = mdp.layout
    return TabularView(
        name=mdp.name,
        n_actions=mdp.n_actions,
        states=np.asarray(coo.row // mdp.n_actions, dtype=np.int64),
        actions=np.asarray(coo.row % mdp.n_actions, dtype=np.int64),
        next_states=np.asarray(coo.col, dtype=np.int64),
        probs=np.asarray(coo.data, dtype=np.float64),
        initial=np.asarray(mdp.initial_state_dist, dtype=np.float64),
        terminal=mdp.is_absorbing(),
        horizon=mdp.horizon,
        discount=mdp.discount,
        feature_names=tuple(mdp.feature_names),
        features=np.asarray(mdp.features, dtype=np.float64),
        reward=spec["reward"],
        keys=tuple(range(mdp.n_states)),
        key_of=lambda live: int(live.state),
        layout=Layout(layout.rows, layout.cols, np.asarray(layout.cells)),
        action_names=("stay", "up", "down", "left", "right"),
    )


def _named(build: Callable[[Any], TabularView], env_id: str, seed: int) -> Callable[[Any], Any]:
    """A view builder whose views are named for the instance (`MiniGrid-... seed 3`)."""

    def named(env: Any) -> TabularView:
        return replaced(build(env), name=f"{env_id} seed {seed}")

    return named


def decorrelating_instances(
    instances: Sequence[Instance], pairs: Sequence[tuple[str, str]]
) -> list[Instance]:
    """Shifted (`test`) instances that separate each confounded pair: every change of every
    MiniGrid instance given (`minigrid_changes`) or maze (`maze_changes`) whose view tells the
    pair apart, labelled with the pair and the change. Refuses pairs no change separates, and
    other families."""
    from service.client.tabular.decorrelate import minigrid_changes, separates

    out: list[Instance] = []
    for a, b in pairs:
        found = []
        for instance in instances:
            if instance.family.startswith(MAZE_FAMILY):
                found += [
                    changed
                    for changed in _changed_mazes(instance, f"{a}/{b}")
                    if separates(changed.view(), a, b)
                ]
                continue
            if not instance.family.startswith("MiniGrid-"):
                raise TabulariseError(
                    f"decorrelating instances are made for MiniGrid families and mazes only, not "
                    f"{instance.family!r}: give shifted instances that separate {a} and {b}"
                )
            env = instance.make_env()
            try:
                env.reset(seed=instance.reset_seed if instance.reset_seed is not None else 0)
                changes = minigrid_changes(env, instance.build_view(env), a, b)
            finally:
                env.close()
            for change in changes:
                changed = _changed(instance, change, f"{a}/{b}")
                if separates(changed.view(), a, b):
                    found.append(changed)
        if not found:
            raise TabulariseError(
                f"no change of these instances separates {a} and {b} (made: a tile of a named "
                "colour, a colour swap, the goal moved); give shifted instances that do"
            )
        out += found
    return out


def _changed_mazes(instance: Instance, pair: str) -> list[Instance]:
    """The maze instance's changed mazes (decorrelate.maze_changes) as shifted instances."""
    from irl.environments.maze_gym import MazeEnv
    from service.client.tabular.decorrelate import maze_changes

    env = instance.make_env()
    maze = env.unwrapped.maze
    env.close()

    def maker(changed: Any) -> Callable[[], Any]:
        return lambda: MazeEnv(maze=changed)

    return [
        Instance(
            instance.family,
            f"{instance.label}; {pair}: {label}",
            "test",
            maker(changed),
            maze_view,
            None,
        )
        for label, changed in maze_changes(maze)
    ]


def _changed(instance: Instance, change: Any, pair: str) -> Instance:
    """The instance with a `Change` made after each reset, as a shifted instance."""
    from service.client.tabular.decorrelate import decorrelated

    label = f"{instance.label}; {pair}: {change.label}"

    def build(env: Any) -> TabularView:
        return replaced(instance.build_view(env), name=f"{instance.family} {label}")

    return Instance(
        instance.family,
        label,
        "test",
        lambda: decorrelated(instance.make_env(), change),
        build,
        instance.reset_seed,
    )


def sb3_policy(
    path: Path, *, algo: str = "ppo", deterministic: bool = False, seed: int | None = None
) -> Any:
    """A stable-baselines3 policy file (the user's own: SB3's loader unpickles, so only load
    files you trust) as `obs -> action`, with `.observation_space` for checking; `seed` seeds
    its action sampling (SB3 samples with torch's generator)."""
    import stable_baselines3
    from stable_baselines3.common.base_class import BaseAlgorithm

    algorithms: dict[str, type[BaseAlgorithm]] = {
        "ppo": stable_baselines3.PPO,
        "a2c": stable_baselines3.A2C,
        "dqn": stable_baselines3.DQN,
    }
    if algo.lower() not in algorithms:
        raise ValueError(f"algo: expected one of {', '.join(algorithms)} (discrete actions)")
    model = algorithms[algo.lower()].load(path, device="cpu")
    if seed is not None:
        model.set_random_seed(seed)

    class Sb3Policy:
        observation_space = model.observation_space

        def __call__(self, obs: Any) -> Any:
            action, _ = model.predict(obs, deterministic=deterministic)
            return action

    return Sb3Policy()


def check_observations(policy: Any, env: Any) -> None:
    """Refuse an environment whose observations the policy was not trained on, when the policy
    says what it expects (SB3 policies do): Discrete sizes must agree, and Box shapes up to
    the channel order (SB3 keeps image policies channel-first)."""
    expected = getattr(policy, "observation_space", None)
    given = getattr(env, "observation_space", None)
    if expected is None or given is None or _compatible(expected, given):
        return
    raise TabulariseError(
        f"the policy expects observations {expected}, but the environment gives {given}; "
        f"for MiniGrid choose the wrapper it was trained with ({', '.join(OBSERVATION_WRAPPERS)})"
    )


def _compatible(expected: Any, given: Any) -> bool:
    """Whether a policy for `expected` observations can act on `given` ones."""
    kind = type(expected).__name__
    if kind != type(given).__name__:
        return False
    if kind == "Discrete":
        return bool(expected.n == given.n)
    if kind == "Box":
        return sorted(expected.shape) == sorted(given.shape)
    return bool(expected == given)


def record(
    policy: Policy,
    instances: Sequence[Instance],
    *,
    episodes: int,
    seed: int = 0,
    on_progress: Callable[[Run], None] | None = None,
) -> list[Run]:
    """Build every instance's view (one feature vocabulary for them all, so weights compare
    across instances) and record `episodes` episodes of the policy in each."""
    views = [instance.view() for instance in instances]
    vocabulary = list(dict.fromkeys(name for view in views for name in view.feature_names))
    runs = []
    for instance, view in zip(instances, views, strict=True):
        view = view.with_features(vocabulary)
        env = instance.make_env()
        try:
            check_observations(policy, env)
        finally:
            env.close()
        arrays = record_episodes(
            view,
            instance.make_env,
            policy,
            episodes,
            seed=seed,
            reset_seed=instance.reset_seed,
        )
        runs.append(Run(instance, view, arrays))
        if on_progress is not None:
            on_progress(runs[-1])
    return runs


def submit(
    client: MesascopeClient,
    runs: Sequence[Run],
    *,
    training_reward: Mapping[str, Any] | None = None,
    algorithm: str = "mce_irl",
    reward_model: str = "linear",
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Upload each run's environment, then the runs of one family and split as one pooled
    rollout set (`pooled_groups`), and start one inference per set."""
    for group in pooled_groups(runs, training_reward):
        environments = []
        for index, run in enumerate(group):
            run.environment_id = client.create_environment(run.view.to_spec())["id"]
            run.environment_index = index
            environments.append({"id": run.environment_id})
        first = group[0]
        labels = [run.instance.label for run in group]
        rollouts = client.upload_rollouts(
            concatenated([run.arrays for run in group]),
            environments=environments,
            environment_of=[k for k, run in enumerate(group) for _ in run.arrays.lengths],
            name=f"{first.instance.family} ({first.instance.split}, {len(group)} instances)",
            training_reward=group_reward(group, training_reward),
            split=first.instance.split,
            tags={
                "probe": first.instance.family,
                "instance": labels[0] if len(labels) == 1 else f"{len(labels)} instances",
                **dict(tags or {}),
            },
        )
        job = client.infer(
            rollouts["id"],
            algorithm=algorithm,
            reward_model=reward_model,
            params=params,
            seed=seed,
        )
        for run in group:
            run.rollouts_id, run.inference_id = rollouts["id"], job["id"]


def pooled_groups(
    runs: Sequence[Run], training_reward: Mapping[str, Any] | None = None
) -> list[list[Run]]:
    """The runs that share a rollout set: one family and split with equal actions, horizon and
    discount (what a pooled set requires) and rewards that pool (`group_reward`); in order."""
    groups: dict[tuple[Any, ...], list[Run]] = {}
    for run in runs:
        view = run.view
        key = (run.instance.family, run.instance.split, view.n_actions, view.horizon)
        groups.setdefault((*key, view.discount), []).append(run)
    pooled: list[list[Run]] = []
    for group in groups.values():
        try:
            group_reward(group, training_reward)
        except ValueError:
            pooled.extend([run] for run in group)
        else:
            pooled.append(group)
    return pooled


def group_reward(
    group: Sequence[Run], training_reward: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The training reward of a pooled set: `training_reward`, or the views' rewards when they
    are one spec (a linear reward over the shared features), or per-state (or per-state-action)
    tabular values joined in the order of the set's environments. ValueError otherwise."""
    if training_reward is not None:
        return dict(training_reward)
    rewards = [run.view.reward for run in group]
    if all(reward is None for reward in rewards):
        return None
    if all(reward == rewards[0] for reward in rewards) and (
        len(group) == 1 or (rewards[0] or {}).get("kind") != "tabular"
    ):
        return dict(rewards[0] or {})
    if all(reward is not None and reward.get("kind") == "tabular" for reward in rewards):
        values = [np.asarray(reward["values"], dtype=np.float64) for reward in rewards if reward]
        if all(v.ndim == values[0].ndim for v in values) and values[0].ndim <= 2:
            return {"kind": "tabular", "values": np.concatenate(values).tolist()}
    raise ValueError("the instances' rewards do not pool: give one training reward")


def concatenated(parts: Sequence[TrajectoryArrays]) -> TrajectoryArrays:
    """One array set holding `parts` one after another."""
    rews = None
    if all(part.rews is not None for part in parts):
        rews = np.concatenate([np.asarray(part.rews) for part in parts])
    return TrajectoryArrays(
        obs=np.concatenate([part.obs for part in parts]),
        acts=np.concatenate([part.acts for part in parts]),
        lengths=np.concatenate([part.lengths for part in parts]),
        terminal=np.concatenate([part.terminal for part in parts]),
        rews=rews,
    )


def collect(
    client: MesascopeClient,
    runs: Sequence[Run],
    *,
    timeout: float | None = None,
    poll: float = 1.0,
    on_update: Callable[[Run], None] | None = None,
) -> None:
    """Wait for every pooled inference and fetch its divergence report (once per set)."""
    from service.client.http import MesascopeError

    done: dict[str, tuple[dict[str, Any], dict[str, Any], str | None]] = {}
    for run in runs:
        if run.inference_id is None:
            continue
        if run.inference_id not in done:
            job = client.wait(run.inference_id, timeout=timeout, poll=poll)
            report: dict[str, Any] = {}
            error = None
            if job["status"] != "succeeded":
                error = job.get("error") or job["status"]
            else:
                try:
                    report = client.divergence(run.inference_id)
                except MesascopeError as exc:
                    error = str(exc)
            done[run.inference_id] = (job, report, error)
        run.job, run.report, run.error = done[run.inference_id]
        if on_update is not None:
            on_update(run)


def probe(
    client: MesascopeClient,
    policy: Policy,
    instances: Sequence[Instance],
    *,
    episodes: int = 20,
    seed: int = 0,
    timeout: float | None = None,
    **submit_options: Any,
) -> list[dict[str, Any]]:
    """Record, submit and collect: one result row per instance (see `result_row`)."""
    runs = record(policy, instances, episodes=episodes, seed=seed)
    submit(client, runs, seed=seed, **submit_options)
    collect(client, runs, timeout=timeout)
    return [result_row(run, client.url) for run in runs]


def success_rate(run: Run) -> float:
    """Share of the episodes that ended terminal with a positive environment return."""
    arrays = run.arrays
    rews = np.zeros(arrays.n_transitions) if arrays.rews is None else np.asarray(arrays.rews)
    ends = np.cumsum(arrays.lengths)
    returns = np.add.reduceat(rews, np.concatenate([[0], ends[:-1]]))
    return float(np.mean(arrays.terminal & (returns > 0)))


def result_row(run: Run, url: str) -> dict[str, Any]:
    """What the probe found about one instance, as plain JSON: the pooled fit judged in this
    instance (`verdict`, `epic`, `normalized_return`; the pooled report's for a set of one),
    and the pooled set's verdict, its best-supported named goal and the explanation."""
    weights = (run.job.get("reward") or {}).get("feature_weights") or {}
    returns = run.report.get("returns") or {}
    # One instance alone: its row is the pooled report (which has the bootstrap).
    own = run.breakdown if len(run.report.get("environments") or []) > 1 else {}
    hypotheses = run.report.get("hypotheses") or {}
    pooled_verdict = run.report.get("verdict") or run.job.get("verdict")
    return {
        "family": run.instance.family,
        "instance": run.instance.label,
        "split": run.instance.split,
        "n_states": run.view.n_states,
        "episodes": len(run.arrays.lengths),
        "success_rate": success_rate(run),
        "environment_id": run.environment_id,
        "rollouts_id": run.rollouts_id,
        "inference_id": run.inference_id,
        "status": run.job.get("status"),
        "verdict": own.get("verdict") or pooled_verdict,
        "epic": own.get("epic", (run.report.get("metrics") or {}).get("epic")),
        "normalized_return": own.get("normalized_return", returns.get("normalized_under_training")),
        "pooled_verdict": pooled_verdict,
        "goal": hypotheses.get("best"),
        "goal_posterior": hypotheses.get("best_posterior"),
        "feature_weights": weights,
        "explanation": run.report.get("explanation"),
        "error": run.error,
        "dashboard": f"{url}/inferences/{run.inference_id}" if run.inference_id else None,
    }


def top_weights(weights: Mapping[str, float], n: int = 3) -> str:
    """The n largest weights by magnitude, e.g. `goal 2.1, lava -1.3`."""
    ranked = sorted(weights.items(), key=lambda kv: -abs(kv[1]))[:n]
    return ", ".join(f"{name} {value:.2f}" for name, value in ranked)


def verdict_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """{split: {verdict: count}} (failed inferences count as `error`)."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        verdict = row["verdict"] or "error"
        split = counts.setdefault(row["split"], {})
        split[verdict] = split.get(verdict, 0) + 1
    return counts


def _short(value: Any) -> str:
    """A kwarg value for a label (custom maps shortened)."""
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:21] + "..."


__all__ = [
    "Instance",
    "Run",
    "collect",
    "concatenated",
    "decorrelating_instances",
    "maze_instances",
    "minigrid_instances",
    "parse_seeds",
    "pooled_groups",
    "probe",
    "record",
    "result_row",
    "sb3_policy",
    "submit",
    "toy_text_instances",
]
