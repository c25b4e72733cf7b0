"""HTTP routes for environments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from service.auth.dependencies import CurrentKey
from service.core.deps import SettingsDep, UowDep
from service.core.documents import EnvironmentDocument
from service.core.errors import API_PROBLEMS, links, problem_responses
from service.core.pagination import CursorQuery, LimitQuery, page_of
from service.core.types import IdPath
from service.environments import repository, service
from service.environments.schemas import ENVIRONMENT_DESCRIPTION, EnvironmentList, EnvironmentPublic

router = APIRouter(
    prefix="/v1/environments", tags=["environments"], responses=problem_responses(*API_PROBLEMS)
)


@router.post(
    "",
    status_code=201,
    response_model=EnvironmentPublic,
    responses={
        **problem_responses(400, 413),
        **links(201, "environment_id", "environments-get_environment"),
    },
)
def create_environment(
    spec: Annotated[EnvironmentDocument, Body(description=ENVIRONMENT_DESCRIPTION)],
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
) -> EnvironmentPublic:
    """Validate and store an environment spec."""
    model = service.parse(spec, settings)
    row = service.create(uow.session, key.project_id, model)
    return service.to_public(row)


@router.get("", response_model=EnvironmentList)
def list_environments(
    key: CurrentKey, uow: UowDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> dict[str, Any]:
    """The project's environments, newest first."""
    rows = repository.list_page(uow.session, key.project_id, cursor=cursor, limit=limit)
    return page_of(rows, limit, service.to_public)


@router.get("/{environment_id}", response_model=EnvironmentPublic, responses=problem_responses(404))
def get_environment(
    environment_id: IdPath,
    key: CurrentKey,
    uow: UowDep,
    include: Annotated[
        Literal["spec"] | None, Query(description="`spec` adds the full spec.")
    ] = None,
) -> EnvironmentPublic:
    """One environment."""
    row = service.get_row(uow.session, key.project_id, environment_id, with_spec=include == "spec")
    return service.to_public(row, include_spec=include == "spec")
