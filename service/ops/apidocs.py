"""The interactive API docs (`/docs`), served from Swagger UI files vendored in the package:
nothing is fetched from a CDN, so they work offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "vendor" / "swagger-ui"
"""swagger-ui-dist 5.35.0 (Apache-2.0; LICENSE and NOTICE beside the files)."""
PREFIX = "/api-docs-static"


def install(app: FastAPI) -> None:
    """Serve `/docs` and its assets (the app must be created with docs_url=None)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="api-docs-static")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI for this server's OpenAPI document."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="mesascope API",
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon-32x32.png",
        )
