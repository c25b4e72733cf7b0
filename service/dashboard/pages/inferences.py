"""The inferences list (filters, sorting, cursor pages, live progress), one inference's page,
and the actions on it (cancel, delete, rerun, download the reward's weights)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import Form, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy.orm import Session

from irl.algorithms import ALGORITHM_NAMES
from irl.errors import Problem
from service.auth.dependencies import DashboardKey
from service.core.deps import SettingsDep, UowDep
from service.core.errors import NotFoundError, UnprocessableError
from service.core.models import Inference, RolloutSet
from service.core.pagination import next_cursor
from service.core.settings import Settings
from service.dashboard import charts, repository
from service.dashboard.base import (
    LIVE_STATUSES,
    PAGE_SIZE,
    STATUSES,
    VERDICTS,
    CsrfField,
    CursorText,
    Text,
    create_body,
    list_row,
    page,
    page_router,
    require_csrf,
    see_other,
)
from service.dashboard.repository import ORDERS, SORTS, InferenceFilters
from service.dashboard.views import EnvView, env_view, heatmap_for
from service.inferences import repository as inferences_repository
from service.inferences import service as inferences
from service.inferences.schemas import DivergencePublic
from service.rollouts.router import parse_tag

CURVE_LABELS = {
    "linf_delta": "occupancy gap max|D_model − D_demo| (expected visits)",
    "grad_norm": "gradient L2 norm (feature counts)",
}
STOP_PARAMS = {"linf_delta": "linf_eps", "grad_norm": "grad_l2_eps"}
"""The parameter that ends the fit when a logged quantity falls to it (either one suffices)."""

router = page_router()


# --- the list ----------------------------------------------------------------------------


def _filters(
    status: str | None,
    verdict: str | None,
    algorithm: str | None,
    environment_id: str | None,
    tag: str | None,
    q: str | None,
    sort: str | None,
) -> InferenceFilters:
    """Validated list filters (422 naming the parameter)."""
    checks = (
        ("status", status, STATUSES),
        ("verdict", verdict, VERDICTS),
        ("algorithm", algorithm, ALGORITHM_NAMES),
        ("sort", sort, SORTS),
    )
    for name, value, allowed in checks:
        if value and value not in allowed:
            raise UnprocessableError(
                f"unknown {name} {value!r}",
                errors=[Problem(name, f"expected one of {', '.join(allowed)}")],
            )
    return InferenceFilters(
        status=status or None,
        verdict=verdict or None,
        algorithm=algorithm or None,
        environment_id=environment_id or None,
        tag=parse_tag(tag) if tag else None,
        q=(q or "").strip() or None,
        sort=sort or "newest",
    )


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
    envs = [{"id": e.id, "name": e.name} for e in repository.environments(session, project_id)]
    return ListPage(
        rows=[list_row(r) for r in rows[:limit]],
        next_cursor=next_cursor(rows, limit, ORDERS[filters.sort]),
        environments=envs,
    )


@router.get("/", response_class=HTMLResponse)
def inferences_list(
    request: Request,
    auth: DashboardKey,
    uow: UowDep,
    status: Text = None,
    verdict: Text = None,
    algorithm: Text = None,
    environment_id: Text = None,
    tag: Annotated[str | None, Query(max_length=300)] = None,
    q: Text = None,
    sort: Text = None,
    cursor: CursorText = None,
) -> Response:
    """Inferences, newest first, with filters, sorting and cursor pagination in the URL."""
    filters = _filters(status, verdict, algorithm, environment_id, tag, q, sort)
    listing = list_page(uow.session, auth.principal.project_id, filters, cursor, PAGE_SIZE)
    given = {
        "status": status,
        "verdict": verdict,
        "algorithm": algorithm,
        "environment_id": environment_id,
        "tag": tag,
        "q": q,
        "sort": sort,
    }
    params = {k: v for k, v in given.items() if v}
    next_url = (
        f"/?{urlencode({**params, 'cursor': listing.next_cursor})}" if listing.next_cursor else None
    )
    return page(
        request,
        "inferences.html",
        auth=auth,
        session=uow.session,
        listing=listing,
        params=params,
        next_url=next_url,
        first_url=f"/?{urlencode(params)}" if cursor else None,
        statuses=STATUSES,
        verdicts=VERDICTS,
        sorts=SORTS,
    )


@router.get("/live")
def live(
    auth: DashboardKey, uow: UowDep, ids: Annotated[str, Query(max_length=5000)] = ""
) -> JSONResponse:
    """Status and progress of the given inferences (polled by the pages every 2 s)."""
    wanted = [i for i in ids.split(",") if i][:200]
    items = [
        {
            "id": r.id,
            "status": r.status,
            "progress": r.progress,
            "verdict": r.verdict,
            "epic": r.epic,
            "cancel_requested": r.cancel_requested,
        }
        for r in repository.live_rows(uow.session, auth.principal.project_id, wanted)
    ]
    return JSONResponse({"items": items})


# --- one inference -----------------------------------------------------------------------


@dataclass
class InferencePage:
    """Everything the inference page shows."""

    row: Inference
    rollouts: RolloutSet
    env: EnvView
    reward: dict[str, Any] | None
    report: DivergencePublic | None
    training: dict[str, Any] | None
    charts: dict[str, Markup] = field(default_factory=dict)
    identifiability: dict[str, Any] | None = None
    timings: list[tuple[str, str]] = field(default_factory=list)
    curve_note: str = ""
    fit_diagnostics: dict[str, Any] | None = None
    """A deep fit's own measurements, shown when no training report carries its quality."""

    @property
    def none_of_named(self) -> bool:
        """The inferred utility explains the actions significantly and substantially better
        than the best named goal (the rule of irl.verdict.none_of_named)."""
        report = self.report
        if report is None or report.hypotheses is None or report.goal_directedness is None:
            return False
        test = report.hypotheses.free_versus_best
        level = report.thresholds.goal_directed_p_value if report.thresholds else 1e-3
        return (
            test.p_value < level
            and test.log_likelihood_ratio_per_step
            >= report.goal_directedness.min_log_likelihood_ratio_per_step
        )

    @property
    def caveats(self) -> dict[str, str]:
        """Features whose weights the data cannot determine, with why (shown beside them)."""
        ident = self.identifiability or {}
        notes = {}
        for group in ident.get("indistinguishable") or []:
            for name in group:
                notes[name] = "≡ " + " ≡ ".join(g for g in group if g != name)
        for name in ident.get("constant") or []:
            notes[name] = "constant in the data"
        for name in ident.get("one_sided") or []:
            notes[name] = "never where it went"
        return notes


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
    report = inferences.training_report(session, row.id)
    training = report.against if report is not None else ro.training_reward
    shown = InferencePage(row, ro, env, reward, report, training)
    shown.identifiability = (report and report.identifiability) or ro.identifiability
    if report is None or report.quality is None:
        shown.fit_diagnostics = row.fit_diagnostics
    shown.charts = _inference_charts(shown)
    shown.timings = timings(row)
    return shown


def _inference_charts(shown: InferencePage) -> dict[str, Markup]:
    """Weight bars, heatmaps, distance intervals and the training curve."""
    drawn: dict[str, Markup] = {}
    reward, training = shown.reward, shown.training
    if reward and reward.get("kind") == "linear":
        series = [charts.Series("inferred utility", charts.OKABE_ITO[1], reward["weights"])]
        if training and training.get("kind") == "linear":
            series.append(
                charts.Series("training reward", charts.OKABE_ITO[0], training["weights"])
            )
        names = list(shown.env.mdp.feature_names) if shown.env.mdp else sorted(reward["weights"])
        drawn["weights"] = charts.weight_bars(
            series, names, title="Feature weights", notes=shown.caveats
        )
    for key, spec, title in (
        ("heat_inferred", reward, "Inferred utility per cell"),
        ("heat_training", training, "Training reward per cell"),
    ):
        chart = heatmap_for(shown.env, spec, title)
        if chart is not None:
            drawn[key] = chart
    if shown.report:
        drawn["distances"] = distance_chart(shown.report)
        if shown.report.hypotheses is not None:
            drawn["goals"] = charts.posterior_bars(
                [(c.name, c.posterior, c.training) for c in shown.report.hypotheses.candidates],
                title="Named goals",
            )
    if shown.row.curve:
        curve = curve_chart(shown.row.curve, shown.row.params or {})
        drawn["curve"] = curve.chart
        shown.curve_note = curve.note
    return drawn


def distance_chart(report: DivergencePublic) -> Markup:
    """EPIC and normalised returns with their bootstrap intervals and verdict thresholds."""
    thresholds, uncertainty = report.thresholds, report.uncertainty

    def interval(bounds: tuple[float, float] | None) -> tuple[float | None, float | None]:
        return bounds if bounds is not None else (None, None)

    items = [
        charts.Interval(
            "EPIC to training reward",
            cast(BaseModel, report.metrics).model_dump()["epic"],
            *interval(uncertainty.epic if uncertainty else None),
            threshold=thresholds.far_epic if thresholds else None,
        ),
        charts.Interval(
            "training return (normalised)",
            report.returns.normalized_under_training,
            *interval(uncertainty.normalized_under_training if uncertainty else None),
            threshold=thresholds.achieves_training_return if thresholds else None,
        ),
        charts.Interval(
            "inferred-utility return (norm.)",
            report.returns.normalized_under_inferred,
            *interval(uncertainty.normalized_under_inferred if uncertainty else None),
        ),
    ]
    return charts.intervals(
        items,
        title="Distances and returns with uncertainty intervals",
        axis="EPIC: 0 = same goal, 1 = opposite · return: 0 = random, 1 = optimal (unitless)",
    )


@dataclass(frozen=True)
class Curve:
    """The training curve chart and a sentence saying which logged quantity met its threshold."""

    chart: Markup
    note: str


def curve_chart(curve: Sequence[Mapping[str, float]], params: Mapping[str, Any]) -> Curve:
    """The IRL training curve: each logged quantity per iteration with its stopping threshold,
    the one that met its threshold (the one the log's "converged" refers to) first."""
    keys = [k for k in curve[0] if k != "iteration"] if curve else []
    thresholds = {k: _threshold(params, k) for k in keys}
    last = curve[-1] if curve else {}
    met = [k for k in keys if last.get(k, math.inf) <= (thresholds[k] or -math.inf)]
    keys.sort(key=lambda k: k not in met)
    series = [
        charts.Line(
            CURVE_LABELS.get(k, k),
            [(float(p.get("iteration", i)), float(p[k])) for i, p in enumerate(curve) if k in p],
            threshold=thresholds[k],
        )
        for k in keys
    ]
    chart = charts.lines(
        series,
        title="IRL training curve",
        x_label="iteration (count)",
        y_label="logged value (units in the legend)",
    )
    return Curve(chart, _curve_note(met, thresholds, last))


def _threshold(params: Mapping[str, Any], key: str) -> float | None:
    value = params.get(STOP_PARAMS.get(key, ""))
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _curve_note(
    met: Sequence[str], thresholds: Mapping[str, float | None], last: Mapping[str, float]
) -> str:
    """Which quantity ended the fit, in words."""
    iteration = int(last.get("iteration", 0))
    if met:
        said = " and ".join(
            f"{CURVE_LABELS.get(k, k).split(' (')[0]} fell to ≤ {thresholds[k]:g} "
            f"({STOP_PARAMS[k]})"
            for k in met
        )
        return f"Converged at iteration {iteration}: the {said}. Either criterion ends the fit."
    if any(t is not None for t in thresholds.values()):
        return f"Stopped at iteration {iteration} before any quantity reached its threshold."
    return f"{iteration} iterations logged."


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


@router.get("/inferences/{inference_id}", response_class=HTMLResponse)
def inference_detail(
    request: Request, inference_id: str, auth: DashboardKey, uow: UowDep, settings: SettingsDep
) -> Response:
    """One inference: verdict, utility against the training reward, distances, curve, log."""
    detail = inference_page(uow.session, auth.principal.project_id, inference_id, settings)
    return page(
        request,
        "inference.html",
        auth=auth,
        session=uow.session,
        p=detail,
        live_statuses=LIVE_STATUSES,
    )


# --- actions -----------------------------------------------------------------------------


@router.get("/inferences/{inference_id}/reward.safetensors")
def reward_weights(inference_id: str, auth: DashboardKey, uow: UowDep) -> Response:
    """A network reward's weights, for the page's download link (the session's project only)."""
    data = inferences.reward_weights(uow.session, auth.principal.project_id, inference_id[:40])
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{inference_id[:40]}.safetensors"'},
    )


@router.post("/inferences/{inference_id}/cancel")
def cancel(
    inference_id: str, auth: DashboardKey, uow: UowDep, csrf_token: CsrfField = None
) -> Response:
    """Cancel a queued or running inference."""
    require_csrf(auth, csrf_token)
    inferences.cancel(uow.session, auth.principal.project_id, inference_id)
    return see_other(f"/inferences/{inference_id}")


@router.post("/inferences/{inference_id}/delete")
def delete(
    inference_id: str, auth: DashboardKey, uow: UowDep, csrf_token: CsrfField = None
) -> Response:
    """Delete an inference and its results."""
    require_csrf(auth, csrf_token)
    inferences.delete(uow.session, auth.principal.project_id, inference_id)
    return see_other("/")


@router.post("/inferences/{inference_id}/rerun")
def rerun(
    request: Request,
    inference_id: str,
    auth: DashboardKey,
    uow: UowDep,
    settings: SettingsDep,
    algorithm: Annotated[str, Form(max_length=40)],
    reward_model: Annotated[str, Form(max_length=40)],
    seed: Annotated[int, Form()],
    n_seeds: Annotated[int, Form()] = 1,
    csrf_token: CsrfField = None,
) -> Response:
    """Run the same rollouts again with another algorithm, reward model, seed or number of
    independent fits."""
    require_csrf(auth, csrf_token)
    row = inferences.get_row(uow.session, auth.principal.project_id, inference_id)
    body = create_body(row.rollouts_id, algorithm, reward_model, seed, dict(row.params), n_seeds)
    new = inferences.submit(
        uow, auth.principal.project_id, body, settings, request.app.state.enqueue
    )
    return see_other(f"/inferences/{new.id}")
