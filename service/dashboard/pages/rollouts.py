"""Rollout sets: the list, one set's page (statistics, charts, inferences), starting inferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from service.auth.dependencies import DashboardKey
from service.core.deps import SettingsDep, UowDep
from service.core.models import RolloutSet
from service.core.pagination import next_cursor
from service.core.settings import Settings
from service.dashboard import charts, repository
from service.dashboard.base import (
    PAGE_SIZE,
    CsrfField,
    CursorText,
    create_body,
    list_row,
    page,
    page_router,
    require_csrf,
    see_other,
)
from service.dashboard.views import EnvView, env_view, heatmap_for, visits_heatmap
from service.inferences import service as inferences
from service.rollouts import service as rollouts
from service.rollouts.summary import RolloutSummary

router = page_router()


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
    """The rollout set page's contents, drawn from the set's stored summary."""
    row = rollouts.get_row(session, project_id, rollouts_id)
    env = env_view(session, project_id, row, settings)
    drawn: dict[str, Markup] = {}
    visits = visits_heatmap(env)
    if visits is not None:
        drawn["visits"] = visits
    training = heatmap_for(env, row.training_reward, "Training reward per cell", overlay=False)
    if training is not None:
        drawn["training"] = training
    drawn["lengths"] = lengths_chart(env.summary)
    rows = repository.inferences_of_rollouts(session, project_id, row.id)
    return RolloutsPage(row, env, drawn, [list_row(r) for r in rows])


def lengths_chart(summary: RolloutSummary) -> Markup:
    """How many trajectories have each length, in whole-number bins."""
    counts = {int(length): int(n) for length, n in summary.length_counts.items()}
    return charts.histogram(
        charts.integer_bins(counts),
        title="Trajectory lengths",
        label="trajectories",
        colour=charts.OKABE_ITO[0],
        x_label="length (steps)",
        y_label="trajectories (count)",
    )


@router.get("/rollouts", response_class=HTMLResponse)
def rollouts_list(
    request: Request, auth: DashboardKey, uow: UowDep, cursor: CursorText = None
) -> Response:
    """Rollout sets, newest first."""
    rows = repository.rollouts_page(uow.session, auth.principal.project_id, cursor, PAGE_SIZE)
    after = next_cursor(rows, PAGE_SIZE, repository.ROLLOUTS_ORDER)
    next_url = f"/rollouts?{urlencode({'cursor': after})}" if after else None
    return page(
        request,
        "rollouts.html",
        auth=auth,
        session=uow.session,
        rows=rows[:PAGE_SIZE],
        next_url=next_url,
    )


@router.get("/rollouts/{rollouts_id}", response_class=HTMLResponse)
def rollouts_detail(
    request: Request, rollouts_id: str, auth: DashboardKey, uow: UowDep, settings: SettingsDep
) -> Response:
    """A rollout set: statistics, returns, its environment, and its inferences."""
    detail = rollouts_page(uow.session, auth.principal.project_id, rollouts_id, settings)
    return page(
        request,
        "rollout.html",
        auth=auth,
        session=uow.session,
        p=detail,
    )


@router.post("/rollouts/{rollouts_id}/infer")
def infer(
    request: Request,
    rollouts_id: str,
    auth: DashboardKey,
    uow: UowDep,
    settings: SettingsDep,
    algorithm: Annotated[str, Form(max_length=40)],
    reward_model: Annotated[str, Form(max_length=40)],
    seed: Annotated[int, Form()] = 0,
    n_seeds: Annotated[int, Form()] = 1,
    csrf_token: CsrfField = None,
) -> Response:
    """Start an inference on this rollout set."""
    require_csrf(auth, csrf_token)
    body = create_body(rollouts_id, algorithm, reward_model, seed, {}, n_seeds)
    row = inferences.submit(
        uow, auth.principal.project_id, body, settings, request.app.state.enqueue
    )
    return see_other(f"/inferences/{row.id}")
