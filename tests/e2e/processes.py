"""Start and stop real `mesascope` processes for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

KEY_LINE = re.compile(r"admin API key \(shown once\): (msk_\S+)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mesascope_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for a mesascope process: this one's, plus MESASCOPE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESASCOPE_")}
    env.update(MESASCOPE_DATA_DIR=str(data_dir), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update({f"MESASCOPE_{k.upper()}": v for k, v in settings.items()})
    return env


@dataclass
class Process:
    """A running `mesascope` subprocess whose output goes to a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(args: list[str], env: Mapping[str, str], log_path: Path) -> Process:
    """Run `python -m service ARGS` in the background."""
    handle: IO[Any] = log_path.open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "service", *args],
        env=dict(env),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    return Process(popen, log_path)


def run(args: list[str], env: Mapping[str, str]) -> str:
    """Run a `mesascope` command to completion and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def wait_ready(url: str, process: Process, timeout: float = 180, *, workers: bool = True) -> None:
    """Poll /readyz until the server answers 200 (or, for a server started without workers,
    until only the worker check fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"server exited early:\n{process.log()}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            failing = {k for k, v in response.json()["checks"].items() if v != "ok"}
            if not workers and failing == {"workers"}:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server not ready after {timeout} s:\n{process.log()}")


def wait_for_key(process: Process, timeout: float = 120) -> str:
    """The admin key `serve` prints on first start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := KEY_LINE.search(process.log()):
            return match.group(1)
        time.sleep(0.1)
    raise TimeoutError(f"no admin key printed:\n{process.log()}")


def wait_for(
    client: httpx.Client,
    inference_id: str,
    *,
    timeout: float = 300,
    until: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    interval: float = 0.25,
) -> dict[str, Any]:
    """Poll an inference every `interval` seconds until its status is one of `until`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = (
            client.get(f"/v1/inferences/{inference_id}").raise_for_status().json()
        )
        if body["status"] in until:
            return body
        time.sleep(interval)
    raise TimeoutError(f"inference {inference_id} still {body['status']} after {timeout} s")


@contextmanager
def cluster(env: Mapping[str, str], log_dir: Path, *, workers: int) -> Iterator[str]:
    """The multi-machine layout on one host: `serve --workers 0` plus N `mesascope worker`
    processes sharing `env`; yields the API's URL once it is ready, stops them all after."""
    port = free_port()
    api = start(["serve", "--port", str(port), "--workers", "0"], env, log_dir / "api.log")
    pool = [
        start(["worker", "--concurrency", "1"], env, log_dir / f"worker{i}.log")
        for i in range(workers)
    ]
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, api)
        yield url
    finally:
        for process in (api, *pool):
            process.stop()


@dataclass
class Served:
    """A ready `mesascope serve` started on an empty data directory, with its admin key."""

    process: Process
    url: str
    key: str
    data_dir: Path

    def client(self, timeout: float = 60) -> httpx.Client:
        """An HTTP client authenticated with the admin key."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=timeout
        )


@contextmanager
def served(
    data_dir: Path, *, workers: int, log: str = "serve.log", **settings: str
) -> Iterator[Served]:
    """Run `mesascope serve` (API + N workers) until the block ends; first start prints the
    admin key, which is read from the log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = start(
        ["serve", "--port", str(port), "--workers", str(workers)],
        mesascope_env(data_dir, **settings),
        data_dir / log,
    )
    try:
        key = wait_for_key(process)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, workers=workers > 0)
        yield Served(process, url, key, data_dir)
    finally:
        process.stop()
