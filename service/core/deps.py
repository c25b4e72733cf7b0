"""FastAPI dependencies shared by every domain: settings and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from service.core.db import UnitOfWork, unit_of_work
from service.core.settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the running app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_uow(request: Request, settings: SettingsDep) -> Iterator[UnitOfWork]:
    """A unit of work committed when the handler returns, before the response is sent.

    No connection is held until the handler's first query: bodies are parsed and validated
    before it. Requests that may write get a serialised SQLite writer (`unit_of_work`).
    """
    with unit_of_work(settings, write=request.method not in SAFE_METHODS) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
