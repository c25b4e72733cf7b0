"""Domain errors and their RFC 9457 problem-details responses."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from irl.errors import InvalidInputError, Problem

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


def invalid_input(exc: InvalidInputError) -> UnprocessableError:
    """Turn the science library's validation error into a 422 domain error."""
    return UnprocessableError(str(exc), errors=exc.problems)


def problem_response(
    status: int, detail: str, *, title: str | None = None, errors: Sequence[Problem] = ()
) -> JSONResponse:
    """A problem-details JSON response."""
    body = ProblemDetails(
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=[ProblemItem(loc=p.loc, msg=p.msg) for p in errors] or None,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem-details bodies for these statuses."""
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


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


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app returns a problem-details response."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, title=exc.title, errors=exc.errors)

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        error = invalid_input(exc)
        return problem_response(error.status, error.detail, title=error.title, errors=error.errors)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _validation_problems(exc)
        detail = "; ".join(f"{p.loc}: {p.msg}" for p in problems[:5])
        return problem_response(422, detail or "invalid request", errors=problems)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the validators let through: the client's input, not a
        # server fault (nothing was stored: the transaction rolled back).
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return problem_response(422, f"a value in the request cannot be stored: {reason}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail))
