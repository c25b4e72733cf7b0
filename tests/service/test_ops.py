"""Operations endpoints and the committed OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml

from service.core.settings import Settings
from service.openapi import openapi_yaml
from service.ops.heartbeat import Heartbeat

ROOT = Path(__file__).resolve().parents[2]


async def test_readyz_checks_database_queue_and_workers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    Heartbeat(settings, concurrency=1).beat()
    response = await client.get("/readyz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "queue": "ok", "workers": "ok"}
    assert response.json()["workers_alive"] >= 1


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
