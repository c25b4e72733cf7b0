"""`GET /v1/inferences` serves pages rendered once per cache generation: never a stale page,
whoever wrote (this app, another app instance on the same database, a job worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from service.app import create_app
from service.core import generations
from service.core.db import engine_for, unit_of_work
from service.core.models import Inference
from service.core.settings import Settings
from service.inferences import repository
from tests.service.conftest import Queue
from tests.service.data import corridor_rollouts


@pytest.fixture
async def other_app(settings: Settings, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second app instance (its own page cache) on the same database and key."""
    app = create_app(settings, enqueue=lambda _id: None, queue_check=lambda: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as c:
        yield c


async def _submit(client: httpx.AsyncClient) -> str:
    rollouts = await client.post("/v1/rollouts", json=corridor_rollouts())
    assert rollouts.status_code == 201, rollouts.text
    body = {"rollouts_id": rollouts.json()["id"], "algorithm": "mce_irl"}
    response = await client.post("/v1/inferences", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _statuses(client: httpx.AsyncClient, query: str = "") -> dict[str, str]:
    response = await client.get(f"/v1/inferences{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return {item["id"]: item["status"] for item in response.json()["items"]}


def _generation(settings: Settings) -> int | None:
    with engine_for(settings.database_url).connect() as connection:
        return generations.current(connection)


async def test_the_writer_sees_its_own_writes_at_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert await _statuses(client) == {}
    first = await _submit(client)
    assert await _statuses(client) == {first: "queued"}
    cached = await client.get("/v1/inferences")
    again = await client.get("/v1/inferences")
    assert again.content == cached.content and again.headers["etag"] == cached.headers["etag"]

    assert (await client.post(f"/v1/inferences/{first}/cancel")).status_code == 202
    assert await _statuses(client) == {first: "cancelled"}
    assert await _statuses(client, "?status=queued") == {}
    second = await _submit(client)
    assert await _statuses(client, "?status=queued") == {second: "queued"}
    assert (await client.delete(f"/v1/inferences/{second}")).status_code == 204
    assert await _statuses(client) == {first: "cancelled"}


async def test_a_write_through_another_app_instance_is_seen(
    client: httpx.AsyncClient, other_app: httpx.AsyncClient
) -> None:
    job = await _submit(client)
    assert await _statuses(client) == {job: "queued"}  # rendered and kept by this instance
    assert await _statuses(other_app) == {job: "queued"}
    assert (await other_app.post(f"/v1/inferences/{job}/cancel")).status_code == 202
    assert await _statuses(client) == {job: "cancelled"}
    second = await _submit(other_app)
    assert await _statuses(client) == {second: "queued", job: "cancelled"}


async def test_workers_statements_and_rewards_bump_the_generation(
    client: httpx.AsyncClient, settings: Settings, queue: Queue
) -> None:
    job = await _submit(client)
    assert await _statuses(client) == {job: "queued"}
    before = _generation(settings)
    with unit_of_work(settings) as uow:  # a Core UPDATE, as the lease protocol writes
        uow.session.execute(update(Inference).where(Inference.id == job).values(progress=0.5))
    assert before is not None and _generation(settings) == before + 1
    assert (await client.get("/v1/inferences")).json()["items"][0]["progress"] == 0.5

    assert queue.drain() == ["succeeded"]  # the job's claim, progress, reward and finish
    page = (await client.get("/v1/inferences")).json()["items"]
    assert page[0]["status"] == "succeeded" and page[0]["reward"]["kind"] == "linear"


async def test_reads_and_rolled_back_writes_leave_the_generation(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    job = await _submit(client)
    before = _generation(settings)
    await _statuses(client)
    with unit_of_work(settings) as uow:
        assert repository.get_any(uow.session, job) is not None
    with pytest.raises(RuntimeError), unit_of_work(settings) as uow:
        uow.session.execute(update(Inference).where(Inference.id == job).values(progress=0.9))
        raise RuntimeError("rolled back")
    assert _generation(settings) == before
    assert (await client.get("/v1/inferences")).json()["items"][0]["progress"] == 0.0


def test_pages_are_kept_per_generation_and_bounded() -> None:
    pages = generations.RenderedPages(size=2)
    page = pages.put("a", 3, b"{}")
    assert pages.get("a", 3) is page and page.etag.startswith('"')
    assert pages.get("a", 4) is None and pages.get("b", 3) is None
    pages.put("b", 3, b"[]")
    pages.put("c", 3, b"1")  # full: emptied first
    assert pages.get("a", 3) is None and pages.get("c", 3) is not None
    pages.put("d", None, b"2")  # no generation row: never kept
    assert pages.get("d", None) is None
