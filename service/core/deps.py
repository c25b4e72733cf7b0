"""FastAPI dependencies shared by every domain: settings and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request

from service.core.db import Saturated, UnitOfWork, unit_of_work
from service.core.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the running app was created with (async: no thread for a lookup)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteTurns:
    """This process's write requests take serving threads `turns` at a time (SQLite: one).

    SQLite has one writer, so a write request holds the process's write slot from its first
    query until its unit of work commits. Between the two, FastAPI needs a *second* thread of
    the same pool (a sync route's response is validated in the thread pool, before the
    dependency commits). Writers that waited for the slot inside pool threads could take every
    thread, leaving the slot holder unable to finish: all writes stalled until the slot wait
    timed out (30 s). Writers therefore wait here, on the event loop, holding no thread and no
    connection; past `wait` seconds they get a 503 with Retry-After.

    PostgreSQL takes many writers, but a write request is mostly CPU (parsing and checking an
    upload) under one GIL: many at once only share the process's one core, so every one of them
    finishes late, and the event loop, which reads the bodies and answers the quick 503s, waits
    behind them for the GIL. A few turns (`write_concurrency`) finish them in order instead.
    """

    def __init__(self, wait: float, turns: int = 1) -> None:
        self.wait, self.turns = wait, turns
        self._slot: anyio.Semaphore | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold this process's write turn (503 after `wait` seconds in line)."""
        if self._slot is None:  # made on first use, inside the event loop
            self._slot = anyio.Semaphore(self.turns)
        slot = self._slot
        try:
            with anyio.fail_after(self.wait):
                await slot.acquire()
        except TimeoutError as exc:
            raise Saturated("timed out waiting for this process's SQLite write turn") from exc
        try:
            yield
        finally:
            slot.release()


async def write_turn(request: Request, settings: SettingsDep) -> AsyncIterator[None]:
    """Write requests wait for their turn here (`WriteTurns`); reads pass."""
    if request.method in SAFE_METHODS:
        yield
        return
    turns: WriteTurns = request.app.state.write_turns
    async with turns.turn():
        yield


async def get_uow(
    request: Request,
    settings: SettingsDep,
    _turn: Annotated[None, Depends(write_turn, scope="function")],
) -> AsyncIterator[UnitOfWork]:
    """A unit of work committed when the handler returns, before the response is sent.

    No connection is held until the handler's first query: bodies are parsed and validated
    before it. Requests that may write get a serialised SQLite writer (`unit_of_work`). The
    session is made on the event loop (no I/O until the first query); the commit or rollback
    runs in a thread of its own limiter, as FastAPI does for sync dependencies' exits, so it
    never waits for the serving threads.
    """
    work = unit_of_work(settings, write=request.method not in SAFE_METHODS)
    uow = work.__enter__()
    try:
        yield uow
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # a cancelled request still rolls back
            await anyio.to_thread.run_sync(
                work.__exit__, type(exc), exc, exc.__traceback__, limiter=anyio.CapacityLimiter(1)
            )
        raise
    await anyio.to_thread.run_sync(
        work.__exit__, None, None, None, limiter=anyio.CapacityLimiter(1)
    )


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
