"""A worker process's heartbeat: a row in `worker_heartbeats` refreshed from a thread."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from service.core.db import unit_of_work
from service.core.models import utcnow
from service.core.settings import Settings
from service.ops import repository

log = logging.getLogger(__name__)
FORGET_AFTER = timedelta(days=1)
"""Rows of workers silent this long are deleted by any live worker."""


class Heartbeat(threading.Thread):
    """Writes this process's heartbeat every `heartbeat_seconds` until stopped."""

    def __init__(self, settings: Settings, *, concurrency: int) -> None:
        super().__init__(name="mesascope-heartbeat", daemon=True)
        self.settings, self.concurrency = settings, concurrency
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.stopped = threading.Event()

    def beat(self) -> None:
        """Write one heartbeat (and forget long-dead workers)."""
        with unit_of_work(self.settings) as uow:
            repository.beat(
                uow.session,
                self.worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.concurrency,
            )
            repository.prune(uow.session, utcnow() - FORGET_AFTER)

    def run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as exc:  # a database blip must not stop the heartbeat
                log.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)
            if self.stopped.wait(self.settings.heartbeat_seconds):
                break
        try:
            with unit_of_work(self.settings) as uow:
                repository.forget(uow.session, self.worker_id)
        except Exception as exc:
            log.warning("could not remove heartbeat: %s", exc)

    def stop(self) -> None:
        """Stop beating and remove this worker's row."""
        self.stopped.set()
        self.join(timeout=10)


def workers_alive(settings: Settings) -> int:
    """How many workers beat within the last `worker_stale_seconds`."""
    since = utcnow() - timedelta(seconds=settings.worker_stale_seconds)
    with unit_of_work(settings) as uow:
        return repository.count_alive(uow.session, since)
