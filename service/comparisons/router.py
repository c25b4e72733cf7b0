"""HTTP route for reward comparisons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.auth.dependencies import CurrentKey
from service.comparisons import service
from service.comparisons.schemas import ComparisonCreate, ComparisonPublic
from service.core.deps import SettingsDep, UowDep
from service.core.errors import API_PROBLEMS, problem_responses

router = APIRouter(
    prefix="/v1/comparisons",
    tags=["comparisons"],
    responses=problem_responses(*API_PROBLEMS, 400, 404, 413),
)


@router.post("", response_model=ComparisonPublic)
def create_comparison(
    body: ComparisonCreate, key: CurrentKey, uow: UowDep, settings: SettingsDep
) -> dict[str, Any]:
    """Shaping-invariant distances between two rewards, computed now (tabular environments)."""
    return service.compare(uow.session, key.project_id, body, settings)
