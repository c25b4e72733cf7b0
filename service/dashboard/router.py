"""The dashboard: each page's routes (service.dashboard.pages) and the static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.dashboard.base import HERE
from service.dashboard.pages import compare, inferences, login, rollouts


def install(app: FastAPI) -> None:
    """Serve the dashboard pages and their static files from `app`."""
    for module in (login, inferences, rollouts, compare):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
