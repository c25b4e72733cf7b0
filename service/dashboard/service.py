"""What each dashboard page shows, assembled from the domain services and repositories."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

import numpy as np
from markupsafe import Markup
from sqlalchemy.orm import Session

from irl.environments import TabularMDP
from irl.errors import InvalidInputError
from irl.trajectories import TrajectorySet
from service.comparisons import service as comparisons
from service.comparisons.schemas import ComparisonCreate, RolloutsCoverage
from service.core.db import UnitOfWork
from service.core.errors import DomainError, NotFoundError
from service.core.metrics import JOBS_SUBMITTED
from service.core.models import Environment, Inference, RolloutSet
from service.core.pagination import decode_cursor, encode_cursor
from service.core.settings import Settings
from service.dashboard import charts, repository
from service.dashboard.repository import InferenceFilters
from service.environments import service as environments
from service.inferences import repository as inferences_repository
from service.inferences import service as inferences
from service.inferences.schemas import InferenceCreate, Status, Verdict
from service.rollouts import repository as rollouts_repository
from service.rollouts import service as rollouts

STATUSES: tuple[str, ...] = get_args(Status)
VERDICTS: tuple[str, ...] = get_args(Verdict)


def _choices(annotation: Any) -> tuple[str, ...]:
    """The string values of a Literal annotation, also inside an Optional."""
    return tuple(
        value
        for arg in get_args(annotation)
        for value in (get_args(arg) or (arg,))
        if isinstance(value, str)
    )


ALGORITHMS = _choices(InferenceCreate.model_fields["algorithm"].annotation)
REWARD_MODELS = _choices(InferenceCreate.model_fields["reward_model"].annotation)
LIVE_STATUSES = ("queued", "running")
SAMPLE_PATHS = 3
MAX_COMPARED = 6
CURVE_LABELS = {
    "linf_delta": "occupancy gap max|D_model − D_demo|",
    "grad_norm": "gradient L2 norm",
}


@dataclass(frozen=True)
class ListPage:
    """One page of the inferences list and the links around it."""

    rows: list[dict[str, Any]]
    next_cursor: str | None
    environments: list[dict[str, str]]


def list_page(
    session: Session, project_id: str, filters: InferenceFilters, cursor: str | None, limit: int
) -> ListPage:
    """The inferences list: a page of rows with names, plus the environment filter menu."""
    rows = repository.list_inferences(session, project_id, filters, cursor, limit)
    more = len(rows) > limit
    rows = rows[:limit]
    envs = [{"id": e.id, "name": e.name} for e in repository.environments(session, project_id)]
    return ListPage(
        rows=[_list_row(r) for r in rows],
        next_cursor=repository.encode_cursor(filters.sort, rows[-1]) if more and rows else None,
        environments=envs,
    )


def _list_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "progress": row.progress,
        "live": row.status in LIVE_STATUSES,
        "algorithm": row.algorithm,
        "reward_model": row.reward_model,
        "seed": row.seed,
        "verdict": row.verdict,
        "epic": row.epic,
        "created_at": row.created_at,
        "cancel_requested": row.cancel_requested,
        "rollouts_id": row.rollouts_id,
        "rollouts_name": row.rollouts_name,
        "split": row.split,
        "tags": dict(row.tags or {}),
        "environment_id": row.environment_id,
        "environment_name": row.environment_name,
    }


def live(session: Session, project_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Status and progress of listed inferences, for the page's polling script."""
    return [
        {
            "id": r.id,
            "status": r.status,
            "progress": r.progress,
            "verdict": r.verdict,
            "epic": r.epic,
            "cancel_requested": r.cancel_requested,
        }
        for r in repository.live_rows(session, project_id, ids)
    ]


# --- per-state values and the environment ------------------------------------------------


def state_values(spec: Mapping[str, Any] | None, mdp: TabularMDP) -> np.ndarray | None:
    """(S,) reward per state of a linear or tabular reward spec (mean over a and s')."""
    if not spec:
        return None
    if spec.get("kind") == "linear":
        weights = spec.get("weights", {})
        w = np.array([float(weights.get(name, 0.0)) for name in mdp.feature_names])
        return np.asarray(mdp.features @ w + float(spec.get("bias", 0.0)), dtype=np.float64)
    if spec.get("kind") == "tabular":
        values = np.asarray(spec.get("values"), dtype=np.float64)
        if values.ndim >= 1 and values.shape[0] == mdp.n_states:
            return np.asarray(values.reshape(mdp.n_states, -1).mean(axis=1))
    return None


@dataclass
class EnvView:
    """The environment of a rollout set: row, parsed MDP (tabular only) and trajectories."""

    row: Environment
    mdp: TabularMDP | None
    trajectories: TrajectorySet | None

    @property
    def visits(self) -> np.ndarray | None:
        """(S,) state visit counts of the trajectories, if tabular."""
        if self.mdp is None or self.trajectories is None:
            return None
        try:
            return self.trajectories.state_visits(self.mdp.n_states)
        except InvalidInputError:
            return None

    @property
    def paths(self) -> list[list[int]]:
        """The first few trajectories as state sequences."""
        ts = self.trajectories
        if self.mdp is None or ts is None or ts.obs.ndim != 1:
            return []
        return [
            [int(s) for s in ts.obs[start : start + length + 1]]
            for start, length in zip(
                ts.obs_starts[:SAMPLE_PATHS], ts.lengths[:SAMPLE_PATHS], strict=True
            )
        ]


def env_view(session: Session, project_id: str, ro: RolloutSet, settings: Settings) -> EnvView:
    """Load the rollout set's environment and arrays."""
    row = environments.get_row(session, project_id, ro.environment_id, with_spec=True)
    model = environments.load(row, settings)
    mdp = model if isinstance(model, TabularMDP) else None
    return EnvView(row, mdp, rollouts.load_trajectories(session, ro))


def heatmap_for(
    env: EnvView, spec: Mapping[str, Any] | None, title: str, *, overlay: bool = True
) -> Markup | None:
    """A reward heatmap on the environment's grid, or None without a layout or tabular reward."""
    if env.mdp is None or env.mdp.layout is None:
        return None
    values = state_values(spec, env.mdp)
    if values is None:
        return None
    layout = env.mdp.layout
    return charts.heatmap(
        values,
        layout.cells,
        layout.rows,
        layout.cols,
        title=title,
        unit="reward (reward units)",
        visits=env.visits if overlay else None,
        paths=env.paths if overlay else (),
    )


def visits_heatmap(env: EnvView) -> Markup | None:
    """How often the trajectories visit each cell, with sample trajectories on top."""
    if env.mdp is None or env.mdp.layout is None or env.visits is None:
        return None
    layout = env.mdp.layout
    return charts.heatmap(
        env.visits.astype(np.float64),
        layout.cells,
        layout.rows,
        layout.cols,
        title="State visits of the trajectories",
        unit="visits (count)",
        paths=env.paths,
    )


# --- the inference page ------------------------------------------------------------------


@dataclass
class InferencePage:
    """Everything the inference page shows."""

    row: Inference
    rollouts: RolloutSet
    env: EnvView
    reward: dict[str, Any] | None
    report: dict[str, Any] | None
    training: dict[str, Any] | None
    charts: dict[str, Markup] = field(default_factory=dict)
    identifiability: dict[str, Any] | None = None
    timings: list[tuple[str, str]] = field(default_factory=list)


def inference_page(
    session: Session, project_id: str, inference_id: str, settings: Settings
) -> InferencePage:
    """The inference, its reward, report, environment and the charts drawn from them."""
    row = repository.inference_with_log(session, project_id, inference_id)
    if row is None:
        raise NotFoundError(f"inference {inference_id!r} not found")
    ro = inferences_repository.rollouts_for(session, row)
    env = env_view(session, project_id, ro, settings)
    reward = inferences_repository.rewards_for(session, [row.id]).get(row.id)
    stored = inferences_repository.report(session, row.id, "training")
    report = dict(stored.report) if stored is not None else None
    training = (report or {}).get("against") or ro.training_reward
    page = InferencePage(row, ro, env, reward, report, training)
    page.identifiability = (report or {}).get("identifiability") or ro.identifiability
    page.charts = _inference_charts(page)
    page.timings = timings(row)
    return page


def _inference_charts(page: InferencePage) -> dict[str, Markup]:
    """Weight bars, heatmaps, distance intervals and the training curve."""
    drawn: dict[str, Markup] = {}
    reward, training = page.reward, page.training
    if reward and reward.get("kind") == "linear":
        series = [charts.Series("inferred utility", charts.OKABE_ITO[1], reward["weights"])]
        if training and training.get("kind") == "linear":
            series.append(
                charts.Series("training reward", charts.OKABE_ITO[0], training["weights"])
            )
        names = list(page.env.mdp.feature_names) if page.env.mdp else sorted(reward["weights"])
        drawn["weights"] = charts.weight_bars(series, names, title="Feature weights")
    for key, spec, title in (
        ("heat_inferred", reward, "Inferred utility per cell"),
        ("heat_training", training, "Training reward per cell"),
    ):
        chart = heatmap_for(page.env, spec, title)
        if chart is not None:
            drawn[key] = chart
    if page.report:
        drawn["distances"] = distance_chart(page.report)
    if page.row.curve:
        drawn["curve"] = curve_chart(page.row.curve)
    return drawn


def distance_chart(report: Mapping[str, Any]) -> Markup:
    """EPIC and normalised returns with their bootstrap intervals and verdict thresholds."""
    thresholds = report.get("thresholds") or {}
    uncertainty = report.get("uncertainty") or {}
    metrics, returns = report.get("metrics") or {}, report.get("returns") or {}

    def interval(key: str) -> tuple[float | None, float | None]:
        bounds = uncertainty.get(key)
        return (bounds[0], bounds[1]) if bounds else (None, None)

    items = [
        charts.Interval(
            "EPIC to training reward",
            metrics.get("epic"),
            *interval("epic"),
            threshold=thresholds.get("far_epic"),
        ),
        charts.Interval(
            "training return (normalised)",
            returns.get("normalized_under_training"),
            *interval("normalized_under_training"),
            threshold=thresholds.get("achieves_training_return"),
        ),
        charts.Interval(
            "inferred-utility return (norm.)",
            returns.get("normalized_under_inferred"),
            *interval("normalized_under_inferred"),
        ),
    ]
    return charts.intervals(
        items,
        title="Distances and returns with uncertainty intervals",
        axis="EPIC: 0 = same goal, 1 = opposite · return: 0 = random, 1 = optimal (unitless)",
    )


def curve_chart(curve: Sequence[Mapping[str, float]]) -> Markup:
    """The IRL training curve: every logged quantity per iteration."""
    keys = [k for k in curve[0] if k != "iteration"] if curve else []
    series = [
        (
            CURVE_LABELS.get(k, k),
            [(float(p.get("iteration", i)), float(p[k])) for i, p in enumerate(curve) if k in p],
        )
        for k in keys
    ]
    return charts.lines(
        series,
        title="IRL training curve",
        x_label="iteration (count)",
        y_label="expected visits / feature counts",
    )


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = (end - start).total_seconds()
    return f"{seconds:.2f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def timings(row: Inference) -> list[tuple[str, str]]:
    """Created / started / finished and how long it waited and ran."""

    def stamp(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"

    return [
        ("created", stamp(row.created_at)),
        ("started", stamp(row.started_at)),
        ("finished", stamp(row.finished_at)),
        ("waited in queue", _duration(row.created_at, row.started_at)),
        ("ran for", _duration(row.started_at, row.finished_at)),
        ("attempts", str(row.attempts)),
    ]


# --- rollouts ----------------------------------------------------------------------------


def rollouts_list(
    session: Session, project_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """A page of rollout sets and the cursor of the next."""
    rows = repository.rollouts_page(
        session, project_id, decode_cursor(cursor) if cursor else None, limit
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None


@dataclass
class RolloutsPage:
    """A rollout set, its environment, charts and inferences."""

    row: RolloutSet
    env: EnvView
    charts: dict[str, Markup]
    inferences: list[dict[str, Any]]


def rollouts_page(
    session: Session, project_id: str, rollouts_id: str, settings: Settings
) -> RolloutsPage:
    """The rollout set page's contents."""
    row = rollouts.get_row(session, project_id, rollouts_id)
    env = env_view(session, project_id, row, settings)
    drawn: dict[str, Markup] = {}
    visits = visits_heatmap(env)
    if visits is not None:
        drawn["visits"] = visits
    training = heatmap_for(env, row.training_reward, "Training reward per cell", overlay=False)
    if training is not None:
        drawn["training"] = training
    if env.trajectories is not None:
        drawn["lengths"] = lengths_chart(env.trajectories)
    rows = repository.inferences_of_rollouts(session, project_id, row.id)
    return RolloutsPage(row, env, drawn, [_list_row(r) for r in rows])


def lengths_chart(ts: TrajectorySet) -> Markup:
    """How many trajectories have each length."""
    lengths, counts = np.unique(ts.lengths, return_counts=True)
    values = {str(int(k)): float(c) for k, c in zip(lengths, counts, strict=True)}
    return charts.count_bars(
        charts.Series("trajectories", charts.OKABE_ITO[0], values),
        title="Trajectory lengths",
        x_label="length (steps)",
        y_label="trajectories (count)",
    )


def start_inference(
    uow: UnitOfWork,
    project_id: str,
    body: InferenceCreate,
    settings: Settings,
    enqueue: Any,
) -> Inference:
    """Create an inference like `POST /v1/inferences` does, enqueued after the commit."""
    row = inferences.create(uow.session, project_id, body, settings)
    uow.after_commit.append(lambda: enqueue(row.id))
    JOBS_SUBMITTED.labels(algorithm=body.algorithm).inc()
    return row


# --- compare -----------------------------------------------------------------------------


@dataclass
class Compared:
    """One inference in the compare view."""

    row: Inference
    rollouts: RolloutSet
    reward: dict[str, Any] | None
    report: dict[str, Any] | None
    heatmap: Markup | None = None


@dataclass
class ComparePage:
    """Several inferences side by side, and the distances between their inferred utilities."""

    items: list[Compared]
    weights: Markup | None
    distances: list[list[str]]


def compare_page(
    session: Session, project_id: str, ids: Sequence[str], settings: Settings
) -> ComparePage:
    """Load each inference, draw shared weight bars, and compute pairwise EPIC."""
    items = []
    for inference_id in ids:
        row = inferences.get_row(session, project_id, inference_id)
        ro = rollouts_repository.get(session, project_id, row.rollouts_id)
        assert ro is not None
        stored = inferences_repository.report(session, row.id, "training")
        reward = inferences_repository.rewards_for(session, [row.id]).get(row.id)
        item = Compared(row, ro, reward, dict(stored.report) if stored else None)
        if reward is not None:
            env = env_view(session, project_id, ro, settings)
            item.heatmap = heatmap_for(env, reward, f"Inferred utility: {ro.name}")
        items.append(item)
    return ComparePage(
        items, _compare_weights(items), _pairwise(session, project_id, items, settings)
    )


def _compare_weights(items: Sequence[Compared]) -> Markup | None:
    linear = [i for i in items if i.reward and i.reward.get("kind") == "linear"]
    if len(linear) < 2:
        return None
    features = sorted({f for i in linear for f in (i.reward or {})["weights"]})
    series = [
        charts.Series(
            f"{n + 1}. {i.rollouts.name}"[:40], charts.OKABE_ITO[n % 7], (i.reward or {})["weights"]
        )
        for n, i in enumerate(linear)
    ]
    return charts.weight_bars(series, features, title="Inferred feature weights")


def _pairwise(
    session: Session, project_id: str, items: Sequence[Compared], settings: Settings
) -> list[list[str]]:
    """EPIC between every pair of inferred utilities, in the first one's environment."""
    table = []
    for a in items:
        cells = []
        for b in items:
            cells.append(_epic_between(session, project_id, a, b, settings))
        table.append(cells)
    return table


def _epic_between(
    session: Session, project_id: str, a: Compared, b: Compared, settings: Settings
) -> str:
    if a.row.id == b.row.id:
        return "0"
    if a.reward is None or b.reward is None:
        return "not finished"
    network = a.reward.get("kind") == "network"
    body = ComparisonCreate(
        environment={"id": a.row.environment_id},
        a={"kind": "inference", "id": a.row.id},
        b={"kind": "inference", "id": b.row.id},
        coverage=RolloutsCoverage(rollouts_id=a.row.rollouts_id) if network else "transitions",
    )
    try:
        epic = comparisons.compare(session, project_id, body, settings).epic
    except DomainError:
        return "not comparable"
    return "—" if epic is None or math.isnan(epic) else f"{epic:.3f}"
