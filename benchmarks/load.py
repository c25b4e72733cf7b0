"""Load and fault scenarios against a real `mesascope serve` this script starts (loopback only,
bounded in time and count). Prints throughput, p50/p99, errors by status, and a ledger check:
every acknowledged upload stored exactly once, every submitted job finished exactly once.

    PYTHONPATH=. python -m benchmarks.load --backend sqlite
    PYTHONPATH=. python -m benchmarks.load --backend postgres --scenarios uploads,redis-kill

Scenarios: `uploads` (N concurrent uploads while M jobs run), `reads` (a read mix of the API and
the dashboard at a fixed rate against `serve`, then `GET /v1/inferences` alone at a few fixed rates
against two API processes), `api-kill` (SIGKILL `serve` during uploads, restart it, the client
retries), `redis-kill` (PostgreSQL+Redis only: Redis killed with jobs queued, restarted empty).
Reads are paced open-loop (each request has a scheduled time; its latency counts from then, so
a slow server cannot slow the load down) over keep-alive connections by a minimal HTTP/1.1
client, cheap enough to leave the CPU to the server; the server's own latencies (its request
log's `duration_ms`) are printed beside the client's.

Every write carries an `Idempotency-Key` (kept across retries); 503 answers are retried after
their `Retry-After`, connection errors with backoff, so a retry after a lost response must not
store anything twice. PostgreSQL runs use a fresh database and a private redis-server on a
spare port (the machine's shared Redis is never touched)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

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
    first: float = float("inf")
    last: float = 0.0

    def record(self, start: float, status: str) -> None:
        """One request's outcome: its latency (first try to final answer) and status."""
        now = time.monotonic()
        self.latencies.append(now - start)
        self.statuses[status] += 1
        self.first, self.last = min(self.first, start), max(self.last, now)

    def report(self, ledger: str = "") -> None:
        wall = max(self.last - self.first, 1e-9)
        print(
            f"{self.name:38s} n={len(self.latencies):5d}  {len(self.latencies) / wall:6.1f} req/s  "
            f"{percentiles(self.latencies)}  statuses {dict(self.statuses)}  "
            f"retries {self.retries}  {ledger}".rstrip()
        )


def percentiles(seconds: list[float]) -> str:
    """`p50 … ms  p99 … ms` of a list of durations."""
    lat = sorted(seconds) or [0.0]
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    return f"p50 {statistics.median(lat) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"


@dataclass
class Answer:
    """One HTTP response: status, headers (lower-case names) and body."""

    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connections:
    """Keep-alive HTTP/1.1 connections to one server: a few lines of asyncio streams instead of
    an HTTP library, so the load generator leaves the CPU to the server (httpx took ~12 ms of
    CPU per upload, as much as the API)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        lines = [f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
        self.head = "".join(f"{line}\r\n" for line in lines)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        """One request on an idle (or new) connection. An idle connection the server closed
        meanwhile (keep-alive timeout) is replaced, once; other failures raise OSError,
        asyncio.IncompleteReadError or TimeoutError."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if body or method == "POST":
            extra += f"Content-Length: {len(body)}\r\n"
        request = f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body
        if self.idle:
            try:
                return await self._send(request, self.idle.pop())
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened.append(writer)
        return await self._send(request, (reader, writer))

    async def _send(
        self, request: bytes, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]
    ) -> Answer:
        reader, writer = connection
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" not in headers:  # every answer of this service has a length
            writer.close()
            return Answer(int(lines[0][9:12]), headers, b"")
        body = await reader.readexactly(int(headers["content-length"]))
        self.idle.append((reader, writer))
        return Answer(int(lines[0][9:12]), headers, body)

    def close(self) -> None:
        for writer in self.opened:
            writer.close()


class Reply(Protocol):
    """What the retry loop reads of a response (httpx's or an `Answer`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


R = TypeVar("R", bound=Reply)
CONNECTION_ERRORS = (OSError, asyncio.IncompleteReadError, TimeoutError, httpx.TransportError)


class Client:
    """A client that retries 503 (honouring Retry-After) and connection errors, sending one
    `Idempotency-Key` per write across its retries: httpx for the scenarios' bookkeeping, and
    `Connections` for the measured uploads (`post`)."""

    def __init__(self, url: str, key: str, stats: Stats, retries: int = 8) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=400),
        )
        self.raw = Connections(url, {"Authorization": f"Bearer {key}"})
        self.stats, self.retries = stats, retries

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        headers = {**kwargs.pop("headers", {})}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return await self._retried(
            lambda: self.http.request(method, path, headers=headers, **kwargs)
        )

    async def post(self, path: str, body: bytes, media_type: str) -> Answer | None:
        """A POST of encoded bytes over the raw connections."""
        headers = {"Content-Type": media_type, "Idempotency-Key": uuid.uuid4().hex}
        return await self._retried(lambda: self.raw.send("POST", path, body, headers))

    async def _retried(self, send: Callable[[], Awaitable[R]]) -> R | None:
        start, delay = time.monotonic(), 0.25
        for attempt in range(self.retries + 1):
            try:
                response = await send()
            except CONNECTION_ERRORS:
                if attempt == self.retries:
                    self.stats.record(start, "connection-error")
                    return None
                self.stats.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 4)
                continue
            if response.status_code == 503 and attempt < self.retries:
                self.stats.retries += 1
                await asyncio.sleep(float(response.headers.get("retry-after", delay)))
                continue
            self.stats.record(start, str(response.status_code))
            return response
        return None

    async def close(self) -> None:
        self.raw.close()
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
def deployment(
    backend: str, data_dir: Path, settings: dict[str, str] | None = None
) -> Iterator[Deployment]:
    """Embedded SQLite, or a fresh PostgreSQL database plus a private Redis; `settings` are
    more `MESASCOPE_*` settings (`--setting`)."""
    tuning = {
        "bootstrap_resamples": "2",
        "reaper_interval_seconds": "2",
        "lease_seconds": "10",
        "worker_nice": "10",  # jobs yield the CPU to the API on this shared machine
    }
    if backend == "sqlite":
        yield Deployment(mesascope_env(data_dir, **tuning, **(settings or {})), data_dir)
        return
    from tests.service.conftest import drop_postgres_database, fresh_postgres_database

    url, port = fresh_postgres_database(), free_port()
    # Three API processes (serve, and two for the list phase) and the workers must fit the
    # server's max_connections (100 by default): 18 threads, so 20 connections, per process.
    tuning["threads"] = "18"
    tuning.update(settings or {})
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
    try:
        _wait_ready(url)
        yield url, popen
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


@contextmanager
def api_processes(dep: Deployment, count: int) -> Iterator[tuple[str, Path, int]]:
    """`count` API processes (uvicorn's `--workers`) on a spare port, no job workers; their
    URL, log and master's pid."""
    port = free_port()
    log = dep.data_dir / f"api-{port}.log"
    popen = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.load:api_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(count),
         "--no-access-log", "--log-level", "warning"],
        env=dep.env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        yield url, log, popen.pid
    finally:
        popen.send_signal(signal.SIGINT)
        try:
            popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def _wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def admin_key(dep: Deployment) -> str:
    """The admin key the first `serve` printed."""
    for log in dep.data_dir.glob("serve-*.log"):
        if match := KEY_LINE.search(log.read_text(errors="replace")):
            return match.group(1)
    raise RuntimeError("no admin key printed")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """A process's child processes, started from any of its threads (uvicorn's workers are its
    master's; `serve` starts its job workers' process from another thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def descendants(pid: int) -> list[int]:
    """A process's children, their children, and so on (`serve`'s job workers)."""
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def postgres_backends() -> list[int]:
    """The PostgreSQL server's processes (every client's: others' load shows here too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"postgres"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuShares:
    """Where the CPU went during a phase: the API, the job workers, PostgreSQL, this client,
    and the whole machine (from /proc/stat), as CPU seconds over the phase's wall time."""

    def __init__(self, api_pid: int) -> None:
        self.api_pid = api_pid
        self.before = {pid: _alive_cpu([pid]) for pids in self.groups().values() for pid in pids}
        self.sched = _schedstat(api_pid)
        self.client, self.machine = time.process_time(), _machine_busy()
        self.start = time.monotonic()

    def groups(self) -> dict[str, list[int]]:
        """The processes of each group now (PostgreSQL starts a backend per new connection)."""
        return {
            "API": [self.api_pid],
            "job workers": descendants(self.api_pid),
            "PostgreSQL": postgres_backends(),
        }

    def report(self) -> None:
        wall = time.monotonic() - self.start
        used = {
            name: sum(_alive_cpu([pid]) - self.before.get(pid, 0.0) for pid in pids)
            for name, pids in self.groups().items()
        }
        used["this client"] = time.process_time() - self.client
        used["machine (all)"] = _machine_busy() - self.machine
        parts = ", ".join(f"{name} {cpu:.1f} s" for name, cpu in used.items())
        print(f"{'':39s}CPU over {wall:.1f} s: {parts}")
        (loop_ran, loop_waited), (all_ran, all_waited) = (
            (after - before for after, before in zip(now, then, strict=True))
            for now, then in zip(_schedstat(self.api_pid), self.sched, strict=True)
        )
        print(
            f"{'':39s}API event loop ran {loop_ran:.1f} s, waited {loop_waited:.1f} s for a CPU; "
            f"all its threads ran {all_ran:.1f} s, waited {all_waited:.1f} s for a CPU"
        )


def _alive_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds([pid])
        except (OSError, IndexError):  # exited meanwhile
            continue
    return total


def _schedstat(pid: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(ran, waited in the run queue) in seconds: of the process's main thread (the API's event
    loop), and summed over all its threads (/proc/PID/task/TID/schedstat)."""
    main, total = (0.0, 0.0), [0.0, 0.0]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ran, waited = (int(x) / 1e9 for x in (task / "schedstat").read_text().split()[:2])
        except (OSError, ValueError):
            continue
        total[0], total[1] = total[0] + ran, total[1] + waited
        if task.name == str(pid):
            main = (ran, waited)
    return main, (total[0], total[1])


def _machine_busy() -> float:
    """CPU seconds all cores spent outside idle and iowait since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU time some processes use between `start()` and `report(n)`, per request: the
    server's own cost, whatever else shares the machine."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.before = cpu_seconds(pids)

    def report(self, requests: int) -> None:
        used = cpu_seconds(self.pids) - self.before
        per = used / max(requests, 1) * 1000
        print(f"{'':39s}API CPU {used:.1f} s for {requests} requests: {per:.1f} ms each")


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
    # Built and encoded before the clock starts, once: a retry sends the same bytes again.
    bodies = [json.dumps(rollout_body(i, run)).encode() for i in range(count)]

    async def one(i: int) -> tuple[str, str | None]:
        response = await client.post("/v1/rollouts", bodies[i], "application/json")
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
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
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
    unacked = [n for n in names if n not in acknowledged]
    verdict = "OK" if not missing and not duplicated else "FAIL"
    return (
        f"ledger uploads {verdict}: {len(acknowledged)} acked, {len(missing)} missing, "
        f"{len(duplicated)} duplicated, {len(unacked)} stored unacknowledged"
    )


@dataclass
class JobWatch:
    """When a set of jobs left `queued` and when each reached a final status."""

    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    all_started: float | None = None
    all_done: float | None = None


async def watch_jobs(client: Client, ids: list[str], timeout: float) -> JobWatch:
    """Poll the jobs (one list call per pass) until all are final or `timeout` passes."""
    watch = JobWatch(pending=set(ids))
    start, wanted = time.monotonic(), set(ids)
    while watch.pending and time.monotonic() < start + timeout:
        try:
            rows = {r["id"]: r for r in await list_all(client, "/v1/inferences")}
        except httpx.HTTPError:
            await asyncio.sleep(0.5)
            continue
        mine = [rows[i] for i in wanted if i in rows]
        if watch.all_started is None and all(r["status"] != "queued" for r in mine):
            watch.all_started = time.monotonic()
        for row in mine:
            if row["status"] in TERMINAL and row["id"] in watch.pending:
                watch.final[row["id"]] = row
                watch.pending.discard(row["id"])
        if not watch.pending:
            watch.all_done = time.monotonic()
            break
        await asyncio.sleep(0.5)
    return watch


async def first_job_started(client: Client, ids: list[str], timeout: float = 120) -> None:
    """Wait until a worker has taken one of the jobs: the workers have finished starting (their
    imports take seconds of CPU), as in a service that has been up for a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await list_all(client, "/v1/inferences")
        if any(r["status"] != "queued" for r in rows if r["id"] in ids):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no job started within {timeout:g} s")


def job_ledger(ids: list[str], watch: JobWatch) -> str:
    """Every submitted job reached `succeeded`, once (a second run would show as attempts > 1
    after a lost lease; a second result cannot be stored, see inferences/jobs.py)."""
    statuses = Counter(b["status"] for b in watch.final.values())
    attempts = Counter(b["attempts"] for b in watch.final.values())
    ok = not watch.pending and statuses.get("succeeded", 0) == len(ids) == len(set(ids))
    verdict = "OK" if ok else "FAIL"
    return (
        f"ledger jobs {verdict}: {len(ids)} submitted, {dict(statuses)}, "
        f"{len(watch.pending)} unfinished, attempts {dict(attempts)}"
    )


async def scenario_uploads(url: str, api_pid: int, key: str, args: argparse.Namespace) -> None:
    """N concurrent uploads while M jobs run."""
    setup = Client(url, key, Stats("setup"))
    seed = await setup.request("POST", "/v1/rollouts", json=rollout_body(0, "seed", n=40))
    assert seed is not None and seed.status_code == 201, seed
    jobs = await submit_jobs(setup, seed.json()["id"], args.jobs)
    await first_job_started(setup, jobs)
    stats = Stats(f"{args.uploads} uploads while {args.jobs} jobs run")
    client = Client(url, key, stats)
    run = uuid.uuid4().hex[:6]
    meter, shares = CpuMeter([api_pid]), CpuShares(api_pid)
    acked = await upload_all(client, run, args.uploads)
    meter.report(len(stats.latencies) + stats.retries)
    shares.report()
    stats.report(await upload_ledger(client, run, acked))
    print(" " * 39 + job_ledger(jobs, await watch_jobs(setup, jobs, DEADLINE_S)))
    await client.close()
    await setup.close()


class PacedGets:
    """GETs sent at a fixed rate over keep-alive HTTP/1.1 connections (`Connections`), open
    loop: request i is due at `start + i / rate` and its latency counts from then, so a server
    that falls behind shows as latency instead of slowing the load down."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.connections = Connections(url, headers)

    async def get(self, path: str) -> str:
        """One GET; its status, or `connection-error`."""
        try:
            return str((await self.connections.send("GET", path)).status_code)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            return f"connection-error ({type(exc).__name__})"

    async def run(self, paths: list[tuple[str, str]], rate: float, seconds: float) -> list[Stats]:
        """Send `rate * seconds` requests cycling through (label, path); stats per label.

        The cyclic garbage collector is off during a phase: its full collections in this
        process (60–140 ms) would delay requests and count as the server's latency."""
        stats = {label: Stats(label) for label, _ in paths}
        gc.collect()
        gc.disable()
        try:
            return await self._run(paths, stats, rate, seconds)
        finally:
            gc.enable()

    async def _run(
        self, paths: list[tuple[str, str]], stats: dict[str, Stats], rate: float, seconds: float
    ) -> list[Stats]:

        async def one(label: str, path: str, due: float) -> None:
            stats[label].record(due, await self.get(path))

        tasks = []
        start = time.monotonic() + 0.1
        for i in range(int(rate * seconds)):
            due = start + i / rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            label, path = paths[i % len(paths)]
            tasks.append(asyncio.create_task(one(label, path, due)))
        await asyncio.gather(*tasks)
        self.connections.close()
        return list(stats.values())


def server_latencies(log: Path, offset: int) -> dict[str, Stats]:
    """The server's own answers logged after `offset`, by `METHOD route` (ids replaced by
    `{id}`): statuses, and the durations of the 2xx ones."""
    found: dict[str, Stats] = {}
    with log.open("rb") as handle:
        handle.seek(offset)
        for line in handle:
            if b'"duration_ms"' not in line or b'"mesascope.request"' not in line:
                continue
            entry = json.loads(line)
            method, path = entry["message"].split(" ")[:2]
            route = f"{method} {re.sub(r'/[a-z]+_[0-9a-z]{12,}', '/{id}', path)}"
            stats = found.setdefault(route, Stats(route))
            stats.statuses[str(entry["status"])] += 1
            if entry["status"] < 300:
                stats.latencies.append(entry["duration_ms"] / 1000)
    return found


def print_server_side(found: dict[str, Stats]) -> None:
    for route, stats in sorted(found.items()):
        print(
            f"    server {route:34s} 2xx {percentiles(stats.latencies)}  "
            f"statuses {dict(stats.statuses)}"
        )


async def ready_inference(client: Client) -> str:
    """The id of a succeeded inference (a small rollout set and one job, waited for)."""
    seed = await client.request("POST", "/v1/rollouts", json=rollout_body(7, "reads", n=40))
    assert seed is not None and seed.status_code == 201, seed
    ids = await submit_jobs(client, seed.json()["id"], 3)
    watch = await watch_jobs(client, ids, 120)
    done = [i for i, b in watch.final.items() if b["status"] == "succeeded"]
    assert done, f"no inference succeeded: {job_ledger(ids, watch)}"
    return done[0]


async def scenario_reads(
    dep: Deployment, url: str, api_pid: int, key: str, args: argparse.Namespace
) -> None:
    """The read mix against `serve` at `--rate`, then the list alone at `--list-rate` against
    `--api-processes` API processes."""
    setup = Client(url, key, Stats("setup"))
    inference_id = await ready_inference(setup)
    await setup.close()
    headers = {"Authorization": f"Bearer {key}"}  # the dashboard accepts API keys too
    mix = [
        ("GET /v1/inferences", "/v1/inferences"),
        ("GET /v1/rollouts", "/v1/rollouts"),
        ("GET /v1/inferences/{id}", f"/v1/inferences/{inference_id}"),
        ("GET /v1/inferences/{id}/divergence", f"/v1/inferences/{inference_id}/divergence"),
        ("GET / (dashboard list)", "/"),
        ("GET /inferences/{id} (dashboard)", f"/inferences/{inference_id}"),
    ]
    log = next(dep.data_dir.glob(f"serve-{url.rsplit(':', 1)[1]}.log"))
    offset = log.stat().st_size
    await PacedGets(url, headers).run(mix, 6, 1)  # warm: first renders compile templates
    print(f"read mix at {args.rate:g}/s for {args.seconds:g} s against `serve` (1 API process)")
    meter = CpuMeter([api_pid])
    for stats in await PacedGets(url, headers).run(mix, args.rate, args.seconds):
        stats.report()
    meter.report(int(args.rate * args.seconds))
    print_server_side(server_latencies(log, offset))
    with api_processes(dep, args.api_processes) as (api_url, api_log, master):
        workers = children(master)
        paced = PacedGets(api_url, headers)
        await paced.run(mix[:1], 20, 1)  # both processes' pools warm
        for rate in (float(r) for r in args.list_rates.split(",")):
            print(
                f"GET /v1/inferences alone at {rate:g}/s for {args.seconds:g} s against "
                f"{args.api_processes} API processes"
            )
            offset = api_log.stat().st_size
            meter = CpuMeter(workers)
            for stats in await PacedGets(api_url, headers).run(mix[:1], rate, args.seconds):
                stats.report()
            meter.report(int(rate * args.seconds))
            print_server_side(server_latencies(api_log, offset))


async def scenario_api_kill(dep: Deployment, args: argparse.Namespace) -> None:
    """SIGKILL `serve` while uploads are in flight, restart it; the client retries."""
    with serve(dep) as (url, popen):
        key = admin_key(dep)
        stats = Stats(f"API killed during {args.uploads} uploads")
        client = Client(url, key, stats, retries=12)
        run = uuid.uuid4().hex[:6]
        uploads = asyncio.create_task(upload_all(client, run, args.uploads))
        await asyncio.sleep(2.0)
        popen.kill()
        popen.wait()
        killed = time.monotonic()
        port = int(url.rsplit(":", 1)[1])
        restarted = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"],
            env=dep.env, stdout=(dep.data_dir / "restart.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            acked = await uploads
            stats.report(await upload_ledger(client, run, acked))
            print(f"{'':39s}restarted and all answered {time.monotonic() - killed:.1f} s after")
        finally:
            await client.close()
            restarted.send_signal(signal.SIGINT)
            restarted.wait(timeout=30)


async def scenario_redis_kill(
    url: str, key: str, dep: Deployment, args: argparse.Namespace
) -> None:
    """Kill Redis with jobs queued, submit more while it is down, restart it empty."""
    stats = Stats("jobs submitted around a Redis kill")
    client = Client(url, key, stats)
    deadline = time.monotonic() + 120  # workers up (/readyz), so the wait measured is the queue's
    while (await client.http.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    seed = await client.request("POST", "/v1/rollouts", json=rollout_body(1, "redis", n=40))
    assert seed is not None and seed.status_code == 201
    jobs = await submit_jobs(client, seed.json()["id"], 10)
    dep.stop_redis()
    jobs += await submit_jobs(client, seed.json()["id"], 10)
    ready = (await client.http.get("/readyz")).status_code
    await asyncio.sleep(3)
    dep.start_redis()
    back = time.monotonic()
    watch = await watch_jobs(client, jobs, DEADLINE_S)
    stats.report(f"/readyz while down {ready}")
    started = f"{watch.all_started - back:.1f} s" if watch.all_started else "never"
    done = f"{watch.all_done - back:.1f} s" if watch.all_done else "never"
    print(
        f"{'':39s}{job_ledger(jobs, watch)}; after Redis returned: "
        f"none queued {started}, all done {done}"
    )
    await client.close()


async def main(args: argparse.Namespace) -> None:
    scenarios = args.scenarios.split(",")
    with (
        tempfile.TemporaryDirectory(prefix="mesascope-load-") as tmp,
        deployment(args.backend, Path(args.keep or tmp), dict(args.setting)) as dep,
    ):
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"backend {args.backend}; scenarios {scenarios}; {os.cpu_count()} CPUs, "
            f"load average before {load}"
        )
        with serve(dep) as (url, popen):
            key = admin_key(dep)
            if "uploads" in scenarios:
                await _bounded(scenario_uploads(url, popen.pid, key, args))
            if "reads" in scenarios:
                await _bounded(scenario_reads(dep, url, popen.pid, key, args))
            if "redis-kill" in scenarios:
                if dep.redis_port is None:
                    print("redis-kill: PostgreSQL+Redis backend only (SQLite's queue is a file)")
                else:
                    await _bounded(scenario_redis_kill(url, key, dep, args))
        if "api-kill" in scenarios:
            await _bounded(scenario_api_kill(dep, args))


async def _bounded(scenario: Coroutine[Any, Any, None]) -> None:
    """Run a scenario for at most DEADLINE_S; a timeout is reported, not raised."""
    try:
        await asyncio.wait_for(scenario, DEADLINE_S)
    except TimeoutError:
        print(f"scenario timed out after {DEADLINE_S:g} s")


def api_app() -> Any:
    """The app as each of several `uvicorn --workers` processes builds it, with the JSON
    request log `serve` configures (the reads scenario's server-side latencies)."""
    from service.app import create_app
    from service.core.logging import configure_logging

    configure_logging()
    return create_app()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scenarios", default="uploads,reads,redis-kill,api-kill")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="read mix, requests/s")
    parser.add_argument(
        "--list-rates", default="100,200,500", help="list alone, requests/s, one phase each"
    )
    parser.add_argument("--api-processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="each read phase's length")
    parser.add_argument("--keep", help="an empty directory for the data and logs, kept after")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        metavar="NAME=VALUE",
        help="a mesascope setting for every process (e.g. write_concurrency=2); repeatable",
    )
    return parser.parse_args()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    asyncio.run(main(parse_args()))
