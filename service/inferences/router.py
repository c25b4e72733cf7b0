"""HTTP routes for inference jobs and their divergence reports."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.auth.dependencies import CurrentKey
from service.core.deps import SettingsDep, UowDep
from service.core.errors import API_PROBLEMS, links, problem_responses
from service.core.pagination import CursorQuery, LimitQuery
from service.core.types import IdPath, IdQuery
from service.idempotency import service as idempotency
from service.idempotency.service import IdempotencyKey
from service.inferences import repository, service
from service.inferences.schemas import (
    DivergencePublic,
    DivergenceRequest,
    GoalsPublic,
    GoalsRequest,
    InferenceCreate,
    InferenceDetail,
    InferenceList,
    InferencePublic,
    Status,
    Verdict,
)
from service.rollouts.router import TagQuery, parse_tag

router = APIRouter(
    prefix="/v1/inferences", tags=["inferences"], responses=problem_responses(*API_PROBLEMS)
)


def _detail(uow: UowDep, row: Any, *, curve: bool = False) -> InferenceDetail:
    reward = repository.rewards_for(uow.session, [row.id]).get(row.id)
    return service.to_detail(row, reward, curve=curve)


@router.post(
    "",
    status_code=202,
    response_model=InferencePublic,
    responses={
        **problem_responses(400, 409, 413),
        **links(
            202,
            "inference_id",
            "inferences-get_inference",
            "inferences-cancel_inference",
            "inferences-delete_inference",
            "inferences-get_reward",
            "inferences-get_reward_weights",
            "inferences-get_divergence",
            "inferences-post_divergence",
            "inferences-post_goals",
        ),
    },
)
def create_inference(
    body: InferenceCreate,
    key: CurrentKey,
    uow: UowDep,
    request: Request,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> BaseModel | JSONResponse:
    """Queue an IRL job; poll `GET /v1/inferences/{id}` for its status and progress. Submitting
    seals the rollout set: the job runs on exactly the chunks it holds now."""
    idempotent = idempotency.request_of(
        key, idempotency_key, "POST /v1/inferences", lambda: [body.model_dump_json()]
    )
    return idempotency.respond(
        uow.session,
        idempotent,
        202,
        lambda: service.to_public(
            service.submit(uow, key.project_id, body, settings, request.app.state.enqueue)
        ),
    )


@router.get("", response_model=InferenceList)
async def list_inferences(
    request: Request,
    key: CurrentKey,
    settings: SettingsDep,
    status: Status | None = None,
    algorithm: Annotated[str | None, Query(pattern=r"^[a-z_]{1,30}$")] = None,
    verdict: Verdict | None = None,
    environment_id: IdQuery = None,
    rollouts_id: IdQuery = None,
    tag: TagQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    """The project's inferences, newest first, with filters."""
    filters = {
        "status": status,
        "algorithm": algorithm,
        "verdict": verdict,
        "environment_id": environment_id,
        "rollouts_id": rollouts_id,
    }
    # The body is rendered once per generation of the inferences (service.list_json) and sent
    # as is; one thread hand-off, no response validation.
    page = await anyio.to_thread.run_sync(
        functools.partial(
            service.list_json,
            settings,
            request.app.state.inference_pages,
            key.project_id,
            filters=filters,
            tag=parse_tag(tag),
            cursor=cursor,
            limit=limit,
        )
    )
    return Response(page.body, media_type="application/json", headers={"ETag": page.etag})


@router.get("/{inference_id}", response_model=InferenceDetail, responses=problem_responses(404))
def get_inference(
    inference_id: IdPath,
    key: CurrentKey,
    uow: UowDep,
    curve: Annotated[
        bool, Query(description="Include the training curve (long; polling does not need it).")
    ] = False,
) -> InferenceDetail:
    """One inference: status, progress, its log, and once succeeded its reward and verdict."""
    row = service.get_row(uow.session, key.project_id, inference_id)
    return _detail(uow, row, curve=curve)


@router.post(
    "/{inference_id}/cancel",
    status_code=202,
    response_model=InferenceDetail,
    responses=problem_responses(404, 409),
)
def cancel_inference(inference_id: IdPath, key: CurrentKey, uow: UowDep) -> InferenceDetail:
    """Cancel a queued job, or stop a running one between training iterations."""
    return _detail(uow, service.cancel(uow.session, key.project_id, inference_id))


@router.delete("/{inference_id}", status_code=204, responses=problem_responses(404))
def delete_inference(inference_id: IdPath, key: CurrentKey, uow: UowDep) -> Response:
    """Delete an inference and its results."""
    service.delete(uow.session, key.project_id, inference_id)
    return Response(status_code=204)


@router.get("/{inference_id}/reward", responses=problem_responses(404, 409))
def get_reward(inference_id: IdPath, key: CurrentKey, uow: UowDep) -> dict[str, Any]:
    """The inferred reward as a reward spec (tabular, linear), or a network's config with the
    URL of its safetensors weights."""
    return service.reward_spec(uow.session, key.project_id, inference_id)


@router.get(
    "/{inference_id}/reward/weights",
    response_class=Response,
    responses={
        **problem_responses(404, 409),
        200: {"content": {"application/octet-stream": {}}, "description": "safetensors"},
    },
)
def get_reward_weights(inference_id: IdPath, key: CurrentKey, uow: UowDep) -> Response:
    """A network reward's weights: a safetensors state dict (load with `safetensors`, never
    pickle); its architecture is the `config` of GET /reward."""
    data = service.reward_weights(uow.session, key.project_id, inference_id)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{inference_id}.safetensors"'},
    )


@router.get(
    "/{inference_id}/divergence",
    response_model=DivergencePublic,
    responses=problem_responses(404, 409),
)
def get_divergence(
    inference_id: IdPath,
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
    against: Annotated[
        Literal["training", "observed", "environment"], Query(description="The reference reward.")
    ] = "training",
) -> dict[str, Any]:
    """The inferred utility against a reference reward: distances, returns and the verdict."""
    return service.divergence(uow.session, key.project_id, inference_id, against, settings)


@router.post(
    "/{inference_id}/divergence",
    response_model=DivergencePublic,
    responses=problem_responses(400, 404, 409, 413),
)
def post_divergence(
    inference_id: IdPath,
    body: DivergenceRequest,
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """The inferred utility against any reward spec (not stored)."""
    row = service.get_row(uow.session, key.project_id, inference_id)
    return service.custom_divergence(
        uow.session,
        key.project_id,
        row,
        body.against,
        settings,
        loc="against",
        goals=body.goals,
        feature_goals=body.feature_goals,
    )


@router.post(
    "/{inference_id}/goals",
    response_model=GoalsPublic,
    responses=problem_responses(400, 404, 409, 413),
)
def post_goals(
    inference_id: IdPath,
    body: GoalsRequest,
    key: CurrentKey,
    uow: UowDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Which named goal does the behaviour pursue? Posterior over the candidates (the reference,
    each single feature, the request's `goals`), computed now (tabular environments; not
    stored)."""
    return service.goals(uow.session, key.project_id, inference_id, body, settings)
