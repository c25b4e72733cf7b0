"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.auth.gate import OPEN_PATHS, AuthGate
from service.auth.router import router as keys_router
from service.comparisons.router import router as comparisons_router
from service.core.deps import WriteTurns
from service.core.documents import add_document_schemas
from service.core.errors import install_error_handlers
from service.core.generations import RenderedPages
from service.core.middleware import Admission, BodySizeLimit, RequestContext, RequestMetrics
from service.core.settings import Settings, get_settings
from service.dashboard.router import install as install_dashboard
from service.environments.router import router as environments_router
from service.inferences.router import router as inferences_router
from service.ops.apidocs import install as install_api_docs
from service.ops.router import router as ops_router
from service.rollouts.router import is_bulk_upload
from service.rollouts.router import router as rollouts_router

DESCRIPTION = """\
mesascope infers what an RL agent is optimising for from its behaviour (inverse RL) and
compares that utility with the reward it was trained on. Upload rollouts, start an inference,
read the divergence report and its verdict.
"""


def route_id(route: APIRoute) -> str:
    """Stable operation ids (`inferences-get_inference`) so openapi.yaml diffs stay small."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _default_enqueue(inference_id: str) -> None:
    from service.inferences.tasks import enqueue_inference

    enqueue_inference(inference_id)


def _default_queue_check() -> None:
    from service.core.queue import huey

    huey.pending_count()


OPEN_FORM_BYTES = 16 * 1024
"""Largest body accepted without a key (the login form)."""


def body_limit(settings: Settings) -> Callable[[str], int]:
    """Each path's body limit: small for unauthenticated forms, large for binary uploads."""

    def limit_for(path: str) -> int:
        if path in OPEN_PATHS:
            return OPEN_FORM_BYTES
        return settings.max_bulk_bytes if is_bulk_upload(path) else settings.max_body_bytes

    return limit_for


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Serve sync routes with `settings.threads` threads (the database pool is sized to match).

    The ~170,000 objects built at import and start-up live as long as the process, so they are
    frozen out of the cyclic garbage collector: a full collection walked them all, a 50–240 ms
    pause for every request in flight (the list's p99 at 500/s, docs/performance.md).
    """
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.threads
    gc.collect()
    gc.freeze()
    yield


def create_app(
    settings: Settings | None = None,
    *,
    enqueue: Callable[[str], None] | None = None,
    queue_check: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the app; tests pass their own settings and enqueue function."""
    app = FastAPI(
        title="mesascope",
        version="0.1.0",
        description=DESCRIPTION,
        generate_unique_id_function=route_id,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    app.state.enqueue = enqueue or _default_enqueue
    app.state.queue_check = queue_check or _default_queue_check
    app.state.write_turns = WriteTurns(
        app.state.settings.sqlite_busy_seconds, app.state.settings.write_turns
    )
    app.state.inference_pages = RenderedPages()
    install_error_handlers(app)
    for router in (
        ops_router,
        environments_router,
        rollouts_router,
        inferences_router,
        comparisons_router,
        keys_router,
    ):
        app.include_router(router)
    install_dashboard(app)
    install_api_docs(app)
    openapi = app.openapi
    app.openapi = lambda: add_document_schemas(openapi())  # type: ignore[method-assign]
    settings = app.state.settings
    # Outermost last: metrics, request id / logs / 500s, admission, body size, auth gate.
    app.add_middleware(AuthGate, settings=settings)
    app.add_middleware(BodySizeLimit, limit_for=body_limit(settings))
    app.add_middleware(
        Admission, limit=settings.in_flight_limit, retry_after=settings.retry_after_seconds
    )
    app.add_middleware(RequestContext, retry_after=settings.retry_after_seconds)
    app.add_middleware(RequestMetrics)
    return app
