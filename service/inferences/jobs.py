"""Running a job under a lease, and reaping jobs whose worker died.

The database row is the source of truth. A worker claims a queued job by a compare-and-set
update that stores a fresh lease token, renews the lease from a heartbeat thread while it
works, and writes results only while its token is still on the row. A reaper re-queues jobs
whose lease lapsed (the worker was killed) and fails them after `max_attempts`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from irl.algorithms import Cancelled, Progress
from irl.errors import InvalidInputError
from service.core.db import unit_of_work
from service.core.logging import log_context
from service.core.metrics import JOBS_FINISHED, JOBS_REAPED
from service.core.models import utcnow
from service.core.settings import Settings
from service.inferences import repository

if TYPE_CHECKING:  # the computation (and torch) load in worker processes only
    from service.inferences.compute import InferenceOutcome

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
InQueue = Callable[[], Collection[str]]


class LeaseLost(Exception):
    """Another worker (or the reaper) took the job; stop without writing anything."""


@dataclass
class LeaseKeeper:
    """Renews a job's lease from a background thread and relays progress and cancellation."""

    settings: Settings
    inference_id: str
    token: str
    progress: float = 0.0
    lost: bool = False
    cancelled: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def interval(self) -> float:
        """Seconds between renewals: a third of the lease, at most two seconds."""
        return min(self.settings.lease_seconds / 3, 2.0)

    def beat(self) -> None:
        """Renew once, recording progress and noticing cancellation or a lost lease."""
        with unit_of_work(self.settings) as uow:
            held, cancel = repository.renew(
                uow.session,
                self.inference_id,
                token=self.token,
                lease=self.settings.lease_seconds,
                progress=round(self.progress, 4),
            )
        self.lost = self.lost or not held
        self.cancelled = self.cancelled or cancel

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a transient database error must not kill the heartbeat
                log.exception("lease renewal failed for %s", self.inference_id)

    def should_stop(self) -> bool:
        """Checked by the algorithm between iterations."""
        return self.lost or self.cancelled

    def on_progress(self, update: Progress) -> None:
        """Remember the latest progress; the heartbeat writes it."""
        self.progress = min(max(update.fraction, 0.0), 0.99)

    def __enter__(self) -> LeaseKeeper:
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{self.inference_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def worker_identity() -> str:
    """host:pid of this worker process, stored as the lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run(inference_id: str, settings: Settings) -> str:
    """Claim and run one job; returns the status it ended in (or `skipped` if not claimed).
    Every log line of the job carries its inference id."""
    with log_context(inference_id=inference_id):
        return _run(inference_id, settings)


def _run(inference_id: str, settings: Settings) -> str:
    token = secrets.token_hex(16)
    with unit_of_work(settings) as uow:
        claimed = repository.claim(
            uow.session,
            inference_id,
            owner=worker_identity(),
            token=token,
            lease=settings.lease_seconds,
        )
    if not claimed:
        log.info("job %s not claimable (finished, cancelled or taken)", inference_id)
        return "skipped"
    from service.inferences.compute import compute

    started = time.monotonic()
    keeper = LeaseKeeper(settings, inference_id, token)
    status, outcome, error = "failed", None, None
    with keeper:
        try:
            outcome = compute(
                inference_id, settings, progress=keeper.on_progress, should_stop=keeper.should_stop
            )
            status = "succeeded"
        except Cancelled:
            status = "cancelled"
        except InvalidInputError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("job %s failed", inference_id)
            error = f"{type(exc).__name__}: {exc}"
    if keeper.lost:
        log.warning("job %s: lease lost; discarding this attempt's result", inference_id)
        return "lost"
    if status == "cancelled" and not keeper.cancelled:
        return "lost"
    elapsed = time.monotonic() - started
    return _write_result(settings, inference_id, token, status, outcome, error, elapsed)


def _write_result(
    settings: Settings,
    inference_id: str,
    token: str,
    status: str,
    outcome: InferenceOutcome | None,
    error: str | None,
    elapsed: float,
) -> str:
    """Store the final state in one transaction, only while we still hold the lease."""
    from service.inferences.compute import store_outcome

    try:
        with unit_of_work(settings) as uow:
            fields: dict[str, object] = {"error": error}
            if outcome is not None:
                fields.update(
                    progress=1.0,
                    verdict=outcome.verdict,
                    epic=outcome.epic,
                    curve=list(outcome.curve),
                    log=[*outcome.log, f"finished in {elapsed:.2f} s"],
                    fit_diagnostics=outcome.fit_diagnostics,
                )
            if not repository.finish(
                uow.session, inference_id, token=token, status=status, **fields
            ):
                raise LeaseLost(inference_id)
            if outcome is not None:
                store_outcome(uow.session, inference_id, outcome)
    except LeaseLost:
        log.warning("job %s: lease lost before writing the result", inference_id)
        return "lost"
    JOBS_FINISHED.labels(status=status).inc()
    return status


def reap(settings: Settings, enqueue: Enqueue, in_queue: InQueue | None = None) -> list[str]:
    """Re-queue jobs with lapsed leases (or fail them), and re-send lost queue messages.

    With `in_queue` (the job ids the queue holds), a `queued` row older than one reaper
    interval whose id is not in the queue is re-sent at once: its message was lost (the queue
    was down at submit time, or restarted empty). Without it, only rows queued longer than
    `requeue_stale_after_seconds` are re-sent. A job in the queue is never sent twice; a
    message taken by a worker that has not claimed the row yet may be, which `claim` makes
    harmless. Among several reapers, `mark_enqueued` lets exactly one re-send a job."""
    requeue = _release_expired_leases(settings)
    failed = _send(enqueue, requeue)
    if in_queue is None:
        stale_before = utcnow() - timedelta(seconds=settings.requeue_stale_after_seconds)
        present: Collection[str] = ()
    else:
        stale_before = utcnow() - timedelta(seconds=settings.reaper_interval_seconds)
        present = in_queue()  # read before the rows, so a message sent after is not missed
    resend: list[str] = []
    with unit_of_work(settings) as uow:
        for job_id in repository.stale_queued(uow.session, stale_before):
            if job_id in present or job_id in requeue:
                continue
            if repository.mark_enqueued(uow.session, job_id, stale_before):
                resend.append(job_id)
    failed += _send(enqueue, resend)
    if failed:
        log.warning("queue unavailable; will re-send %s on a later pass", ", ".join(failed))
    return [job_id for job_id in requeue + resend if job_id not in failed]


def _release_expired_leases(settings: Settings) -> list[str]:
    """Move jobs whose lease lapsed back to `queued` (or to a final status); their ids."""
    now = utcnow()
    requeue: list[str] = []
    with unit_of_work(settings) as uow:
        for job_id, attempts, cancel in repository.expired_leases(uow.session, now):
            if cancel:
                values = {"status": "cancelled", "finished_at": now}
            elif attempts >= settings.max_attempts:
                values = {
                    "status": "failed",
                    "finished_at": now,
                    "error": f"worker lost {attempts} time(s); giving up",
                }
            else:
                values = {"status": "queued", "enqueued_at": now}
            if repository.release_expired(uow.session, job_id, now, **values):
                JOBS_REAPED.labels(outcome=str(values["status"])).inc()
                if values["status"] == "queued":
                    requeue.append(job_id)
    return requeue


def _send(enqueue: Enqueue, job_ids: list[str]) -> list[str]:
    """Enqueue each job; the ids the queue refused (their rows stay `queued`)."""
    failed = []
    for job_id in job_ids:
        try:
            enqueue(job_id)
        except Exception:
            failed.append(job_id)
    return failed


class Reaper(threading.Thread):
    """A daemon thread that calls `reap` every `reaper_interval_seconds`.

    Every process that can run one does (the API and each worker): reaping is a set of
    compare-and-set updates, so reapers never conflict and none depends on one process."""

    def __init__(
        self, settings: Settings, enqueue: Enqueue, in_queue: InQueue | None = None
    ) -> None:
        super().__init__(name="mesascope-reaper", daemon=True)
        self.settings, self.enqueue, self.in_queue = settings, enqueue, in_queue
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.reaper_interval_seconds):
            try:
                if requeued := reap(self.settings, self.enqueue, self.in_queue):
                    log.warning("reaper re-queued %s", ", ".join(requeued))
            except Exception as exc:
                log.warning("reaper pass failed: %s: %s", type(exc).__name__, exc)
