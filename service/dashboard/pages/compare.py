"""Several inferences side by side, and the distances between their inferred utilities."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from irl.errors import Problem
from service.auth.dependencies import DashboardKey
from service.comparisons import service as comparisons
from service.comparisons.schemas import ComparisonCreate, RolloutsCoverage
from service.core.deps import SettingsDep, UowDep
from service.core.errors import DomainError, UnprocessableError
from service.core.models import Inference, RolloutSet
from service.core.settings import Settings
from service.dashboard import charts
from service.dashboard.base import page, page_router
from service.dashboard.views import EnvView, env_view, grid_values, heatmap_for, value_range
from service.inferences import repository as inferences_repository
from service.inferences import service as inferences
from service.inferences.schemas import DivergencePublic
from service.rollouts import repository as rollouts_repository

MAX_COMPARED = 6
SAME = "—"
"""The matrix diagonal: an inference against itself is not a comparison."""

router = page_router()


@dataclass
class Compared:
    """One inference in the compare view."""

    row: Inference
    rollouts: RolloutSet
    reward: dict[str, Any] | None
    report: DivergencePublic | None
    env: EnvView | None = None
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
    rewards = inferences_repository.rewards_for(session, ids)
    for inference_id in ids:
        row = inferences.get_row(session, project_id, inference_id)
        ro = rollouts_repository.get(session, project_id, row.rollouts_id)
        assert ro is not None
        reward = rewards.get(row.id)
        item = Compared(row, ro, reward, inferences.training_report(session, row.id))
        if reward is not None:
            item.env = env_view(session, project_id, ro, settings)
        items.append(item)
    _draw_heatmaps(items)
    return ComparePage(
        items, _compare_weights(items), _pairwise(session, project_id, items, settings)
    )


def _draw_heatmaps(items: Sequence[Compared]) -> None:
    """Each utility on its grid, divided by its largest |value|, all on one colour scale."""
    values = [grid_values(i.env, i.reward, normalise=True) if i.env else None for i in items]
    scale = value_range(values)
    for n, item in enumerate(items, start=1):
        if item.env is not None:
            title = f"{n}. inferred utility: {item.rollouts.name}"
            item.heatmap = heatmap_for(item.env, item.reward, title, scale=scale, normalise=True)


def feature_order(items: Sequence[Compared]) -> list[str]:
    """Features as the inference page orders them (the environment's order), then any others."""
    names: list[str] = []
    for item in items:
        if item.env is not None and item.env.mdp is not None:
            names += [f for f in item.env.mdp.feature_names if f not in names]
    weights = {f for i in items for f in (i.reward or {}).get("weights", {})}
    return [f for f in names if f in weights] + sorted(weights - set(names))


def _compare_weights(items: Sequence[Compared]) -> Markup | None:
    linear = [i for i in items if i.reward and i.reward.get("kind") == "linear"]
    if len(linear) < 2:
        return None
    features = feature_order(linear)
    series = [
        charts.Series(
            f"{n + 1}. {i.rollouts.name}"[:40], charts.OKABE_ITO[n % 7], (i.reward or {})["weights"]
        )
        for n, i in enumerate(linear)
    ]
    return charts.weight_bars(series, features, title="Inferred feature weights")


def _comparison(a: Compared, b: Compared) -> ComparisonCreate:
    """EPIC of a's and b's utilities in a's environment (over a's rollouts for networks)."""
    network = (a.reward or {}).get("kind") == "network"
    return ComparisonCreate(
        environment={"id": a.row.environment_id},
        a={"kind": "inference", "id": a.row.id},
        b={"kind": "inference", "id": b.row.id},
        coverage=RolloutsCoverage(rollouts_id=a.row.rollouts_id) if network else "transitions",
    )


def _pairwise(
    session: Session, project_id: str, items: Sequence[Compared], settings: Settings
) -> list[list[str]]:
    """EPIC between every pair of inferred utilities, in the row one's environment.

    EPIC is symmetric, so each distance is computed once: (b, a) reuses (a, b) when both are
    measured in the same environment over the same coverage.
    """
    done: dict[tuple[Any, ...], str] = {}
    table = []
    for a in items:
        cells = []
        for b in items:
            if a.row.id == b.row.id:
                cells.append(SAME)
                continue
            if a.reward is None or b.reward is None:
                cells.append("not finished")
                continue
            body = _comparison(a, b)
            key = (frozenset((a.row.id, b.row.id)), a.row.environment_id, str(body.coverage))
            if key not in done:
                done[key] = _epic(session, project_id, body, settings)
            cells.append(done[key])
        table.append(cells)
    return table


def _epic(session: Session, project_id: str, body: ComparisonCreate, settings: Settings) -> str:
    """One EPIC distance, formatted for the table."""
    try:
        epic = comparisons.compare(session, project_id, body, settings, only=("epic",))["epic"]
    except DomainError:
        return "not comparable"
    return "undefined" if epic is None or math.isnan(epic) else f"{epic:.3f}"


@router.get("/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    auth: DashboardKey,
    uow: UowDep,
    settings: SettingsDep,
    ids: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Two or more inferences side by side, with the distances between their utilities."""
    chosen = list(dict.fromkeys(i[:40] for i in ids or []))
    if not 2 <= len(chosen) <= MAX_COMPARED:
        raise UnprocessableError(
            f"choose between 2 and {MAX_COMPARED} inferences to compare",
            errors=[Problem("ids", f"{len(chosen)} given")],
        )
    detail = compare_page(uow.session, auth.principal.project_id, chosen, settings)
    return page(request, "compare.html", auth=auth, session=uow.session, p=detail)
