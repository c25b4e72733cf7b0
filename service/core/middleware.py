"""ASGI middleware: request body size limit and request metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.errors import problem_response
from service.core.metrics import LATENCY, REQUESTS


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit (rendered as a 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"request body exceeds the limit of {max_bytes} bytes "
            "(MESASCOPE_MAX_BODY_BYTES); use the bulk upload for large data",
        )


class BodySizeLimit:
    """Answer 413 for bodies over the limit, by Content-Length or while streaming.

    Binary uploads (`is_bulk(path)`, streamed to disk) get the larger `bulk_bytes` limit.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, bulk_bytes: int, is_bulk: Callable[[str], bool]
    ) -> None:
        self.app, self.default_bytes, self.bulk_bytes = app, max_bytes, bulk_bytes
        self.is_bulk = is_bulk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.bulk_bytes if self.is_bulk(scope["path"]) else self.default_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(limit, scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(limit, scope, receive, send)

    async def _reject(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, BodyTooLarge(limit).detail)
        await response(scope, receive, send)


class RequestMetrics:
    """Count requests and time them by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
