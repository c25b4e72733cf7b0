"""The Huey task a worker runs for each inference job."""

from __future__ import annotations

import torch

from service.core.queue import huey
from service.core.settings import get_settings
from service.inferences import jobs


@huey.task()
def run_inference(inference_id: str) -> str:
    """Run one inference job under a lease (safe to deliver more than once)."""
    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)
    return jobs.run(inference_id, settings)


def enqueue_inference(inference_id: str) -> None:
    """Put a job on the queue (called only after its row has committed)."""
    run_inference(inference_id)
