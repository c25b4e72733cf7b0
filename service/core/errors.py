"""Domain errors and their RFC 9457 problem-details responses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from irl.errors import InvalidInputError, Problem
from service.core.db import Saturated

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemItem(BaseModel):
    """One thing wrong with a request: where (`loc`) and what (`msg`)."""

    loc: str
    msg: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem-details body."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = None
    request_id: str | None = None


class DomainError(Exception):
    """An error that maps to one HTTP status; subclasses name the status."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, *, errors: Sequence[Problem] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)


class NotFoundError(DomainError):
    """The resource does not exist, or belongs to another project."""

    status, title = 404, "Not found"


class ConflictError(DomainError):
    """The resource is not in a state that allows the request."""

    status, title = 409, "Conflict"


class UnprocessableError(DomainError):
    """The request is well-formed but its content cannot be used."""

    status, title = 422, "Unprocessable content"


class UnauthorizedError(DomainError):
    """No valid API key was presented."""

    status, title = 401, "Unauthorized"


class ForbiddenError(DomainError):
    """The key is valid but may not do this (e.g. an admin-only operation)."""

    status, title = 403, "Forbidden"


class ServiceUnavailableError(DomainError):
    """The service is saturated for a moment; the client should retry after `Retry-After`."""

    status, title = 503, "Service unavailable"


def invalid_input(exc: InvalidInputError) -> UnprocessableError:
    """Turn the science library's validation error into a 422 domain error."""
    return UnprocessableError(str(exc), errors=exc.problems)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Problem] = (),
    request_id: str | None = None,
    retry_after: int | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem-details JSON response (503s say when to retry)."""
    body = ProblemDetails(
        title=title or TITLES.get(status, HTTPStatus(status).phrase),
        status=status,
        detail=detail,
        errors=[ProblemItem(loc=p.loc, msg=p.msg) for p in errors] or None,
        request_id=request_id,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    headers.update(extra_headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


TITLES = {422: "Unprocessable content"}
"""Titles that differ from Python's phrase (RFC 9110 renamed 422), so every 422 reads alike."""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem-details bodies for these statuses."""
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            **({"headers": PROBLEM_HEADERS[status]} if status in PROBLEM_HEADERS else {}),
        }
        for status in statuses
    }


PROBLEM_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
"""Headers `problem_response` always sends with these statuses."""


def links(status: int, param: str, *operation_ids: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI `responses=` entry linking the `id` of the resource a response returns to the
    operations that take it as `param` (clients and schemathesis' stateful runs follow them)."""
    return {
        status: {
            "links": {
                operation_id.partition("-")[2]: {
                    "operationId": operation_id,
                    "parameters": {param: "$response.body#/id"},
                }
                for operation_id in operation_ids
            }
        }
    }


API_PROBLEMS = (401, 422, 503)
"""What any /v1 operation can answer besides its own outcomes: 401 from the auth gate, 422 for
invalid input, 503 with `Retry-After` when the service is saturated (admission control, pool or
database lock). Operations with a body add 400 (a body that cannot be parsed: malformed JSON or
multipart) and 413 (over the size limit)."""


BUSY_SQLSTATES = frozenset({"53300", "53400", "57P03"})
"""PostgreSQL refusing a connection for capacity: too_many_connections,
configuration_limit_exceeded, cannot_connect_now (starting up or shutting down)."""


def is_saturation(exc: BaseException) -> bool:
    """Whether an error means "busy, try again": no pooled connection or SQLite write slot in
    time, SQLite's `database is locked`, or PostgreSQL refusing a new connection for capacity
    (the service's fault of capacity, not the client's)."""
    if isinstance(exc, Saturated | PoolTimeoutError | ServiceUnavailableError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    return (
        "database is locked" in str(exc.orig)
        or getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES
    )


def saturated_response(retry_after: int, request_id: str | None = None) -> JSONResponse:
    """The quick 503 a saturated API answers instead of making the client wait."""
    return problem_response(
        503,
        "the service is busy; retry after the number of seconds in Retry-After",
        retry_after=retry_after,
        request_id=request_id,
    )


def internal_error_response(request_id: str) -> JSONResponse:
    """The 500 for anything unexpected: no internals, a request id to find the log line."""
    return problem_response(
        500,
        f"unexpected server error; quote request id {request_id} when reporting it",
        request_id=request_id,
    )


def _loc_string(loc: Sequence[Any]) -> str:
    """Render pydantic's location tuple as `trajectories[3].acts`."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or str(loc[0] if loc else "body")


def _problem(err: dict[str, Any]) -> Problem:
    """One FastAPI validation error as a problem item (JSON syntax errors point at the body)."""
    if err.get("type") == "json_invalid":
        position = err.get("loc", ("body", "?"))[-1]
        reason = (err.get("ctx") or {}).get("error", "malformed JSON")
        return Problem("body", f"invalid JSON at character {position}: {reason}")
    return Problem(_loc_string(err.get("loc", ())), str(err.get("msg", "")))


def _validation_problems(exc: RequestValidationError) -> list[Problem]:
    """Flatten FastAPI's validation errors into problem items."""
    return [_problem(err) for err in exc.errors()]


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the app's routes with the path template the request's path matches first
    (`/v1/rollouts/bulk` is POST only, though `/v1/rollouts/{rollouts_id}` also matches it)."""
    methods: set[str] = set()
    template = None
    for route in _flat(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL and template in (None, getattr(route, "path", None)):
            template = getattr(route, "path", None)
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _flat(routes: Sequence[Any]) -> Iterator[BaseRoute]:
    """Routes, with included routers' routes in place of the routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else [route]


def _not_json(request: Request) -> bool:
    """Whether a request with a body did not say it is JSON (e.g. `curl -d` alone)."""
    content_type = request.headers.get("content-type", "")
    return request.method in ("POST", "PUT", "PATCH") and "json" not in content_type


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app returns a problem-details response."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        retry_after = 1 if exc.status == 503 else None
        return problem_response(
            exc.status, exc.detail, title=exc.title, errors=exc.errors, retry_after=retry_after
        )

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        error = invalid_input(exc)
        return problem_response(error.status, error.detail, title=error.title, errors=error.errors)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _validation_problems(exc)
        if _not_json(request) and any(p.loc == "body" for p in problems):
            problems = [
                Problem("body", "send the body as JSON, with `Content-Type: application/json`")
            ]
        detail = "; ".join(f"{p.loc}: {p.msg}" for p in problems[:5])
        return problem_response(422, detail or "invalid request", errors=problems)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the validators let through: the client's input, not a
        # server fault (nothing was stored: the transaction rolled back).
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return problem_response(422, f"a value in the request cannot be stored: {reason}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method some route of this path takes
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(exc.status_code, str(exc.detail), extra_headers=headers)
