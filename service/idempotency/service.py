"""Idempotent writes (the IETF Idempotency-Key draft, as Stripe's API has it): the first
response to a key is stored with the rows it created, in the same transaction; a retry with
the same key and request gets that response again, a different request with the key a 422."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, BinaryIO

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from irl.errors import Problem
from service.auth.service import Principal
from service.core.errors import ConflictError, UnprocessableError
from service.core.models import utcnow
from service.idempotency import repository

KEY_LIFETIME = timedelta(hours=24)
"""How long a key's response is kept; a retry after that is a new request."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,255}$",
        description=(
            "Makes the write safe to retry: a repeat with the same key and body gets the first "
            "response (status and body) and stores nothing twice; the same key with a different "
            "body is a 422. Keys are scoped to the API key and kept for 24 hours. "
            "1-255 printable ASCII characters, e.g. a UUID."
        ),
    ),
]


@dataclass(frozen=True)
class IdempotentRequest:
    """A write sent with an Idempotency-Key: who sent it, the key, and what was asked."""

    principal: Principal
    key: str
    operation: str
    request_hash: str


def request_of(
    principal: Principal,
    key: str | None,
    operation: str,
    parts: Callable[[], Iterable[bytes | str]],
) -> IdempotentRequest | None:
    """The idempotent request, or None when no key was sent (`parts()`, what identifies the
    request's content, are only computed and hashed when there is a key)."""
    if key is None:
        return None
    digest = hashlib.sha256()
    for part in parts():
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return IdempotentRequest(principal, key, operation, digest.hexdigest())


def file_digest(file: BinaryIO) -> bytes:
    """SHA-256 of an uploaded file's content (read in blocks, then rewound)."""
    file.seek(0)
    digest = hashlib.file_digest(file, "sha256").digest()  # type: ignore[arg-type]
    file.seek(0)
    return digest


def respond(
    session: Session,
    request: IdempotentRequest | None,
    status_code: int,
    produce: Callable[[], BaseModel],
) -> BaseModel | JSONResponse:
    """`produce()` and remember its response under the request's key; or, for a key already
    used, the stored response (same request) or a 422 (different request)."""
    if request is None:
        return produce()
    now = utcnow()
    record = repository.get(session, request.principal.key_id, request.key, now)
    if record is not None:
        if (record.operation, record.request_hash) != (request.operation, request.request_hash):
            raise UnprocessableError(
                "Idempotency-Key was already used for a different request",
                errors=[
                    Problem(
                        "Idempotency-Key",
                        f"already used for a different request ({record.operation}); "
                        "send a new key for a new request",
                    )
                ],
            )
        return JSONResponse(record.response, status_code=record.status_code)
    response = produce()
    stored = repository.add(
        session,
        now,
        api_key_id=request.principal.key_id,
        key=request.key,
        project_id=request.principal.project_id,
        operation=request.operation,
        request_hash=request.request_hash,
        status_code=status_code,
        response=response.model_dump(mode="json"),
        expires_at=now + KEY_LIFETIME,
    )
    if not stored:
        raise ConflictError(
            "another request with this Idempotency-Key is being processed; retry it shortly"
        )
    return response
