"""What every dashboard page shares: rendering, the route class (login redirects, error pages,
security headers), CSRF checks, form and query helpers, and the choices the forms offer."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from irl.algorithms import ALGORITHM_NAMES, DEEP_ALGORITHMS, REWARD_MODELS
from irl.divergence import DISTANCES
from irl.errors import Problem
from service.auth.dependencies import DashboardAuth, LoginRequired
from service.auth.service import check_csrf
from service.core.errors import DomainError, ForbiddenError, UnprocessableError
from service.core.types import Text as NulFreeText
from service.dashboard import repository
from service.inferences.schemas import InferenceCreate, Status, Verdict

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


STATUSES: tuple[str, ...] = get_args(Status)
VERDICTS: tuple[str, ...] = get_args(Verdict)
LIVE_STATUSES = ("queued", "running")

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def query(params: dict[str, Any], **changes: Any) -> str:
    """The list URL with some filter parameters changed (None drops one)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v}
    return f"/?{urlencode(merged)}" if merged else "/"


BACKTICKS = re.compile(r"`([^`\n]+)`")
SIGNED_ZERO = re.compile(r"(?<![\w.])-(0(?:\.0+)?)(?![\d.]*[1-9])")


def prose(text: str | None) -> Markup:
    """Report text as HTML: escaped, `names` in backticks as code, and no "-0" (as in -0%)."""
    escaped = str(escape(text or ""))
    escaped = SIGNED_ZERO.sub(r"\1", escaped)
    return Markup(BACKTICKS.sub(r"<code>\1</code>", escaped))


def number(value: Any, digits: int = 3) -> str:
    """A number with `digits` significant digits, "—" for None, never "-0"."""
    if value is None:
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def reward_text(spec: Mapping[str, Any] | None) -> str:
    """A reward spec in words: "linear: door 1, red −0.5" rather than its JSON."""
    if not spec:
        return "none given"
    kind = str(spec.get("kind", "reward"))
    if kind == "linear":
        weights = spec.get("weights") or {}
        parts = [f"{name} {number(w)}" for name, w in weights.items()]
        if spec.get("bias"):
            parts.append(f"bias {number(spec['bias'])}")
        return f"linear: {', '.join(parts) or 'all weights 0'}"
    if kind == "tabular":
        return f"tabular: {len(spec.get('values') or [])} state values"
    return kind


templates.globals["query"] = query
templates.filters["prose"] = prose
templates.filters["number"] = number
templates.filters["reward_text"] = reward_text
templates.globals["distances"] = DISTANCES
templates.globals["algorithms"] = ALGORITHM_NAMES
templates.globals["reward_models"] = REWARD_MODELS


class DashboardRoute(APIRoute):
    """Pages answer HTML: login redirects, error pages, and security headers on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = _login_required(request)
            except DomainError as exc:
                response = page(
                    request, "error.html", status_code=exc.status, title=exc.title, exc=exc
                )
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return route


def page_router() -> APIRouter:
    """A router for one page's routes (HTML answers, left out of the API schema)."""
    return APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _login_required(request: Request) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"detail": "log in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(
    request: Request,
    template: str,
    *,
    auth: DashboardAuth | None = None,
    session: Session | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a template with the common context (who is logged in, their project's name and
    CSRF token); `session` lets the header name the project."""
    project = None
    if auth is not None and session is not None:
        project = repository.project_name(session, auth.principal.project_id)
    html = templates.get_template(template).render(
        request=request, auth=auth, project=project, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status_code)


def require_csrf(auth: DashboardAuth, token: str | None) -> None:
    """403 unless the form carries this session's CSRF token."""
    if not check_csrf(auth.secret, auth.binding, token):
        raise ForbiddenError("the form's CSRF token is missing or not this session's; reload")


def see_other(url: str) -> RedirectResponse:
    """Redirect after a form post."""
    return RedirectResponse(url, status_code=303)


CsrfField = Annotated[str | None, Form(alias="csrf_token")]
Text = Annotated[NulFreeText | None, Query(max_length=200)]
CursorText = Annotated[str | None, Query(max_length=400)]


def create_body(
    rollouts_id: str,
    algorithm: str,
    reward_model: str,
    seed: int,
    params: dict[str, Any],
    n_seeds: int = 1,
) -> InferenceCreate:
    """The API's request body for a new inference, from a page's form (422 naming fields).

    The form's `n_seeds` (independent fits) is a parameter of the deep algorithms only: it is
    sent for them and dropped for tabular ones, which bootstrap instead."""
    params = {name: value for name, value in params.items() if name != "n_seeds"}
    if algorithm in DEEP_ALGORITHMS and n_seeds != 1:
        params["n_seeds"] = n_seeds
    try:
        return InferenceCreate(
            rollouts_id=rollouts_id,
            algorithm=algorithm,
            reward_model=reward_model,
            params=params,
            seed=seed,
        )
    except ValidationError as exc:
        problems = [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise UnprocessableError("invalid inference settings", errors=problems) from exc


def list_row(row: Any) -> dict[str, Any]:
    """One row of an inferences table (the list page, a rollout set's inferences)."""
    return {
        "id": row.id,
        "status": row.status,
        "progress": row.progress,
        "live": row.status in LIVE_STATUSES,
        "algorithm": row.algorithm,
        "reward_model": row.reward_model,
        "seed": row.seed,
        "verdict": row.verdict,
        "epic": row.epic,
        "created_at": row.created_at,
        "cancel_requested": row.cancel_requested,
        "rollouts_id": row.rollouts_id,
        "rollouts_name": row.rollouts_name,
        "split": row.split,
        "tags": dict(row.tags or {}),
        "environment_id": row.environment_id,
        "environment_name": row.environment_name,
    }
