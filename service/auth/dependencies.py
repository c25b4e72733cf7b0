"""Auth dependencies: `CurrentKey` (bearer key, every /v1 route), `AdminKey`, and `DashboardKey`
(bearer key or the dashboard's server-side session cookie).

The auth gate (`service.auth.gate`) has usually checked the caller before the body was read;
the dependencies then take its result, and check the headers themselves only where the gate
does not run (dashboard GET pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.gate import SCOPE_KEY, GateResult
from service.auth.service import (
    SESSION_COOKIE,
    Principal,
    authenticate,
    csrf_token,
    recently_authenticated,
    session_principal,
    session_secret,
)
from service.core.db import unit_of_work
from service.core.deps import SettingsDep
from service.core.errors import ForbiddenError, UnauthorizedError

bearer = HTTPBearer(auto_error=False, description="An API key from `mesascope keys create`.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class LoginRequired(Exception):
    """A dashboard page was requested without a bearer key or a valid session cookie."""


def _gate_result(request: Request) -> GateResult | None:
    result = request.scope.get(SCOPE_KEY)
    return result if isinstance(result, GateResult) else None


async def current_key(
    request: Request, settings: SettingsDep, credentials: BearerCredentials
) -> Principal:
    """The gate's bearer principal (no thread hand-off), else authenticate the bearer key, or
    answer 401."""
    gate = _gate_result(request)
    if gate is not None and gate.via == "bearer":
        return gate.principal
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("missing API key: send `Authorization: Bearer <key>`")
    return await anyio.to_thread.run_sync(_bearer_principal, settings, credentials.credentials)


def _bearer_principal(settings: SettingsDep, key: str) -> Principal:
    """The key's principal: remembered if this process found it active lately (the dashboard's
    pages, which the gate does not check), else from the database."""
    principal = recently_authenticated(key)
    if principal is None:
        with unit_of_work(settings) as uow:
            principal = authenticate(uow.session, key)
    if principal is None:
        raise UnauthorizedError("invalid, revoked or expired API key")
    return principal


CurrentKey = Annotated[Principal, Depends(current_key)]


async def admin_key(key: CurrentKey) -> Principal:
    """The caller's key, which must be an admin key (403 otherwise)."""
    if not key.is_admin:
        raise ForbiddenError("this needs an admin key (`mesascope keys create --admin`)")
    return key


AdminKey = Annotated[Principal, Depends(admin_key)]


@dataclass(frozen=True)
class DashboardAuth:
    """A dashboard caller: the principal, how it authenticated, and its forms' CSRF token."""

    principal: Principal
    via: str
    binding: str
    secret: bytes
    cookie: str | None = None

    @property
    def csrf(self) -> str:
        """The token every state-changing form of this caller must carry."""
        return csrf_token(self.secret, self.binding)


def dashboard_key(
    request: Request, settings: SettingsDep, credentials: BearerCredentials
) -> DashboardAuth:
    """A bearer key (401 when invalid) or a live server-side session (login page otherwise)."""
    secret = session_secret(settings)
    gate = _gate_result(request)
    if gate is not None:
        return _dashboard_auth(gate.principal, gate.via, gate.cookie, secret)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        principal = _bearer_principal(settings, credentials.credentials)
        return _dashboard_auth(principal, "bearer", None, secret)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise LoginRequired
    with unit_of_work(settings) as uow:
        found = session_principal(uow.session, secret, cookie)
    if found is None:
        raise LoginRequired
    return _dashboard_auth(found, "session", cookie, secret)


def _dashboard_auth(
    principal: Principal, via: str, cookie: str | None, secret: bytes
) -> DashboardAuth:
    binding = cookie.rpartition(".")[0] if cookie else f"bearer|{principal.key_id}"
    return DashboardAuth(principal, via, binding, secret, cookie)


DashboardKey = Annotated[DashboardAuth, Depends(dashboard_key)]
