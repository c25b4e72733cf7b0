"""Dashboard pages: thin routes over `service.dashboard.service`, rendered with Jinja2."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from irl.errors import Problem
from service.auth.dependencies import DashboardAuth, DashboardKey, LoginRequired
from service.auth.service import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    authenticate,
    check_csrf,
    session_secret,
    sign_session,
)
from service.core.deps import SettingsDep, UowDep
from service.core.errors import DomainError, UnprocessableError
from service.core.types import Text as NulFreeText
from service.dashboard import service
from service.dashboard.repository import SORTS, InferenceFilters
from service.inferences import service as inferences
from service.inferences.schemas import InferenceCreate
from service.rollouts.router import parse_tag

HERE = Path(__file__).resolve().parent
LOGIN_COOKIE = "mesascope_login"
PAGE_SIZE = 50
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

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


templates.globals["query"] = query


class ForbiddenError(DomainError):
    """A form arrived without this session's CSRF token."""

    status, title = 403, "Forbidden"


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


router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the dashboard pages and their static files from `app`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")


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
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a template with the common context (who is logged in, their CSRF token)."""
    html = templates.get_template(template).render(
        request=request, auth=auth, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status_code)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _require_csrf(auth: DashboardAuth, token: str | None) -> None:
    if not check_csrf(auth.secret, auth.binding, token):
        raise ForbiddenError("the form's CSRF token is missing or not this session's; reload")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


CsrfField = Annotated[str | None, Form(alias="csrf_token")]


# --- login -------------------------------------------------------------------------------


def _login_form(
    request: Request, next_url: str, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", status_code=status_code, token=token, next_url=next_url, error=error
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=900,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    """The login form: paste an API key."""
    return _login_form(request, _safe_next(next))


@router.post("/login")
def login(
    request: Request,
    settings: SettingsDep,
    uow: UowDep,
    key: Annotated[str, Form(max_length=200)],
    csrf_token: CsrfField = None,
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the key and set the HttpOnly, SameSite=Strict session cookie."""
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return _login_form(
            request, _safe_next(next), error="The form expired; try again.", status_code=403
        )
    principal = authenticate(uow.session, key.strip())
    if principal is None:
        return _login_form(
            request, _safe_next(next), error="Unknown or revoked API key.", status_code=401
        )
    response = _see_other(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        sign_session(session_secret(settings), principal.key_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(auth: DashboardKey, csrf_token: CsrfField = None) -> Response:
    """End the session."""
    _require_csrf(auth, csrf_token)
    response = _see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- inferences --------------------------------------------------------------------------


def _filters(
    status: str | None,
    verdict: str | None,
    algorithm: str | None,
    environment_id: str | None,
    tag: str | None,
    q: str | None,
    sort: str | None,
) -> InferenceFilters:
    """Validated list filters (422 naming the parameter)."""
    checks = (
        ("status", status, service.STATUSES),
        ("verdict", verdict, service.VERDICTS),
        ("algorithm", algorithm, service.ALGORITHMS),
        ("sort", sort, SORTS),
    )
    for name, value, allowed in checks:
        if value and value not in allowed:
            raise UnprocessableError(
                f"unknown {name} {value!r}",
                errors=[Problem(name, f"expected one of {', '.join(allowed)}")],
            )
    return InferenceFilters(
        status=status or None,
        verdict=verdict or None,
        algorithm=algorithm or None,
        environment_id=environment_id or None,
        tag=parse_tag(tag) if tag else None,
        q=(q or "").strip() or None,
        sort=sort or "newest",
    )


Text = Annotated[NulFreeText | None, Query(max_length=200)]


@router.get("/", response_class=HTMLResponse)
def inferences_list(
    request: Request,
    auth: DashboardKey,
    uow: UowDep,
    status: Text = None,
    verdict: Text = None,
    algorithm: Text = None,
    environment_id: Text = None,
    tag: Annotated[str | None, Query(max_length=300)] = None,
    q: Text = None,
    sort: Text = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Inferences, newest first, with filters, sorting and cursor pagination in the URL."""
    filters = _filters(status, verdict, algorithm, environment_id, tag, q, sort)
    listing = service.list_page(uow.session, auth.principal.project_id, filters, cursor, PAGE_SIZE)
    params = {
        k: v
        for k, v in {
            "status": status,
            "verdict": verdict,
            "algorithm": algorithm,
            "environment_id": environment_id,
            "tag": tag,
            "q": q,
            "sort": sort,
        }.items()
        if v
    }
    next_url = (
        f"/?{urlencode({**params, 'cursor': listing.next_cursor})}" if listing.next_cursor else None
    )
    return page(
        request,
        "inferences.html",
        auth=auth,
        listing=listing,
        params=params,
        next_url=next_url,
        first_url=f"/?{urlencode(params)}" if cursor else None,
        statuses=service.STATUSES,
        verdicts=service.VERDICTS,
        algorithms=service.ALGORITHMS,
        sorts=SORTS,
    )


@router.get("/live")
def live(
    auth: DashboardKey, uow: UowDep, ids: Annotated[str, Query(max_length=5000)] = ""
) -> JSONResponse:
    """Status and progress of the given inferences (polled by the pages every 2 s)."""
    wanted = [i for i in ids.split(",") if i][:200]
    return JSONResponse({"items": service.live(uow.session, auth.principal.project_id, wanted)})


@router.get("/inferences/{inference_id}", response_class=HTMLResponse)
def inference_detail(
    request: Request, inference_id: str, auth: DashboardKey, uow: UowDep, settings: SettingsDep
) -> Response:
    """One inference: verdict, utility against the training reward, distances, curve, log."""
    detail = service.inference_page(uow.session, auth.principal.project_id, inference_id, settings)
    return page(
        request,
        "inference.html",
        auth=auth,
        p=detail,
        algorithms=service.ALGORITHMS,
        reward_models=service.REWARD_MODELS,
        live_statuses=service.LIVE_STATUSES,
    )


@router.get("/inferences/{inference_id}/reward.safetensors")
def reward_weights(inference_id: str, auth: DashboardKey, uow: UowDep) -> Response:
    """A network reward's weights, for the page's download link (the session's project only)."""
    data = inferences.reward_weights(uow.session, auth.principal.project_id, inference_id[:40])
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{inference_id[:40]}.safetensors"'},
    )


@router.post("/inferences/{inference_id}/cancel")
def cancel(
    inference_id: str, auth: DashboardKey, uow: UowDep, csrf_token: CsrfField = None
) -> Response:
    """Cancel a queued or running inference."""
    _require_csrf(auth, csrf_token)
    inferences.cancel(uow.session, auth.principal.project_id, inference_id)
    return _see_other(f"/inferences/{inference_id}")


@router.post("/inferences/{inference_id}/delete")
def delete(
    inference_id: str, auth: DashboardKey, uow: UowDep, csrf_token: CsrfField = None
) -> Response:
    """Delete an inference and its results."""
    _require_csrf(auth, csrf_token)
    inferences.delete(uow.session, auth.principal.project_id, inference_id)
    return _see_other("/")


def _create_body(
    rollouts_id: str, algorithm: str, reward_model: str, seed: int, params: Any
) -> InferenceCreate:
    try:
        return InferenceCreate(
            rollouts_id=rollouts_id,
            algorithm=algorithm,  # type: ignore[arg-type]
            reward_model=reward_model,  # type: ignore[arg-type]
            params=params,
            seed=seed,
        )
    except ValidationError as exc:
        problems = [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        raise UnprocessableError("invalid inference settings", errors=problems) from exc


@router.post("/inferences/{inference_id}/rerun")
def rerun(
    request: Request,
    inference_id: str,
    auth: DashboardKey,
    uow: UowDep,
    settings: SettingsDep,
    algorithm: Annotated[str, Form(max_length=40)],
    reward_model: Annotated[str, Form(max_length=40)],
    seed: Annotated[int, Form()],
    csrf_token: CsrfField = None,
) -> Response:
    """Run the same rollouts again with another algorithm, reward model or seed."""
    _require_csrf(auth, csrf_token)
    row = inferences.get_row(uow.session, auth.principal.project_id, inference_id)
    body = _create_body(row.rollouts_id, algorithm, reward_model, seed, dict(row.params))
    new = service.start_inference(
        uow, auth.principal.project_id, body, settings, request.app.state.enqueue
    )
    return _see_other(f"/inferences/{new.id}")


# --- rollouts ----------------------------------------------------------------------------


@router.get("/rollouts", response_class=HTMLResponse)
def rollouts_list(
    request: Request,
    auth: DashboardKey,
    uow: UowDep,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Rollout sets, newest first."""
    rows, next_cursor = service.rollouts_list(
        uow.session, auth.principal.project_id, cursor, PAGE_SIZE
    )
    next_url = f"/rollouts?{urlencode({'cursor': next_cursor})}" if next_cursor else None
    return page(request, "rollouts.html", auth=auth, rows=rows, next_url=next_url)


@router.get("/rollouts/{rollouts_id}", response_class=HTMLResponse)
def rollouts_detail(
    request: Request, rollouts_id: str, auth: DashboardKey, uow: UowDep, settings: SettingsDep
) -> Response:
    """A rollout set: statistics, returns, its environment, and its inferences."""
    detail = service.rollouts_page(uow.session, auth.principal.project_id, rollouts_id, settings)
    return page(
        request,
        "rollout.html",
        auth=auth,
        p=detail,
        algorithms=service.ALGORITHMS,
        reward_models=service.REWARD_MODELS,
    )


@router.post("/rollouts/{rollouts_id}/infer")
def infer(
    request: Request,
    rollouts_id: str,
    auth: DashboardKey,
    uow: UowDep,
    settings: SettingsDep,
    algorithm: Annotated[str, Form(max_length=40)],
    reward_model: Annotated[str, Form(max_length=40)],
    seed: Annotated[int, Form()] = 0,
    csrf_token: CsrfField = None,
) -> Response:
    """Start an inference on this rollout set."""
    _require_csrf(auth, csrf_token)
    body = _create_body(rollouts_id, algorithm, reward_model, seed, {})
    row = service.start_inference(
        uow, auth.principal.project_id, body, settings, request.app.state.enqueue
    )
    return _see_other(f"/inferences/{row.id}")


# --- compare -----------------------------------------------------------------------------


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
    if not 2 <= len(chosen) <= service.MAX_COMPARED:
        raise UnprocessableError(
            f"choose between 2 and {service.MAX_COMPARED} inferences to compare",
            errors=[Problem("ids", f"{len(chosen)} given")],
        )
    detail = service.compare_page(uow.session, auth.principal.project_id, chosen, settings)
    return page(request, "compare.html", auth=auth, p=detail)
