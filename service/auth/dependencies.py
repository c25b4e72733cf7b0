"""Auth dependencies: `CurrentKey` (bearer key, every /v1 route) and `DashboardKey` (bearer key
or the dashboard's signed session cookie)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.service import (
    SESSION_COOKIE,
    Principal,
    authenticate,
    csrf_token,
    principal_for_key_id,
    session_secret,
    verify_session,
)
from service.core.db import unit_of_work
from service.core.deps import SettingsDep
from service.core.errors import UnauthorizedError

bearer = HTTPBearer(auto_error=False, description="An API key from `mesascope keys create`.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class LoginRequired(Exception):
    """A dashboard page was requested without a bearer key or a valid session cookie."""


def current_key(settings: SettingsDep, credentials: BearerCredentials) -> Principal:
    """Authenticate the request's bearer key, or answer 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("missing API key: send `Authorization: Bearer <key>`")
    return _bearer_principal(settings, credentials.credentials)


def _bearer_principal(settings: SettingsDep, key: str) -> Principal:
    with unit_of_work(settings) as uow:
        principal = authenticate(uow.session, key)
    if principal is None:
        raise UnauthorizedError("invalid or revoked API key")
    return principal


CurrentKey = Annotated[Principal, Depends(current_key)]


@dataclass(frozen=True)
class DashboardAuth:
    """A dashboard caller: the principal, how it authenticated, and its forms' CSRF token."""

    principal: Principal
    via: str
    binding: str
    secret: bytes

    @property
    def csrf(self) -> str:
        """The token every state-changing form of this caller must carry."""
        return csrf_token(self.secret, self.binding)


def dashboard_key(
    request: Request, settings: SettingsDep, credentials: BearerCredentials
) -> DashboardAuth:
    """A bearer key (401 when invalid) or a signed, unexpired session cookie of an active key."""
    secret = session_secret(settings)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        principal = _bearer_principal(settings, credentials.credentials)
        return DashboardAuth(principal, "bearer", f"bearer|{principal.key_id}", secret)
    cookie = request.cookies.get(SESSION_COOKIE)
    key_id = verify_session(secret, cookie) if cookie else None
    if cookie is None or key_id is None:
        raise LoginRequired
    with unit_of_work(settings) as uow:
        found = principal_for_key_id(uow.session, key_id)
    if found is None:
        raise LoginRequired
    return DashboardAuth(found, "session", cookie.rpartition(".")[0], secret)


DashboardKey = Annotated[DashboardAuth, Depends(dashboard_key)]
