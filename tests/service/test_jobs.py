"""The lease protocol: claim once, reap lapsed leases, give up after max attempts, and only the
lease holder writes results."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from service.core.db import unit_of_work
from service.core.models import Inference, utcnow
from service.core.settings import Settings
from service.inferences import jobs, repository
from tests.service.conftest import Queue
from tests.service.data import corridor_rollouts


async def _queued_job(client: httpx.AsyncClient, queue: Queue) -> str:
    rollouts = (await client.post("/v1/rollouts", json=corridor_rollouts())).json()
    job = (
        await client.post(
            "/v1/inferences", json={"rollouts_id": rollouts["id"], "algorithm": "mce_irl"}
        )
    ).json()
    queue.ids.clear()
    return str(job["id"])


def _row(settings: Settings, job_id: str) -> Inference:
    with unit_of_work(settings) as uow:
        row = repository.get_any(uow.session, job_id)
        assert row is not None
        return row


def _claim(settings: Settings, job_id: str, token: str) -> bool:
    with unit_of_work(settings) as uow:
        return repository.claim(uow.session, job_id, owner="test:1", token=token, lease=60)


def _expire(settings: Settings, job_id: str) -> None:
    with unit_of_work(settings) as uow:
        uow.session.execute(
            update(Inference)
            .where(Inference.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_a_job_is_claimed_once(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    assert _claim(settings, job_id, "a")
    assert not _claim(settings, job_id, "b")
    assert jobs.run(job_id, settings) == "skipped"


async def test_reaper_requeues_a_dead_workers_job(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    assert _claim(settings, job_id, "dead-worker")
    assert jobs.reap(settings, queue) == []  # lease still valid
    _expire(settings, job_id)
    assert jobs.reap(settings, queue) == [job_id]
    assert _row(settings, job_id).status == "queued"
    assert queue.drain() == ["succeeded"]
    row = _row(settings, job_id)
    assert (row.status, row.attempts) == ("succeeded", 2)
    # the dead worker's token can no longer write anything
    with unit_of_work(settings) as uow:
        assert not repository.finish(uow.session, job_id, token="dead-worker", status="failed")


async def test_gives_up_after_max_attempts(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    for attempt in range(settings.max_attempts):
        assert _claim(settings, job_id, f"t{attempt}")
        _expire(settings, job_id)
        jobs.reap(settings, queue)
    row = _row(settings, job_id)
    assert row.status == "failed" and "worker lost 3 time(s)" in (row.error or "")
    assert queue.ids == [job_id, job_id]


async def test_lost_lease_discards_the_result(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    assert _claim(settings, job_id, "slow")
    _expire(settings, job_id)
    jobs.reap(settings, queue)
    assert _claim(settings, job_id, "fast")
    keeper = jobs.LeaseKeeper(settings, job_id, "slow")
    keeper.beat()
    assert keeper.lost and keeper.should_stop()


async def test_cancel_reaches_a_running_job(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    assert _claim(settings, job_id, "tok")
    response = await client.post(f"/v1/inferences/{job_id}/cancel")
    assert response.status_code == 202 and response.json()["cancel_requested"]
    keeper = jobs.LeaseKeeper(settings, job_id, "tok")
    keeper.beat()
    assert keeper.cancelled and not keeper.lost


async def test_stale_queue_messages_are_resent(
    client: httpx.AsyncClient, queue: Queue, settings: Settings
) -> None:
    job_id = await _queued_job(client, queue)
    with unit_of_work(settings) as uow:
        uow.session.execute(
            update(Inference)
            .where(Inference.id == job_id)
            .values(enqueued_at=utcnow() - timedelta(hours=1))
        )
    assert jobs.reap(settings, queue) == [job_id]
    assert jobs.reap(settings, queue) == []
