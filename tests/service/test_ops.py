"""Operations endpoints and the committed OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml

from service.openapi import openapi_yaml

ROOT = Path(__file__).resolve().parents[2]


async def test_readyz_checks_database_and_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "queue": "ok"}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/v1/environments")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "mesascope_http_requests_total" in response.text


def test_openapi_yaml_is_current() -> None:
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert committed == yaml.safe_load(openapi_yaml()), "run `make openapi` and commit openapi.yaml"


async def test_api_docs_load_nothing_from_outside(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page.text)
    assert external == []
    for asset in re.findall(r"""(?:src|href)=["'](/api-docs-static/[^"']+)""", page.text):
        assert (await client.get(asset)).status_code == 200, asset
    assert "/openapi.json" in page.text
