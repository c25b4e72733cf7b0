"""The client commands of `mesascope`: talk to a running server (MESASCOPE_URL,
MESASCOPE_API_KEY). `service.cli` adds them beside the operator commands."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from service.client.arguments import (
    coverage_ref,
    divergence_target,
    environment_ref,
    named_goals,
    parse_params,
    parse_tags,
    reward_spec,
)
from service.client.arrays import TrajectoryArrays
from service.client.formats import load_trajectories, upload_fields
from service.client.http import MesascopeClient, MesascopeError

app = typer.Typer()

T = TypeVar("T")
R = TypeVar("R")

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the full JSON response.", metavar="")
]
TrainingRewardOption = Annotated[str | None, typer.Option(help="Reward spec JSON or file.")]
NameOption = Annotated[str | None, typer.Option(help="Name of the rollout set.")]
SplitOption = Annotated[str | None, typer.Option(help="train or test.")]
TagsOption = Annotated[list[str] | None, typer.Option(help="key=value, repeatable.")]


def _emit(
    data: Any,
    as_json: bool,
    human: Callable[[Console], None] | None = None,
    plain: Sequence[str] = (),
) -> None:
    """Print a command's result for people and for scripts.

    `--json`: the full JSON on stdout. Otherwise the human view (a table) goes to stdout on a
    terminal; when stdout is piped it goes to stderr, and stdout gets only `plain` (ids, a
    status), one per line, so `X=$(mesascope ...)` captures just that.
    """
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    terminal = sys.stdout.isatty()
    if human is not None:
        human(Console() if terminal else Console(stderr=True))
    if human is None or not terminal:
        for line in plain:
            typer.echo(line)


def _call(action: Callable[[], T]) -> T:
    """Run a client call; print what went wrong in a few lines (never a traceback) and exit
    1 for an error response or an unreachable server, 2 for a bad argument."""
    try:
        return action()
    except MesascopeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except httpx.TransportError as exc:
        url = exc.request.url if _has_request(exc) else "the server"
        typer.echo(
            f"error: cannot reach mesascope at {url} ({type(exc).__name__}: {exc}). Is "
            "`mesascope serve` running, and MESASCOPE_URL set to its address?",
            err=True,
        )
        raise typer.Exit(1) from exc
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _has_request(exc: httpx.TransportError) -> bool:
    """Whether httpx attached the failed request to the error."""
    try:
        exc.request  # noqa: B018
    except RuntimeError:
        return False
    return True


def _read(path: Path, reader: Callable[[Path], R]) -> R:
    """Read the user's file; any failure is reported in a line, not a traceback."""
    try:
        return reader(path)
    except Exception as exc:
        typer.echo(f"error: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _cell(value: Any) -> str:
    """A table cell: floats to 3 significant digits, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _listed(stamp: str | None) -> str | None:
    """An ISO timestamp to the minute ("2026-11-30 19:52")."""
    return None if stamp is None else stamp[:16].replace("T", " ")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Callable[[Console], None]:
    """A table to print; the first column (ids) is never wrapped or cut."""
    from rich.table import Table

    def show(console: Console) -> None:
        table = Table(title=title)
        for i, column in enumerate(columns):
            table.add_column(column, no_wrap=i == 0, overflow="fold")
        for row in rows:
            table.add_row(*[_cell(v) for v in row])
        console.print(table)

    return show


def _upload(
    arrays: TrajectoryArrays,
    env: str | list[str],
    name: str,
    training_reward: str | dict[str, Any] | None,
    split: str | None,
    tags: dict[str, str],
    as_json: bool,
) -> None:
    """Upload with a progress bar on stderr; the new id alone on stdout."""
    from rich.progress import Progress

    envs = [env] if isinstance(env, str) else env
    if len(envs) > 1 and arrays.environment is None:
        raise typer.BadParameter(
            "several --env make a pooled set: each trajectory needs its `environment` index "
            "(a JSON field, or the npz member `environment`)",
            param_hint="--env",
        )
    pooled = len(envs) > 1
    progress = Progress(transient=True, disable=as_json, console=Console(stderr=True))
    with MesascopeClient() as client, progress as bar:
        task = bar.add_task("uploading", total=arrays.n_transitions)
        result = _call(
            lambda: client.upload_rollouts(
                arrays,
                environment=None if pooled else environment_ref(envs[0]),
                environments=[environment_ref(e) for e in envs] if pooled else None,
                name=name,
                training_reward=(
                    reward_spec(training_reward)
                    if isinstance(training_reward, str)
                    else training_reward
                ),
                split=split,
                tags=tags,
                on_progress=lambda sent, total: bar.update(task, completed=sent),
            )
        )
    _emit(result, as_json, plain=[result["id"]])


@app.command()
def upload(
    path: Annotated[Path, typer.Argument(exists=True, help="Dataset dir, .npz or .json.")],
    env: Annotated[
        list[str],
        typer.Option(
            help="Environment id (env_...), JSON file, or gym id; repeat it for a pooled set "
            "whose trajectories name their environment by index."
        ),
    ],
    training_reward: TrainingRewardOption = None,
    name: NameOption = None,
    split: SplitOption = None,
    tag: TagsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload trajectories from a file; prints the new rollouts id.

    A JSON rollouts file (an API request body) also gives the set's name, split, tags and
    training reward; the options override them. Several --env upload a pooled set."""
    arrays = _read(path, load_trajectories)
    fields = _read(path, upload_fields)
    _upload(
        arrays,
        env,
        name or fields.get("name") or path.stem,
        training_reward or fields.get("training_reward"),
        split or fields.get("split"),
        {**fields.get("tags", {}), **_call(lambda: parse_tags(tag or []))},
        as_json,
    )


@app.command()
def rollout(
    policy: Annotated[Path, typer.Option(exists=True, help="A stable-baselines3 .zip (yours).")],
    env: Annotated[str, typer.Option(help="A gymnasium id, e.g. seals/CartPole-v0.")],
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to record.")] = 10,
    algo: Annotated[str, typer.Option(help="ppo, a2c, dqn or sac.")] = "ppo",
    seed: Annotated[int, typer.Option(help="Seed of the first episode.")] = 0,
    training_reward: TrainingRewardOption = None,
    name: NameOption = None,
    split: SplitOption = None,
    tag: TagsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a local policy in a gymnasium environment and upload its trajectories."""
    from service.client.recording import record_episodes

    arrays = _read(policy, lambda p: record_episodes(p, env, episodes, algo=algo, seed=seed))
    _upload(
        arrays,
        env,
        name or f"{policy.stem} on {env}",
        training_reward,
        split,
        _call(lambda: parse_tags(tag or [])),
        as_json,
    )


@app.command()
def infer(
    rollouts_id: Annotated[str, typer.Argument(help="The rollout set to explain.")],
    algorithm: Annotated[str, typer.Option(help="IRL algorithm.")] = "mce_irl",
    reward_model: Annotated[str, typer.Option(help="linear, tabular or mlp.")] = "linear",
    param: Annotated[list[str] | None, typer.Option(help="key=value (JSON value).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    wait_for: Annotated[
        bool, typer.Option("--wait", help="Wait for it to finish.", metavar="")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Start an inference; prints its id (or waits and prints the result with --wait)."""
    with MesascopeClient() as client:
        job = _call(
            lambda: client.infer(
                rollouts_id,
                algorithm=algorithm,
                reward_model=reward_model,
                params=parse_params(param or []),
                seed=seed,
            )
        )
    if wait_for:
        wait(job["id"], timeout=None, as_json=as_json)
        return
    _emit(job, as_json, plain=[job["id"]])


def _show_inference(job: dict[str, Any]) -> Callable[[Console], None]:
    rows = [
        ["status", job["status"]],
        ["progress", f"{job['progress']:.0%}"],
        ["algorithm", f"{job['algorithm']} ({job['reward_model']})"],
        ["verdict", job.get("verdict")],
        ["EPIC to training", job.get("epic")],
        ["error", job.get("error")],
    ]
    reward = job.get("reward") or {}
    for feature, weight in sorted(
        (reward.get("feature_weights") or {}).items(), key=lambda kv: -abs(kv[1])
    ):
        rows.append([f"weight: {feature}", weight])
    return _table(job["id"], ["field", "value"], [r for r in rows if r[1] is not None])


@app.command()
def status(inference_id: str, as_json: JsonOption = False) -> None:
    """Show an inference's status, progress and result."""
    with MesascopeClient() as client:
        job = _call(lambda: client.get_inference(inference_id))
    _emit(job, as_json, _show_inference(job), plain=[job["status"]])


@app.command()
def wait(
    inference_id: str,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Wait for an inference to finish, with a progress bar; exit 1 unless it succeeded."""
    from rich.progress import Progress

    progress = Progress(transient=True, disable=as_json, console=Console(stderr=True))
    with MesascopeClient() as client, progress as bar:
        task = bar.add_task(inference_id, total=1.0)

        def update(job: dict[str, Any]) -> None:
            bar.update(task, completed=job["progress"], description=f"{job['status']}")

        job = _call(lambda: client.wait(inference_id, timeout=timeout, on_update=update))
    _emit(job, as_json, _show_inference(job), plain=[job["status"]])
    if job["status"] != "succeeded":
        raise typer.Exit(1)


GoalOption = Annotated[
    list[str] | None,
    typer.Option("--goal", help="A named candidate goal: name=reward spec (JSON or file); repeat."),
]
FeatureGoalsOption = Annotated[
    bool, typer.Option(help="Offer each single feature as a candidate goal.")
]


@app.command()
def divergence(
    inference_id: str,
    against: Annotated[str, typer.Option(help="training, observed, environment, or a spec.")] = (
        "training"
    ),
    goal: GoalOption = None,
    feature_goals: FeatureGoalsOption = True,
    as_json: JsonOption = False,
) -> None:
    """Show the divergence report and verdict of a finished inference (with --goal or
    --no-feature-goals, computed now with those named goals and not stored)."""
    with MesascopeClient() as client:
        report = _call(
            lambda: client.divergence(
                inference_id,
                divergence_target(against),
                goals=named_goals(goal or []),
                feature_goals=feature_goals,
            )
        )

    def human(console: Console) -> None:
        metrics = [[k, v] for k, v in report["metrics"].items() if v is not None]
        returns = [[k, v] for k, v in report["returns"].items() if v is not None]
        _table(report["verdict"], ["measure", "value"], metrics + returns)(console)
        if report.get("hypotheses"):
            _goals_table(report["hypotheses"])(console)
        console.print(report["explanation"], markup=False, highlight=False)

    _emit(report, as_json, human, plain=[report["verdict"]])


def _goals_table(hypotheses: dict[str, Any]) -> Callable[[Console], None]:
    """The named goals, best first: posterior, log-likelihood per step, BIC."""
    rows = [
        [
            c["name"] + (" (training)" if c["training"] else ""),
            c["posterior"],
            c["log_likelihood_per_step"],
            c["bic"],
        ]
        for c in hypotheses["candidates"]
    ]
    return _table("named goals", ["goal", "posterior", "log-lik/step", "BIC"], rows)


@app.command()
def goals(
    inference_id: str,
    goal: GoalOption = None,
    feature_goals: FeatureGoalsOption = True,
    as_json: JsonOption = False,
) -> None:
    """Which named goal does a finished tabular inference's behaviour pursue?"""
    with MesascopeClient() as client:
        result = _call(
            lambda: client.goals(inference_id, named_goals(goal or []), feature_goals=feature_goals)
        )
    table = _goals_table(result)

    def human(console: Console) -> None:
        table(console)
        test = result["free_versus_best"]
        console.print(
            f"free fit vs best: {test['log_likelihood_ratio_per_step']:.3f} nats/step, "
            f"p = {test['p_value']:.2g}",
            markup=False,
            highlight=False,
        )

    _emit(result, as_json, human, plain=[result["best"]])


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="Reward spec: JSON, file, inf_ID, environment.")],
    b: Annotated[str, typer.Argument(help="Reward spec: JSON, file, inf_ID, environment.")],
    env: Annotated[str, typer.Option(help="Environment id (env_...) or JSON file.")],
    coverage: Annotated[str, typer.Option(help="uniform, transitions, or a rollouts id.")] = (
        "uniform"
    ),
    discount: Annotated[
        float | None, typer.Option(help="Default: the environment's; 0.95 in gymnasium.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Distances between two rewards in one environment."""
    with MesascopeClient() as client:
        result = _call(
            lambda: client.compare(
                environment_ref(env),
                reward_spec(a),
                reward_spec(b),
                discount=discount,
                coverage=coverage_ref(coverage),
            )
        )
    rows = [[k, "n/a" if v is None else v] for k, v in result.items()]
    epic = result.get("epic")
    _emit(result, as_json, _table("distances", ["measure", "value"], rows), plain=[_cell(epic)])


@app.command(name="ls")
def list_items(
    what: Annotated[str, typer.Argument(help="inferences, rollouts or environments.")] = (
        "inferences"
    ),
    status_filter: Annotated[str | None, typer.Option("--status", help="Job status.")] = None,
    verdict: Annotated[str | None, typer.Option(help="Verdict.")] = None,
    tag: Annotated[str | None, typer.Option(help="key=value.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List the newest inferences, rollout sets or environments."""
    with MesascopeClient() as client:
        listers = {
            "inferences": lambda: client.list_inferences(
                status=status_filter, verdict=verdict, tag=tag
            ),
            "rollouts": lambda: client.list_rollouts(tag=tag),
            "environments": lambda: client.list_environments(),
        }
        if what not in listers:
            typer.echo(f"error: cannot list {what!r}; choose {', '.join(listers)}", err=True)
            raise typer.Exit(2)
        items = _call(lambda: list(itertools.islice(listers[what](), limit)))
    columns = {
        "inferences": ["id", "status", "algorithm", "verdict", "epic", "created_at"],
        "rollouts": ["id", "name", "split", "n_trajectories", "n_transitions", "created_at"],
        "environments": ["id", "name", "kind", "n_states", "n_actions", "created_at"],
    }[what]
    rows = [
        [_listed(item.get(c)) if c == "created_at" else item.get(c) for c in columns]
        for item in items
    ]
    _emit(items, as_json, _table(what, columns, rows), plain=[item["id"] for item in items])


def _probe_instances(
    env: str, seeds: str, kwargs: str | None, split: str, observation: str, n_actions: int | None
) -> list[Any]:
    """The instances of one family: MiniGrid ids and the maze suite's by seed, toy-text ids by
    kwargs variant."""
    from service.client.probe import (
        MAZE_FAMILY,
        maze_instances,
        minigrid_instances,
        parse_seeds,
        toy_text_instances,
    )

    given = json.loads(kwargs) if kwargs else {}
    if env.startswith(MAZE_FAMILY):
        distribution = env.removeprefix(MAZE_FAMILY).removesuffix("-v0")
        if distribution not in ("train", "test") or not isinstance(given, dict):
            raise ValueError(
                f"--env {env}: the maze ids are {MAZE_FAMILY}train-v0 and {MAZE_FAMILY}test-v0, "
                'their --kwargs an object like {"size": 8}'
            )
        unknown = set(given) - {"size"}
        if unknown:
            raise ValueError(f"--kwargs: mazes take only `size`, not {sorted(unknown)}")
        return maze_instances(distribution, parse_seeds(seeds), split, size=given.get("size"))
    if env.startswith("MiniGrid-"):
        if not isinstance(given, dict):
            raise ValueError("--kwargs: a JSON object for MiniGrid ids")
        options = {} if n_actions is None else {"n_actions": n_actions}
        return minigrid_instances(
            env, parse_seeds(seeds), split, observation=observation, kwargs=given, **options
        )
    variants = given if isinstance(given, list) else [given]
    if not all(isinstance(v, dict) for v in variants):
        raise ValueError("--kwargs: a JSON object, or a list of objects (one per instance)")
    return toy_text_instances(env, variants, split)


def _decorrelating(
    client: MesascopeClient, training: list[Any], given: list[str], quiet: bool
) -> list[Any]:
    """Shifted instances separating each `a,b` pair, the pairs an inference's report finds
    indistinguishable (`inf_...`), or those `auto` finds confounded over the training-like
    instances' reachable states (named on stderr)."""
    from service.client.probe import decorrelating_instances
    from service.client.tabular.decorrelate import confounded_pairs, pairs_from_report, parse_pair

    chosen: list[tuple[str, str]] = []
    for value in given:
        if value == "auto":
            found = confounded_pairs([instance.view() for instance in training])
            source = "the training-like instances"
        elif value.startswith("inf_"):
            found = pairs_from_report(client.divergence(value))
            source = f"the report of {value}"
        else:
            found = [parse_pair(value)]
            source = ""
        if not found:
            raise ValueError(f"decorrelate {value}: no features are confounded in {source}")
        if source and not quiet:
            shown = ", ".join(f"{a}/{b}" for a, b in found)
            typer.echo(f"confounded in {source}: {shown}", err=True)
        chosen += [pair for pair in found if pair not in chosen]
    return decorrelating_instances(training, chosen)


@app.command()
def probe(
    policy: Annotated[Path, typer.Option(exists=True, help="A stable-baselines3 .zip (yours).")],
    env: Annotated[
        str,
        typer.Option(help="Training-like family: MiniGrid-..., mesascope/Maze-... or toy-text id."),
    ],
    seeds: Annotated[
        str, typer.Option(help="MiniGrid or maze instance seeds, e.g. 0-4 or 1,5.")
    ] = "0-4",
    kwargs: Annotated[
        str | None, typer.Option(help="Env kwargs JSON; toy-text: a list = one instance each.")
    ] = None,
    shifted_env: Annotated[str | None, typer.Option(help="Shifted family (default: --env).")] = (
        None
    ),
    shifted_seeds: Annotated[str | None, typer.Option(help="Shifted instance seeds.")] = None,
    shifted_kwargs: Annotated[str | None, typer.Option(help="Shifted env kwargs JSON.")] = None,
    decorrelate: Annotated[
        list[str] | None,
        typer.Option(
            help="Confounded features to separate: goal,green (repeatable), an inference id "
            "(its report's), or auto; shifted MiniGrid instances made from the training ones."
        ),
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per instance.")] = 20,
    algo: Annotated[str, typer.Option(help="ppo, a2c or dqn.")] = "ppo",
    observation: Annotated[
        str, typer.Option(help="MiniGrid observation wrapper: image, flat, full or none.")
    ] = "image",
    n_actions: Annotated[
        int | None, typer.Option(help="MiniGrid: keep the first N actions (3 = navigation).")
    ] = None,
    deterministic: Annotated[
        bool, typer.Option("--deterministic", help="Greedy actions.", metavar="")
    ] = False,
    training_reward: TrainingRewardOption = None,
    reward_model: Annotated[str, typer.Option(help="linear or tabular.")] = "linear",
    seed: Annotated[
        int, typer.Option(help="Seed of the policy's sampling, the episodes and the inference.")
    ] = 0,
    tag: TagsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Roll a local policy out on training-like and shifted instances, infer what it pursues,
    and print the verdicts (one pooled rollout set and inference per family and split, judged
    in each instance too)."""
    from rich.progress import Progress

    from service.client.probe import collect, record, result_row, sb3_policy, submit

    def families() -> list[Any]:
        instances = _probe_instances(env, seeds, kwargs, "train", observation, n_actions)
        if shifted_env or shifted_seeds or shifted_kwargs:
            instances += _probe_instances(
                shifted_env or env,
                shifted_seeds or seeds,
                shifted_kwargs or kwargs,
                "test",
                observation,
                n_actions,
            )
        return instances

    instances = _call(families)
    agent = _read(
        policy, lambda p: sb3_policy(p, algo=algo, deterministic=deterministic, seed=seed)
    )
    reward = reward_spec(training_reward) if training_reward else None
    progress = Progress(transient=True, disable=as_json, console=Console(stderr=True))
    with MesascopeClient() as client, progress as bar:
        if decorrelate:
            instances += _call(lambda: _decorrelating(client, instances, decorrelate, as_json))
        recording = bar.add_task("recording", total=len(instances))
        runs = _call(
            lambda: record(
                agent,
                instances,
                episodes=episodes,
                seed=seed,
                on_progress=lambda run: bar.advance(recording),
            )
        )
        _call(
            lambda: submit(
                client,
                runs,
                training_reward=reward,
                reward_model=reward_model,
                seed=seed,
                tags=parse_tags(tag or []),
            )
        )
        waiting = bar.add_task("inferring", total=len(runs))
        _call(lambda: collect(client, runs, on_update=lambda run: bar.advance(waiting)))
        rows = [result_row(run, client.url) for run in runs]
    _emit(rows, as_json, _probe_table(rows), plain=[r["inference_id"] for r in rows])


def _probe_table(rows: list[dict[str, Any]]) -> Callable[[Console], None]:
    """Per-instance verdicts, then each pooled set's verdict and named goal, then where to look
    further."""
    from service.client.probe import top_weights, verdict_counts

    columns = ["inference", "split", "environment", "states", "success", "return"]
    columns += ["top weights", "EPIC", "verdict"]
    table = [
        [
            r["inference_id"],
            r["split"],
            f"{r['family']} {r['instance']}",
            r["n_states"],
            f"{r['success_rate']:.0%}",
            r["normalized_return"],
            top_weights(r["feature_weights"]),
            r["epic"],
            r["verdict"] or f"error: {r['error']}",
        ]
        for r in rows
    ]
    pooled = {r["inference_id"]: r for r in rows if r["inference_id"]}
    sets = [
        [
            r["inference_id"],
            r["split"],
            r["family"],
            sum(1 for row in rows if row["inference_id"] == r["inference_id"]),
            r["pooled_verdict"] or f"error: {r['error']}",
            "-" if r["goal"] is None else f"{r['goal']} ({r['goal_posterior']:.2f})",
        ]
        for r in pooled.values()
    ]

    def show(console: Console) -> None:
        _table("probe", columns, table)(console)
        _table(
            "pooled",
            ["inference", "split", "family", "instances", "verdict", "goal (posterior)"],
            sets,
        )(console)
        for split, counts in verdict_counts(rows).items():
            shown = ", ".join(f"{verdict} {n}" for verdict, n in counts.items())
            console.print(f"{split}: {shown}", markup=False, highlight=False)
        if rows and rows[0]["dashboard"]:
            console.print(f"details: {rows[0]['dashboard'].rsplit('/', 2)[0]}/", markup=False)

    return show
