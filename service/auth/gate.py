"""The auth gate: an ASGI middleware that checks the caller before any request body is read.

FastAPI reads and parses a body before it runs the route's dependencies, so a 401 from a
dependency comes after an unauthenticated client has made the API spool its upload. The gate
answers 401 (or, for the dashboard, sends the browser to the login page) from the headers
alone, and hands the principal to the route's dependency (`CurrentKey`, `DashboardKey`).
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth.service import (
    SESSION_COOKIE,
    Principal,
    authenticate,
    recently_authenticated,
    session_principal,
    session_secret,
)
from service.core.db import unit_of_work
from service.core.errors import problem_response
from service.core.logging import bind_context
from service.core.settings import Settings

SCOPE_KEY = "mesascope.auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/login"})
"""Paths that take a body without a key: the login form (its body is capped small)."""


@dataclass(frozen=True)
class GateResult:
    """Who the gate let through, and how: `bearer` or `session` (with the session's cookie)."""

    principal: Principal
    via: str
    cookie: str | None = None


def gated(method: str, path: str) -> bool:
    """Whether a request needs a principal before its body is read: every /v1 call and every
    dashboard form post but the login form."""
    if path.startswith("/v1/") or path == "/v1":
        return True
    return method not in SAFE_METHODS and path not in OPEN_PATHS


def bearer_key(headers: Headers) -> str | None:
    """The key of an `Authorization: Bearer <key>` header."""
    scheme, _, key = headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def missing_key_message(headers: Headers) -> str:
    """Why a request has no usable key, and what to send instead."""
    sent = headers.get("authorization", "").strip()
    if not sent:
        return "missing API key: send `Authorization: Bearer <key>`"
    if sent.startswith("msk_"):
        return "the Authorization header needs the word Bearer: `Authorization: Bearer msk_...`"
    return "unsupported Authorization scheme: send `Authorization: Bearer <key>`"


def session_cookie(headers: Headers) -> str | None:
    """The dashboard session cookie, if sent."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is simply no session
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


class AuthGate:
    """401 / login redirect for gated requests without a valid key or session, body unread."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.lookups: dict[str, anyio.Event] = {}
        """Keys being looked up now: a burst of requests with one key makes one query, not one
        each (200 uploads at once used to make up to 200 when the key left the cache)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not gated(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = bearer_key(headers)
        known = await self._recent(key) if key is not None else None
        result: GateResult | None
        refusal: Response | None
        if known is not None:
            result, refusal = GateResult(known, "bearer"), None
        elif key is not None and key not in self.lookups:
            self.lookups[key] = lookup = anyio.Event()
            try:
                result, refusal = await anyio.to_thread.run_sync(
                    self._check, scope["path"], headers
                )
            finally:
                del self.lookups[key]
                lookup.set()
        else:
            result, refusal = await anyio.to_thread.run_sync(self._check, scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope[SCOPE_KEY] = result
        if result is not None:
            bind_context(project_id=result.principal.project_id)
        await self.app(scope, receive, send)

    async def _recent(self, key: str) -> Principal | None:
        """The key's principal if this process found it active lately, waiting for a lookup of
        the same key already under way; None when it must be looked up (again)."""
        if (pending := self.lookups.get(key)) is not None:
            await pending.wait()
        return recently_authenticated(key)

    def _check(self, path: str, headers: Headers) -> tuple[GateResult | None, Response | None]:
        key = bearer_key(headers)
        api = path.startswith("/v1")
        if key is not None:
            with unit_of_work(self.settings) as uow:
                principal = authenticate(uow.session, key)
            if principal is None:
                return None, problem_response(401, "invalid, revoked or expired API key")
            return GateResult(principal, "bearer"), None
        if api:
            return None, problem_response(401, missing_key_message(headers))
        cookie = session_cookie(headers)
        if cookie is not None:
            with unit_of_work(self.settings) as uow:
                found = session_principal(uow.session, session_secret(self.settings), cookie)
            if found is not None:
                return GateResult(found, "session", cookie), None
        return None, login_required(path, headers)


def login_required(path: str, headers: Headers) -> Response:
    """Send a browser to the login page (a script asking for JSON gets a 401)."""
    if "application/json" in headers.get("accept", ""):
        return JSONResponse({"detail": "log in first"}, status_code=401)
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)
