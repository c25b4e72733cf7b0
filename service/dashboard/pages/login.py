"""Logging in with an API key, and out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse

from service.auth.dependencies import DashboardKey
from service.auth.service import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    authenticate,
    end_session,
    session_secret,
    start_session,
)
from service.core.deps import SettingsDep, UowDep
from service.dashboard.base import CsrfField, page, page_router, require_csrf, see_other

LOGIN_COOKIE = "mesascope_login"

router = page_router()


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


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
    response = see_other(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        start_session(uow.session, session_secret(settings), principal.key_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(auth: DashboardKey, uow: UowDep, csrf_token: CsrfField = None) -> Response:
    """End the session server-side (the cookie stops working everywhere) and drop the cookie."""
    require_csrf(auth, csrf_token)
    if auth.cookie is not None:
        end_session(uow.session, auth.cookie)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
