"""Keeping `mesascope serve`'s process tree together: children restarted with backoff while
the supervisor lives, and killed with it when it dies (even by SIGKILL)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

PARENT_ENV = "MESASCOPE_PARENT_PID"
"""The pid a supervised process must die with (set by its supervisor)."""
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux PR_SET_PDEATHSIG),
    or, elsewhere, a thread that checks the parent every second. If the parent is already
    gone (it died before this call), exit now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def die_with_supervisor() -> None:
    """`die_with_parent` for a process started by a supervisor (the PARENT_ENV variable)."""
    if pid := os.environ.get(PARENT_ENV):
        die_with_parent(int(pid))


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1)
    os._exit(1)


class Supervisor(threading.Thread):
    """Runs one command as a child in its own process group and restarts it when it exits,
    after a delay that doubles from `min_delay` up to `max_delay` (reset once a child has
    stayed up `healthy_after` seconds). The child dies with this process: it gets PARENT_ENV
    and calls `die_with_supervisor` (the spawning thread is this one, which lives until
    `stop`, as PR_SET_PDEATHSIG requires)."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        min_delay: float = 0.5,
        max_delay: float = 30.0,
        healthy_after: float = 30.0,
    ) -> None:
        super().__init__(name="mesascope-supervisor", daemon=True)
        self.args = list(args)
        self.env = {**(env if env is not None else os.environ), PARENT_ENV: str(os.getpid())}
        self.min_delay, self.max_delay, self.healthy_after = min_delay, max_delay, healthy_after
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        delay = self.min_delay
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self.child = subprocess.Popen(self.args, env=self.env, start_new_session=True)
            started = time.monotonic()
            code = self.child.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self.healthy_after:
                delay = self.min_delay
            log.error("worker process exited (%s); restarting in %.1f s", code, delay)
            self.restarts += 1
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)

    def stop(self, timeout: float = 15) -> None:
        """Ask the child to finish its current task (SIGINT), then kill its process group."""
        with self._lock:
            self._stopping.set()
            child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # whatever is left of the tree
            child.wait()
        self.join(timeout=5)
