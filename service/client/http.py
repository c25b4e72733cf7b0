"""The HTTP client: one typed method per endpoint of the mesascope REST API.

Needs only httpx and numpy (it imports nothing of the server). Reads MESASCOPE_URL and
MESASCOPE_API_KEY by default. Every error response raises `MesascopeError` carrying the
server's problem details.

    client = MesascopeClient()
    ro = client.upload_rollouts(trajectories, environment={"id": env_id}, name="agent 3")
    job = client.infer(ro["id"], algorithm="mce_irl")
    done = client.wait(job["id"])
    report = client.divergence(job["id"])
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from service.client.arrays import to_arrays

DEFAULT_URL = "http://127.0.0.1:8000"
BULK_THRESHOLD_TRANSITIONS = 50_000
CHUNK_TRANSITIONS = 2_000_000
FINAL_STATUSES = ("succeeded", "failed", "cancelled")
RETRY_STATUSES = frozenset({503})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_RETRY_DELAY = 30.0

Json = dict[str, Any]


def idempotency_headers() -> dict[str, str]:
    """A fresh `Idempotency-Key` for one write: the server stores the write's first response
    under it, so resending the same request (after a lost response) stores nothing twice."""
    return {"Idempotency-Key": str(uuid.uuid4())}


class MesascopeError(Exception):
    """An error response, with the server's RFC 9457 problem details."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.errors: list[dict[str, str]] = list(problem.get("errors") or [])
        title = f"{status} {problem.get('title', '')}"
        if self.errors:  # the detail repeats the first error: list them instead
            lines = [title] + [f"  {e.get('loc')}: {e.get('msg')}" for e in self.errors[:10]]
        else:
            lines = [f"{title}: {problem.get('detail', '')}"]
        super().__init__("\n".join(lines))


class MesascopeClient:
    """Typed access to every endpoint of the mesascope API."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = (url or os.environ.get("MESASCOPE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("MESASCOPE_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        self.retries, self.backoff, self.sleep = retries, backoff, sleep

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> MesascopeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retryable(self, method: str, headers: Mapping[str, str] | None) -> bool:
        """GETs are safe to repeat; writes only when they carry an Idempotency-Key."""
        if method.upper() in SAFE_METHODS:
            return True
        sent = httpx.Headers(headers or {})
        return "idempotency-key" in sent or "idempotency-key" in self.http.headers

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Exponential backoff (`backoff` * 2**attempt), or the server's Retry-After if longer."""
        delay = self.backoff * 2**attempt
        retry_after = response.headers.get("retry-after", "") if response is not None else ""
        if retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        return min(delay, MAX_RETRY_DELAY)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying 503s and connection errors (`retries` times) when that is safe."""
        retryable = self._retryable(method, kwargs.get("headers"))
        attempt = 0
        while True:
            may_retry = retryable and attempt < self.retries
            try:
                response = self.http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                if not may_retry:
                    raise
                self.sleep(self._delay(attempt, None))
            else:
                if response.status_code not in RETRY_STATUSES or not may_retry:
                    return response
                self.sleep(self._delay(attempt, response))
            attempt += 1

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise MesascopeError(response.status_code, problem)
        if response.status_code == 204:
            return None
        return response.json()

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[Json]:
        cursor = None
        while True:
            query = {k: v for k, v in {**params, "cursor": cursor}.items() if v is not None}
            page = self._request("GET", path, params=query)
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    # environments
    def create_environment(self, spec: Mapping[str, Any]) -> Json:
        """Store an environment spec; returns it with its `id`."""
        return dict(self._request("POST", "/v1/environments", json=spec))

    def get_environment(self, environment_id: str, *, include_spec: bool = False) -> Json:
        """One environment."""
        params = {"include": "spec"} if include_spec else {}
        return dict(self._request("GET", f"/v1/environments/{environment_id}", params=params))

    def list_environments(self, *, limit: int = 50) -> Iterator[Json]:
        """All environments, newest first."""
        return self._pages("/v1/environments", {"limit": limit})

    # rollouts
    def upload_rollouts(
        self,
        trajectories: Any,
        *,
        environment: Mapping[str, Any] | None = None,
        environments: Sequence[Mapping[str, Any]] | None = None,
        environment_of: Sequence[int] | None = None,
        name: str,
        training_reward: Mapping[str, Any] | None = None,
        split: str | None = None,
        tags: Mapping[str, str] | None = None,
        bulk: bool | None = None,
        chunk_transitions: int = CHUNK_TRANSITIONS,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Json:
        """Upload trajectories (any supported form).

        Give `environment`, or for a pooled set `environments` and each trajectory's index into
        them (`environment_of`, or an `environment` field on each trajectory).

        Large data goes through the binary bulk path, and very large data in chunks of at most
        `chunk_transitions` appended to the same rollout set (a pooled set goes in one archive).
        `on_progress(sent, total)` is called with transition counts after each request.
        """
        if (environment is None) == (environments is None):
            raise ValueError("give exactly one of `environment` and `environments`")
        arrays = to_arrays(trajectories)
        if environment_of is not None:
            arrays.environment = np.asarray(environment_of, dtype=np.int64)
        report = on_progress or (lambda sent, total: None)
        metadata: Json = {"name": name, "tags": dict(tags or {})}
        if environment is not None:
            metadata["environment"] = dict(environment)
        else:
            assert environments is not None
            metadata["environments"] = [dict(e) for e in environments]
            chunk_transitions = max(chunk_transitions, arrays.n_transitions)
        if training_reward is not None:
            metadata["training_reward"] = dict(training_reward)
        if split is not None:
            metadata["split"] = split
        if bulk is None:
            bulk = arrays.n_transitions > BULK_THRESHOLD_TRANSITIONS
        if bulk:
            first, *rest = arrays.split(chunk_transitions)
            sent = first.n_transitions
            result = dict(
                self._request(
                    "POST",
                    "/v1/rollouts/bulk",
                    data={"metadata": json.dumps(metadata)},
                    files={"file": ("rollouts.npz", first.to_npz(), "application/x-npz")},
                    headers=idempotency_headers(),
                )
            )
            report(sent, arrays.n_transitions)
            for chunk in rest:
                result = dict(
                    self._request(
                        "POST",
                        f"/v1/rollouts/{result['id']}/chunks",
                        files={"file": ("chunk.npz", chunk.to_npz(), "application/x-npz")},
                        headers=idempotency_headers(),
                    )
                )
                sent += chunk.n_transitions
                report(sent, arrays.n_transitions)
            return result
        result = dict(
            self._request(
                "POST",
                "/v1/rollouts",
                json={**metadata, "trajectories": arrays.to_json()},
                headers=idempotency_headers(),
            )
        )
        report(arrays.n_transitions, arrays.n_transitions)
        return result

    def get_rollouts(self, rollouts_id: str) -> Json:
        """One rollout set."""
        return dict(self._request("GET", f"/v1/rollouts/{rollouts_id}"))

    def list_rollouts(
        self,
        *,
        environment_id: str | None = None,
        split: str | None = None,
        tag: str | None = None,
        limit: int = 50,
    ) -> Iterator[Json]:
        """Rollout sets, newest first."""
        return self._pages(
            "/v1/rollouts",
            {"environment_id": environment_id, "split": split, "tag": tag, "limit": limit},
        )

    def delete_rollouts(self, rollouts_id: str) -> None:
        """Delete a rollout set no inference uses."""
        self._request("DELETE", f"/v1/rollouts/{rollouts_id}")

    # inferences
    def infer(
        self,
        rollouts_id: str,
        *,
        algorithm: str = "mce_irl",
        reward_model: str = "linear",
        params: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> Json:
        """Queue an inference job."""
        body = {
            "rollouts_id": rollouts_id,
            "algorithm": algorithm,
            "reward_model": reward_model,
            "params": dict(params or {}),
            "seed": seed,
        }
        return dict(
            self._request("POST", "/v1/inferences", json=body, headers=idempotency_headers())
        )

    def get_inference(self, inference_id: str, *, curve: bool = False) -> Json:
        """One inference: status, progress, log, reward and verdict (and its training curve
        with `curve=True`)."""
        params = {"curve": "true"} if curve else None
        return dict(self._request("GET", f"/v1/inferences/{inference_id}", params=params))

    def list_inferences(self, *, limit: int = 50, **filters: str | None) -> Iterator[Json]:
        """Inferences, newest first; filters: status, algorithm, verdict, environment_id,
        rollouts_id, tag."""
        return self._pages("/v1/inferences", {**filters, "limit": limit})

    def cancel(self, inference_id: str) -> Json:
        """Cancel a queued or running inference."""
        return dict(self._request("POST", f"/v1/inferences/{inference_id}/cancel"))

    def delete_inference(self, inference_id: str) -> None:
        """Delete an inference and its results."""
        self._request("DELETE", f"/v1/inferences/{inference_id}")

    def reward(self, inference_id: str) -> Json:
        """The inferred reward as a reward spec."""
        return dict(self._request("GET", f"/v1/inferences/{inference_id}/reward"))

    def divergence(self, inference_id: str, against: str | Mapping[str, Any] = "training") -> Json:
        """The divergence report against `training`, `observed`, `environment` or a spec."""
        if isinstance(against, str):
            return dict(
                self._request(
                    "GET", f"/v1/inferences/{inference_id}/divergence", params={"against": against}
                )
            )
        return dict(
            self._request(
                "POST", f"/v1/inferences/{inference_id}/divergence", json={"against": dict(against)}
            )
        )

    def goals(
        self,
        inference_id: str,
        goals: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        feature_goals: bool = True,
        against: Mapping[str, Any] | None = None,
    ) -> Json:
        """Named-goal hypotheses: posterior over the training reward (or `against`), each single
        feature (unless `feature_goals` is False) and `goals` (reward specs by name)."""
        body: dict[str, Any] = {
            "goals": {name: dict(spec) for name, spec in (goals or {}).items()},
            "feature_goals": feature_goals,
        }
        if against is not None:
            body["against"] = dict(against)
        return dict(self._request("POST", f"/v1/inferences/{inference_id}/goals", json=body))

    def wait(
        self,
        inference_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_update: Callable[[Json], None] | None = None,
        show_progress: bool = False,
    ) -> Json:
        """Poll until the inference finishes; `on_update` sees every poll, and `show_progress`
        draws a progress bar on the terminal."""
        if show_progress:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(inference_id, total=1.0)

                def draw(job: Json) -> None:
                    bar.update(task, completed=job["progress"], description=job["status"])
                    if on_update is not None:
                        on_update(job)

                return self.wait(inference_id, timeout=timeout, poll=poll, on_update=draw)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_inference(inference_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"inference {inference_id} still {job['status']}")
            time.sleep(poll)

    # comparisons
    def compare(
        self,
        environment: Mapping[str, Any],
        a: Mapping[str, Any],
        b: Mapping[str, Any],
        *,
        discount: float | None = None,
        coverage: str | Mapping[str, Any] = "uniform",
    ) -> Json:
        """Distances between two reward specs in one environment."""
        body: Json = {
            "environment": dict(environment),
            "a": dict(a),
            "b": dict(b),
            "coverage": coverage,
        }
        if discount is not None:
            body["discount"] = discount
        return dict(self._request("POST", "/v1/comparisons", json=body))

    # operations
    def health(self) -> Json:
        """Readiness of the server's database and queue (`/readyz`)."""
        return dict(self._request("GET", "/readyz"))

    def alive(self) -> bool:
        """Whether the server process answers (`/healthz`)."""
        return bool(self._request("GET", "/healthz").get("status") == "ok")

    def metrics(self) -> str:
        """The server's Prometheus metrics, as text."""
        response = self.http.get("/metrics")
        if response.status_code >= 400:
            raise MesascopeError(response.status_code, response.json())
        return response.text
