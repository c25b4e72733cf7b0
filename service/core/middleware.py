"""ASGI middleware: request ids, logs and problem+json 500s; admission control; body size."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.errors import (
    internal_error_response,
    is_saturation,
    problem_response,
    saturated_response,
)
from service.core.logging import current_context, log_context
from service.core.metrics import LATENCY, REQUESTS

log = logging.getLogger("mesascope.request")
REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
UNGATED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and metrics: always answered, never counted against the in-flight limit."""


class RequestContext:
    """Give every request an id (`X-Request-ID`, the client's when well-formed), log one JSON line
    per request with it, and turn anything unexpected into a problem+json 500 carrying the id.

    A saturated database (pool timeout, SQLite lock) becomes a 503 with `Retry-After` instead.
    """

    def __init__(self, app: ASGIApp, retry_after: int) -> None:
        self.app, self.retry_after = app, retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.lower().encode(), b"")
        presented = sent.decode("latin-1")
        request_id = presented if _CLIENT_REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if started:
                    log.exception("request failed after its response started")
                    raise
                if is_saturation(exc):
                    log.warning("saturated: %s", type(exc).__name__)
                    response = saturated_response(self.retry_after, request_id)
                else:
                    log.exception("unexpected error")
                    response = internal_error_response(request_id)
                await response(scope, receive, send_with_id)
            finally:
                self._log(scope, status, time.perf_counter() - start)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        params = scope.get("path_params") or {}
        inference_id = params.get("inference_id")
        fields = {"inference_id": inference_id} if isinstance(inference_id, str) else {}
        with log_context(**fields):
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "duration_ms": round(seconds * 1000, 1)},
            )


class Admission:
    """Admit at most `limit` requests at once; the rest get an immediate 503 with Retry-After.

    Past this point a request would only queue for a thread or a database connection and time out
    much later; a quick 503 lets the client back off and retry (`service/client/http.py` does).
    """

    def __init__(self, app: ASGIApp, limit: int, retry_after: int) -> None:
        self.app, self.limit, self.retry_after = app, limit, retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGATED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            request_id = current_context().get("request_id")
            await saturated_response(self.retry_after, request_id)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit (rendered as a 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            f"request body exceeds the limit of {max_bytes} bytes "
            "(MESASCOPE_MAX_BODY_BYTES); use the bulk upload for large data",
        )


class BodySizeLimit:
    """Answer 413 for bodies over the path's limit: by Content-Length before anything is read,
    and by a running count while a chunked body streams (reading stops at the limit)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
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
