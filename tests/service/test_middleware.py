"""Cross-cutting middleware: the auth gate reads no body, request ids and JSON logs, problem+json
500s, quick 503s when saturated, and the streamed size cap."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from service.app import create_app
from service.core.db import PoolConfig, Saturated, engine_for
from service.core.deps import WriteTurns
from service.core.logging import JsonFormatter
from service.core.middleware import Admission, RequestContext
from service.core.settings import Settings
from tests.service.conftest import Queue
from tests.service.data import corridor_environment

CHUNK = 64 * 1024


class Upload:
    """An endless chunked request body that counts how much of it the app pulled."""

    def __init__(self) -> None:
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        self.pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}


async def call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: Upload
) -> tuple[int, dict[str, str], bytes]:
    """Run one request through the raw ASGI interface (no Content-Length: chunked)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, body.receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers_out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers_out, content


@pytest.fixture
def app(settings: Settings, queue: Queue) -> Any:
    return create_app(settings, enqueue=queue, queue_check=lambda: None)


MULTIPART = (b"content-type", b"multipart/form-data; boundary=xyz")


async def test_unauthenticated_upload_is_refused_before_its_body_is_read(app: Any) -> None:
    for headers in ([MULTIPART], [MULTIPART, (b"authorization", b"Bearer msk_wrong")]):
        body = Upload()
        status, out, _ = await call(app, "POST", "/v1/rollouts/bulk", headers, body)
        assert status == 401 and out["content-type"] == "application/problem+json"
        assert body.pulled == 0
    body = Upload()
    status, _, _ = await call(
        app, "POST", "/v1/rollouts", [(b"content-type", b"application/json")], body
    )
    assert status == 401 and body.pulled == 0


async def test_dashboard_posts_need_a_session_before_their_body_is_read(app: Any) -> None:
    body = Upload()
    form = (b"content-type", b"application/x-www-form-urlencoded")
    cookie = (b"cookie", b"mesascope_session=key_x.9999999999.nonce.mac")
    status, out, _ = await call(app, "POST", "/inferences/inf_0/cancel", [form, cookie], body)
    assert status == 303 and out["location"].startswith("/login")
    assert body.pulled == 0


async def test_streamed_upload_stops_at_the_limit(
    app: Any, api_key: str, settings: Settings
) -> None:
    body = Upload()
    auth = (b"authorization", f"Bearer {api_key}".encode())
    status, _, _ = await call(
        app, "POST", "/v1/rollouts", [auth, (b"content-type", b"application/json")], body
    )
    assert status == 413
    assert body.pulled <= settings.max_body_bytes + CHUNK


async def test_login_form_body_is_capped_small(app: Any) -> None:
    body = Upload()
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, _, _ = await call(app, "POST", "/login", [form], body)
    assert status == 413 and body.pulled <= 17 * 1024 + CHUNK


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The request log as the JSON lines the process writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mesascope")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


async def test_unexpected_errors_are_problem_json_500_with_a_logged_request_id(
    settings: Settings, queue: Queue, api_key: str, json_log: io.StringIO
) -> None:
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/v1/boom", boom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/boom", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    assert "secret internals" not in response.text
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failure = next(line for line in lines if line["message"] == "unexpected error")
    assert failure["request_id"] == request_id and "RuntimeError" in failure["exception"]
    access = next(line for line in lines if line.get("status") == 500)
    assert access["request_id"] == request_id and access["project_id"].startswith("prj_")


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/environments", headers={"X-Request-ID": "client-id-123"})
    assert response.headers["x-request-id"] == "client-id-123"
    forged = await client.get("/healthz", headers={"X-Request-ID": "bad id\n"})
    assert (
        forged.headers["x-request-id"] != "bad id\n" and len(forged.headers["x-request-id"]) == 32
    )


async def test_no_free_connection_is_a_quick_503_with_retry_after(
    settings: Settings, queue: Queue, api_key: str
) -> None:
    settings = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.2})
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)
    held = engine_for(settings.database_url, PoolConfig.of(settings)).connect()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = time.perf_counter()
            response = await client.get(
                "/v1/environments", headers={"Authorization": f"Bearer {api_key}"}
            )
        assert time.perf_counter() - started < 2
    finally:
        held.close()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a lock of SQLite's own
async def test_sqlite_lock_held_elsewhere_is_a_503_not_a_500(
    settings: Settings, queue: Queue, api_key: str
) -> None:
    assert settings.is_sqlite
    settings = settings.model_copy(update={"sqlite_busy_seconds": 0.2})
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)
    other = sqlite3.connect(settings.database_url.split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/v1/environments", json=corridor_environment(), headers=headers
            )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"


async def test_requests_over_the_in_flight_limit_get_503_at_once() -> None:
    release = anyio.Event()
    statuses: list[int] = []

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = Admission(slow_app, limit=2, retry_after=3)

    async def one(path: str) -> None:
        scope = {"type": "http", "method": "GET", "path": path, "headers": []}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                if message["status"] == 503:
                    assert (b"retry-after", b"3") in message["headers"]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        await gate(scope, receive, send)

    async with anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(one, "/v1/rollouts")
        await anyio.wait_all_tasks_blocked()
        await one("/v1/rollouts")  # answered while two are in flight
        assert statuses == [503]
        release.set()
    assert sorted(statuses) == [200, 200, 503]
    assert gate.in_flight == 0


async def test_writers_beyond_the_thread_pool_all_finish_quickly(
    settings: Settings, queue: Queue, api_key: str
) -> None:
    """More concurrent writes than serving threads: each waits for its write turn without a
    thread, so the writer holding SQLite's write slot always finds the thread it needs to
    finish (its response is validated in the pool). Threads that waited for the slot used to
    take the whole pool and stall every write until the slot wait timed out. On PostgreSQL
    (4 turns, more than the 2 threads) the same writes finish as quickly."""
    settings = settings.model_copy(
        update={"threads": 2, "max_in_flight": 100, "sqlite_busy_seconds": 8}
    )
    app = create_app(settings, enqueue=queue, queue_check=lambda: None)
    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens, limiter.total_tokens = limiter.total_tokens, settings.threads  # as the lifespan does
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            started = time.perf_counter()
            responses = await asyncio.gather(
                *(
                    client.post("/v1/environments", json=corridor_environment(), headers=headers)
                    for _ in range(12)
                )
            )
            elapsed = time.perf_counter() - started
    finally:
        limiter.total_tokens = tokens
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    assert elapsed < 4, f"12 writes took {elapsed:.1f} s"


async def test_write_turns_admit_n_writers_and_the_next_waits_then_gets_503() -> None:
    turns = WriteTurns(wait=0.2, turns=2)
    async with turns.turn(), turns.turn():
        started = time.perf_counter()
        with pytest.raises(Saturated):
            async with turns.turn():
                pass
        assert 0.15 < time.perf_counter() - started < 2
    async with turns.turn(), turns.turn():  # both released
        pass


def test_write_turns_default_to_one_on_sqlite_and_four_on_postgres(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).write_turns == 1
    assert Settings(data_dir=tmp_path, threads=18).in_flight_limit == 256  # writers wait in line
    assert Settings(data_dir=tmp_path, threads=100).in_flight_limit == 400
    url = "postgresql://localhost/x"
    assert Settings(data_dir=tmp_path, database_url=url).write_turns == 4
    assert Settings(data_dir=tmp_path, database_url=url, write_concurrency=2).write_turns == 2


async def test_postgres_refusing_connections_for_capacity_is_a_503_not_a_500() -> None:
    """More API processes than PostgreSQL's max_connections allows ("sorry, too many clients
    already") is saturation: 503 with Retry-After, which clients retry."""

    async def refused(scope: Any, receive: Any, send: Any) -> None:
        raise OperationalError(
            "connect", {}, psycopg.errors.TooManyConnections("sorry, too many clients already")
        )

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/v1/inferences", "headers": []}
    await RequestContext(refused, retry_after=2)(scope, receive, send)
    start = sent[0]
    assert start["status"] == 503
    assert (b"retry-after", b"2") in start["headers"]
