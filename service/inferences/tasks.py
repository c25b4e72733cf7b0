"""The Huey task a worker runs for each inference job, and sending jobs to the queue."""

from __future__ import annotations

import logging
import os

from service.core.queue import huey
from service.core.settings import get_settings
from service.inferences import jobs
from service.ops.heartbeat import Heartbeat

log = logging.getLogger(__name__)


@huey.task()
def run_inference(inference_id: str) -> str:
    """Run one inference job under a lease (safe to deliver more than once)."""
    import torch  # loaded before the fork by `mesascope worker`

    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)
    return jobs.run(inference_id, settings)


def send_inference(inference_id: str) -> None:
    """Put a job on the queue; raises when the queue is unreachable."""
    run_inference(inference_id)


def enqueue_inference(inference_id: str) -> None:
    """Put a job on the queue after its row has committed. A queue outage is not the
    client's error: the `queued` row is the truth and the reaper sends it once the queue
    answers again (`jobs.reap`), so the submit still answers 202."""
    try:
        send_inference(inference_id)
    except Exception as exc:
        log.warning(
            "queue unavailable (%s: %s); job %s stays queued for the reaper",
            type(exc).__name__,
            exc,
            inference_id,
        )


def queued_inference_ids() -> set[str]:
    """The job ids whose messages are waiting in the queue now."""
    return {str(task.args[0]) for task in huey.pending() if task.args}


@huey.on_startup()
def _start_worker_threads() -> None:
    """Each worker process, once forked, lowers its CPU priority (`worker_nice`), and beats
    (`/readyz` counts it) and reaps from threads of its own."""
    global _heartbeat
    settings = get_settings()
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # jobs yield the CPU to API requests
    start_reaper()
    _heartbeat = Heartbeat(settings, concurrency=1)
    _heartbeat.start()


@huey.on_shutdown()
def _stop_heartbeat() -> None:
    """Remove this worker process's heartbeat row."""
    if _heartbeat is not None:
        _heartbeat.stop()


_heartbeat: Heartbeat | None = None


def start_reaper() -> jobs.Reaper:
    """Start this process's reaper thread (re-queues lost and orphaned jobs)."""
    reaper = jobs.Reaper(get_settings(), send_inference, queued_inference_ids)
    reaper.start()
    return reaper
