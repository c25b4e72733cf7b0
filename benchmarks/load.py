"""Load and fault scenarios against a real `mesascope serve` this script starts (loopback only,
bounded in time and count). Prints throughput, p50/p99, errors by status, and a ledger check:
every acknowledged upload stored exactly once, every submitted job finished exactly once.

    PYTHONPATH=. python -m benchmarks.load --backend sqlite
    PYTHONPATH=. python -m benchmarks.load --backend postgres --scenarios uploads,redis-kill

Every write carries an `Idempotency-Key` (kept across retries); 503 answers are retried after
their `Retry-After`, connection errors with backoff, so a retry after a lost response must not
store anything twice. PostgreSQL runs use a fresh database and a private redis-server on a
spare port (the machine's shared Redis is never touched)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.e2e.processes import KEY_LINE, free_port, mesascope_env
from tests.irl.gridworld import gridworld_spec, sample_trajectories

DEADLINE_S = 240.0
"""No scenario runs longer than this."""
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Stats:
    """Latencies and final statuses of one scenario's requests."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    started: float = field(default_factory=time.monotonic)

    def report(self, ledger: str = "") -> None:
        wall = time.monotonic() - self.started
        lat = sorted(self.latencies) or [0.0]
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(
            f"{self.name:34s} n={len(self.latencies):5d}  {len(self.latencies) / wall:7.1f} req/s  "
            f"p50 {statistics.median(lat) * 1000:7.0f} ms  p99 {p99 * 1000:7.0f} ms  "
            f"statuses {dict(self.statuses)}  retries {self.retries}  {ledger}"
        )


class Client:
    """An httpx client that retries 503 (honouring Retry-After) and connection errors."""

    def __init__(self, url: str, key: str, stats: Stats, retries: int = 8) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=400),
        )
        self.stats, self.retries = stats, retries

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        start, delay = time.monotonic(), 0.25
        for attempt in range(self.retries + 1):
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                if attempt == self.retries:
                    self._record(start, "connection-error")
                    return None
                self.stats.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 4)
                continue
            if response.status_code == 503 and attempt < self.retries:
                self.stats.retries += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", delay)))
                continue
            self._record(start, str(response.status_code))
            return response
        return None

    def _record(self, start: float, status: str) -> None:
        self.stats.latencies.append(time.monotonic() - start)
        self.stats.statuses[status] += 1

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class Deployment:
    """What `serve` runs against; `restart_redis` only for the PostgreSQL+Redis backend."""

    env: dict[str, str]
    data_dir: Path
    redis_port: int | None = None
    redis: subprocess.Popen[bytes] | None = None

    def start_redis(self) -> None:
        assert self.redis_port is not None
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()
            self.redis = None


@contextmanager
def deployment(backend: str, data_dir: Path) -> Iterator[Deployment]:
    """Embedded SQLite, or a fresh PostgreSQL database plus a private Redis."""
    tuning = {"bootstrap_resamples": "2", "reaper_interval_seconds": "2", "lease_seconds": "10"}
    if backend == "sqlite":
        yield Deployment(mesascope_env(data_dir, **tuning), data_dir)
        return
    from tests.service.conftest import drop_postgres_database, fresh_postgres_database

    url, port = fresh_postgres_database(), free_port()
    dep = Deployment(
        mesascope_env(
            data_dir, database_url=url, queue_url=f"redis://127.0.0.1:{port}/0", **tuning
        ),
        data_dir,
        redis_port=port,
    )
    dep.start_redis()
    try:
        yield dep
    finally:
        dep.stop_redis()
        drop_postgres_database(url)


@contextmanager
def serve(dep: Deployment, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mesascope serve` on a spare loopback port, until ready."""
    port = free_port()
    log = (dep.data_dir / f"serve-{port}.log").open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", str(workers)],
        env=dep.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield url, popen
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


def admin_key(dep: Deployment) -> str:
    """The admin key the first `serve` printed."""
    for log in dep.data_dir.glob("serve-*.log"):
        if match := KEY_LINE.search(log.read_text(errors="replace")):
            return match.group(1)
    raise RuntimeError("no admin key printed")


SPEC = gridworld_spec(rows=5, cols=5, slip=0.1)


def rollout_body(i: int, run: str, n: int = 20) -> dict[str, Any]:
    trajectories = sample_trajectories(SPEC, n=n, rng=np.random.default_rng(i))
    return {
        "name": f"load-{run}-{i}",
        "environment": SPEC,
        "training_reward": {"kind": "linear", "weights": {"door": 1.0}},
        "trajectories": trajectories,
    }


async def upload_all(client: Client, run: str, count: int) -> dict[str, str]:
    """Upload `count` rollout sets at once; name → id of the acknowledged ones."""

    async def one(i: int) -> tuple[str, str | None]:
        response = await client.request("POST", "/v1/rollouts", json=rollout_body(i, run))
        ok = response is not None and response.status_code == 201
        return f"load-{run}-{i}", response.json()["id"] if ok and response else None

    results = await asyncio.gather(*(one(i) for i in range(count)))
    return {name: rid for name, rid in results if rid}


async def submit_jobs(client: Client, rollouts_id: str, count: int) -> list[str]:
    ids = []
    for seed in range(count):
        body = {"rollouts_id": rollouts_id, "algorithm": "mce_irl", "seed": seed}
        response = await client.request("POST", "/v1/inferences", json=body)
        if response is not None and response.status_code == 202:
            ids.append(response.json()["id"])
    return ids


async def list_all(client: Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.http.get(path, params=params)
        body = response.raise_for_status().json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


async def upload_ledger(client: Client, run: str, acknowledged: dict[str, str]) -> str:
    """Every acknowledged upload is stored exactly once (no duplicates from retries)."""
    names = Counter(
        r["name"]
        for r in await list_all(client, "/v1/rollouts")
        if r["name"].startswith(f"load-{run}-")
    )
    missing = [n for n in acknowledged if names[n] == 0]
    duplicated = [n for n, c in names.items() if c > 1]
    ok = not missing and not duplicated
    verdict = "OK" if ok else "FAIL"
    return (
        f"ledger uploads {verdict}: {len(acknowledged)} acked, {len(missing)} missing, "
        f"{len(duplicated)} duplicated"
    )


async def job_ledger(client: Client, ids: list[str], timeout: float) -> str:
    """Every submitted job reaches a final status, once (attempts counted)."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    final: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            body = (await client.http.get(f"/v1/inferences/{job_id}")).json()
            if body.get("status") in TERMINAL:
                final[job_id] = body
                pending.discard(job_id)
        await asyncio.sleep(0.5)
    statuses = Counter(b["status"] for b in final.values())
    ok = not pending and statuses.get("succeeded", 0) == len(ids)
    verdict = "OK" if ok else "FAIL"
    return (
        f"ledger jobs {verdict}: {len(ids)} submitted, {dict(statuses)}, {len(pending)} unfinished"
    )


async def scenario_uploads(url: str, key: str, args: argparse.Namespace) -> None:
    """N concurrent uploads while M jobs run."""
    stats = Stats(f"{args.uploads} uploads + {args.jobs} jobs")
    client = Client(url, key, stats)
    seed = await client.request("POST", "/v1/rollouts", json=rollout_body(0, "seed", n=40))
    assert seed is not None and seed.status_code == 201, seed
    jobs = await submit_jobs(client, seed.json()["id"], args.jobs)
    run = uuid.uuid4().hex[:6]
    acked = await upload_all(client, run, args.uploads)
    stats.report(await upload_ledger(client, run, acked))
    print(" " * 35 + await job_ledger(client, jobs, DEADLINE_S))
    await client.close()


async def scenario_reads(url: str, key: str, args: argparse.Namespace) -> None:
    """A read-heavy mix at a fixed rate for a fixed time."""
    stats = Stats(f"reads at {args.rate}/s for {args.seconds:g} s")
    client = Client(url, key, stats)
    jobs = (await client.http.get("/v1/inferences", params={"limit": 20})).json()["items"]
    done = [j["id"] for j in jobs if j["status"] == "succeeded"] or [""]
    paths = [
        "/v1/inferences",
        "/v1/rollouts",
        f"/v1/inferences/{done[0]}",
        f"/v1/inferences/{done[0]}/divergence",
        "/",  # the dashboard's list page
        f"/inferences/{done[0]}",  # and an inference page
    ]
    tasks = []
    for i in range(int(args.rate * args.seconds)):
        tasks.append(asyncio.create_task(client.request("GET", paths[i % len(paths)])))
        await asyncio.sleep(1 / args.rate)
    await asyncio.gather(*tasks)
    stats.report()
    await client.close()


async def scenario_api_kill(dep: Deployment, args: argparse.Namespace) -> None:
    """SIGKILL `serve` while uploads are in flight, restart it; the client retries."""
    with serve(dep) as (url, popen):
        key = admin_key(dep)
        stats = Stats(f"API killed during {args.uploads} uploads")
        client = Client(url, key, stats, retries=12)
        run = uuid.uuid4().hex[:6]
        uploads = asyncio.create_task(upload_all(client, run, args.uploads))
        await asyncio.sleep(1.0)
        popen.kill()
        popen.wait()
        port = int(url.rsplit(":", 1)[1])
        restarted = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"],
            env=dep.env, stdout=(dep.data_dir / "restart.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            acked = await uploads
            stats.report(await upload_ledger(client, run, acked))
        finally:
            await client.close()
            restarted.send_signal(signal.SIGINT)
            restarted.wait(timeout=30)


async def scenario_redis_kill(
    url: str, key: str, dep: Deployment, args: argparse.Namespace
) -> None:
    """Kill Redis with jobs queued, submit more while it is down, restart it empty."""
    stats = Stats("Redis killed with jobs queued")
    client = Client(url, key, stats)
    seed = await client.request("POST", "/v1/rollouts", json=rollout_body(1, "redis", n=40))
    assert seed is not None and seed.status_code == 201
    jobs = await submit_jobs(client, seed.json()["id"], 10)
    dep.stop_redis()
    jobs += await submit_jobs(client, seed.json()["id"], 10)
    await asyncio.sleep(3)
    dep.start_redis()
    back = time.monotonic()
    ledger = await job_ledger(client, jobs, DEADLINE_S)
    stats.report(f"{ledger}; all done {time.monotonic() - back:.1f} s after Redis returned")
    await client.close()


async def main(args: argparse.Namespace) -> None:
    scenarios = args.scenarios.split(",")
    with (
        tempfile.TemporaryDirectory(prefix="mesascope-load-") as tmp,
        deployment(args.backend, Path(tmp)) as dep,
    ):
        print(f"backend {args.backend}; scenarios {scenarios}")
        with serve(dep) as (url, _):
            key = admin_key(dep)
            if "uploads" in scenarios:
                await _bounded(scenario_uploads(url, key, args))
            if "reads" in scenarios:
                await _bounded(scenario_reads(url, key, args))
            if "redis-kill" in scenarios and dep.redis_port is not None:
                await _bounded(scenario_redis_kill(url, key, dep, args))
        if "api-kill" in scenarios:
            await _bounded(scenario_api_kill(dep, args))


async def _bounded(scenario: Coroutine[Any, Any, None]) -> None:
    """Run a scenario for at most DEADLINE_S; a timeout is reported, not raised."""
    try:
        await asyncio.wait_for(scenario, DEADLINE_S)
    except TimeoutError:
        print(f"scenario timed out after {DEADLINE_S:g} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scenarios", default="uploads,reads,redis-kill,api-kill")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="reads per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="read scenario length")
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    asyncio.run(main(parse_args()))
