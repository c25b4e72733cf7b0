"""`/docs` renders in a browser that can reach nothing but the server (Swagger UI is vendored)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.e2e.processes import served
from tests.e2e.test_dashboard import CHROMIUM, LAUNCH_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_api_docs_render_offline(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    outside: list[str] = []
    errors: list[str] = []

    def local_only(route: Route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with served(tmp_path, workers=0) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route("**/*", local_only)
            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "mesascope" in page.inner_text(".swagger-ui .info .title")
            assert page.locator(".opblock").count() > 10  # the operations are listed
        finally:
            browser.close()
    assert outside == []
    assert errors == []
