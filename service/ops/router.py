"""/healthz, /readyz and /metrics (no API key needed for the first two)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from service.auth.dependencies import CurrentKey
from service.core.db import engine_for
from service.core.deps import SettingsDep
from service.core.errors import problem_responses
from service.ops.heartbeat import workers_alive

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable."}})
def readyz(request: Request, settings: SettingsDep) -> JSONResponse:
    """The database and the queue answer, and at least one job worker has a fresh heartbeat."""
    checks: dict[str, Any] = {}
    alive = 0
    try:
        with engine_for(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        alive = workers_alive(settings)
        checks["workers"] = (
            "ok"
            if alive
            else f"error: no worker heartbeat in the last {settings.worker_stale_seconds:g} s"
        )
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        request.app.state.queue_check()
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values()) and "workers" in checks
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks, "workers_alive": alive},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text."},
        **problem_responses(401, 503),
    },
)
def metrics(_: CurrentKey) -> Response:
    """Prometheus metrics of this API process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
