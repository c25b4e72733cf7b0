"""HTTP routes for rollout sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from irl.errors import Problem
from service.auth.dependencies import CurrentKey
from service.core.deps import SettingsDep, UowDep
from service.core.errors import API_PROBLEMS, UnprocessableError, links, problem_responses
from service.core.pagination import CursorQuery, LimitQuery, page_of
from service.core.types import IdPath, IdQuery, Text
from service.idempotency import service as idempotency
from service.idempotency.service import IdempotencyKey
from service.rollouts import repository, service
from service.rollouts.schemas import (
    RolloutsCreate,
    RolloutsList,
    RolloutsMetadata,
    RolloutsPublic,
)

BULK_UPLOAD_PATH = "/v1/rollouts/bulk"

router = APIRouter(
    prefix="/v1/rollouts", tags=["rollouts"], responses=problem_responses(*API_PROBLEMS)
)

TagQuery = Annotated[Text | None, Query(max_length=300, description="`key=value`")]


def parse_tag(tag: str | None) -> tuple[str, str] | None:
    """Split a `key=value` filter."""
    if tag is None:
        return None
    key, sep, value = tag.partition("=")
    if not sep or not key:
        raise UnprocessableError(
            "invalid tag filter", errors=[Problem("tag", "expected key=value")]
        )
    return key, value


ROLLOUTS_LINKS = links(
    201,
    "rollouts_id",
    "rollouts-get_rollouts",
    "rollouts-delete_rollouts",
    "rollouts-append_rollouts_chunk",
)
"""A created rollout set can be read, appended to and deleted."""


@router.post(
    "",
    status_code=201,
    response_model=RolloutsPublic,
    responses={**problem_responses(400, 409, 413), **ROLLOUTS_LINKS},
)
def create_rollouts(
    body: RolloutsCreate,
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> BaseModel | JSONResponse:
    """Upload trajectories; they are validated and stored whole, or not at all."""
    request = idempotency.request_of(
        key, idempotency_key, "POST /v1/rollouts", lambda: [body.model_dump_json()]
    )
    return idempotency.respond(
        uow.session,
        request,
        201,
        lambda: service.to_public(service.create(uow.session, key.project_id, body, settings)),
    )


@router.post(
    "/bulk",
    status_code=201,
    response_model=RolloutsPublic,
    responses={**problem_responses(400, 409, 413), **ROLLOUTS_LINKS},
)
def create_rollouts_bulk(
    metadata: Annotated[
        str, Form(description="RolloutsMetadata as JSON (name, environment, ...).")
    ],
    file: Annotated[UploadFile, File(description="A pickle-free .npz: obs, acts, lengths, ...")],
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> BaseModel | JSONResponse:
    """Upload trajectories as one binary archive (for large data); see docs/formats.md."""
    try:
        parsed = RolloutsMetadata.model_validate_json(metadata)
    except ValidationError as exc:
        raise UnprocessableError(
            "invalid metadata",
            errors=[Problem(f"metadata.{_loc(e['loc'])}", e["msg"]) for e in exc.errors()],
        ) from exc
    request = idempotency.request_of(
        key,
        idempotency_key,
        "POST /v1/rollouts/bulk",
        lambda: [metadata, idempotency.file_digest(file.file)],
    )
    return idempotency.respond(
        uow.session,
        request,
        201,
        lambda: service.to_public(
            service.create_bulk(uow.session, key.project_id, parsed, file.file, settings)
        ),
    )


@router.post(
    "/{rollouts_id}/chunks",
    response_model=RolloutsPublic,
    responses=problem_responses(400, 404, 409, 413),
)
def append_rollouts_chunk(
    rollouts_id: IdPath,
    file: Annotated[UploadFile, File(description="A pickle-free .npz, as for /bulk.")],
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> BaseModel | JSONResponse:
    """Add more trajectories to a rollout set (very large datasets arrive in chunks). A set is
    sealed when its first inference is submitted: appends after that, or racing it, get 409."""
    request = idempotency.request_of(
        key,
        idempotency_key,
        f"POST /v1/rollouts/{rollouts_id}/chunks",
        lambda: [idempotency.file_digest(file.file)],
    )
    return idempotency.respond(
        uow.session,
        request,
        200,
        lambda: service.to_public(
            service.append_chunk(uow.session, key.project_id, rollouts_id, file.file, settings)
        ),
    )


def is_bulk_upload(path: str) -> bool:
    """Whether a request path is a binary upload (which gets the larger size limit)."""
    return path == BULK_UPLOAD_PATH or (
        path.startswith("/v1/rollouts/") and path.endswith("/chunks")
    )


def _loc(parts: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in parts) or "metadata"


@router.get("", response_model=RolloutsList)
def list_rollouts(
    key: CurrentKey,
    uow: UowDep,
    environment_id: IdQuery = None,
    split: Annotated[Text | None, Query(max_length=50)] = None,
    tag: TagQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """The project's rollout sets, newest first."""
    rows = repository.list_page(
        uow.session,
        key.project_id,
        environment_id=environment_id,
        split=split,
        tag=parse_tag(tag),
        cursor=cursor,
        limit=limit,
    )
    return page_of(rows, limit, service.to_public)


@router.get("/{rollouts_id}", response_model=RolloutsPublic, responses=problem_responses(404))
def get_rollouts(rollouts_id: IdPath, key: CurrentKey, uow: UowDep) -> RolloutsPublic:
    """One rollout set."""
    return service.to_public(service.get_row(uow.session, key.project_id, rollouts_id))


@router.delete("/{rollouts_id}", status_code=204, responses=problem_responses(404, 409))
def delete_rollouts(rollouts_id: IdPath, key: CurrentKey, uow: UowDep) -> Response:
    """Delete a rollout set that no inference uses."""
    service.delete(uow.session, key.project_id, rollouts_id)
    return Response(status_code=204)
