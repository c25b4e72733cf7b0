"""HTTP routes for API keys: admins list and revoke their own project's keys."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from service.auth import service
from service.auth.dependencies import AdminKey
from service.auth.schemas import KeyList, KeyPublic
from service.core.deps import UowDep
from service.core.errors import API_PROBLEMS, NotFoundError, problem_responses
from service.core.types import IdPath

router = APIRouter(
    prefix="/v1/keys", tags=["keys"], responses=problem_responses(*API_PROBLEMS, 403)
)


@router.get("", response_model=KeyList)
def list_keys(key: AdminKey, uow: UowDep) -> KeyList:
    """The keys of the caller's project (metadata only; secrets are never shown again)."""
    infos = service.list_keys(uow.session, key.project_id)
    return KeyList(items=[KeyPublic(**asdict(info)) for info in infos])


@router.delete("/{key_id}", status_code=204, responses=problem_responses(404))
def revoke_key(key_id: IdPath, key: AdminKey, uow: UowDep) -> Response:
    """Revoke a key of the caller's project; its dashboard sessions end at once."""
    if not service.revoke_key(uow.session, key_id, key.project_id):
        raise NotFoundError(f"no key {key_id} in this project")
    return Response(status_code=204)
