"""The Python client retries 503s and connection errors, with backoff, only when it is safe."""

from __future__ import annotations

import httpx
import pytest

from service.client.http import MesascopeClient, MesascopeError


def flaky(failures: list[int | None]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A server answering each status in turn (None: the connection is refused), then 200."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if failures:
            status = failures.pop(0)
            if status is None:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(status, json={"status": status}, headers={"Retry-After": "2"})
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    return httpx.MockTransport(handle), seen


def test_gets_retry_503_and_connection_errors_honouring_retry_after() -> None:
    transport, seen = flaky([503, None, 503])
    delays: list[float] = []
    client = MesascopeClient("http://x", "k", transport=transport, sleep=delays.append)
    assert list(client.list_environments()) == []
    assert len(seen) == 4
    assert delays == [2.0, 1.0, 2.0]  # Retry-After 2 s, backoff 0.5 * 2**1, Retry-After again


def test_retries_are_bounded() -> None:
    transport, seen = flaky([503] * 10)
    delays: list[float] = []
    client = MesascopeClient(
        "http://x", "k", transport=transport, sleep=delays.append, retries=3, backoff=0.1
    )
    with pytest.raises(MesascopeError) as raised:
        list(client.list_environments())
    assert raised.value.status == 503 and len(seen) == 4 and len(delays) == 3


def test_posts_without_an_idempotency_key_are_not_retried() -> None:
    transport, seen = flaky([503])
    client = MesascopeClient("http://x", "k", transport=transport, sleep=lambda _: None)
    with pytest.raises(MesascopeError):
        client.create_environment({"kind": "tabular"})
    assert len(seen) == 1


def test_posts_with_an_idempotency_key_are_retried() -> None:
    transport, seen = flaky([503, None])
    client = MesascopeClient("http://x", "k", transport=transport, sleep=lambda _: None)
    client._request("POST", "/v1/rollouts", json={}, headers={"Idempotency-Key": "abc"})
    assert len(seen) == 3 and all(r.headers["idempotency-key"] == "abc" for r in seen)
