"""Benchmark the dashboard's server time with 10,000 inferences in the database.

Builds a migrated database (SQLite in a temporary directory, or --database-url), one project
with a few rollout sets and --n inferences spread over statuses, verdicts and EPIC values, and
one inference run for real (so its page has a reward, a report, heatmaps and a curve). It then
times, in process through the ASGI app (auth, SQL, rendering; no network), the list page's
first page, filtered pages, a later page, an inference page and the compare view, and as the
reference in the same run the JSON list `GET /v1/inferences`. Medians and 95th percentiles in
ms, the ratio of each median to the reference's, and the list queries' plans (EXPLAIN).

    .venv/bin/python -m benchmarks.dashboard [--n 10000] [--repeat 60] [--trajectories 40]
        [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from service.app import create_app
from service.auth.service import create_key
from service.core.db import engine_for, migrate, unit_of_work
from service.core.models import Inference, new_id
from service.core.settings import Settings
from service.dashboard import repository
from service.dashboard.repository import InferenceFilters
from service.inferences import jobs
from tests.e2e.scenario import expert_rollouts

TARGET_MS = 150.0
VERDICTS = ("generalises", "capability_failure", "goal_misgeneralization", "inconclusive")


def fill(
    settings: Settings, client: httpx.Client, n: int, enqueued: list[str], trajectories: int
) -> dict[str, Any]:
    """Rollout sets of `trajectories` each, one real inference, and n synthetic inference rows."""
    rollouts = []
    for seed in range(4):
        body = {
            **expert_rollouts(seed, n=trajectories),
            "name": f"agent {seed}",
            "tags": {"agent": f"a{seed}"},
        }
        rollouts.append(client.post("/v1/rollouts", json=body).raise_for_status().json())
    real = (
        client.post(
            "/v1/inferences", json={"rollouts_id": rollouts[0]["id"], "algorithm": "mce_irl"}
        )
        .raise_for_status()
        .json()["id"]
    )
    second = (
        client.post(
            "/v1/inferences", json={"rollouts_id": rollouts[1]["id"], "algorithm": "mce_irl"}
        )
        .raise_for_status()
        .json()["id"]
    )
    for job in enqueued:
        jobs.run(job, settings)
    with unit_of_work(settings) as uow:
        project_id = uow.session.get_one(Inference, real).project_id
    rng = random.Random(0)
    start = datetime.now(UTC) - timedelta(days=30)
    rows = []
    for i in range(n):
        ro = rollouts[i % len(rollouts)]
        status = rng.choices(
            ("succeeded", "failed", "cancelled", "queued", "running"), (85, 5, 4, 3, 3)
        )[0]
        done = status == "succeeded"
        rows.append(
            {
                "id": new_id("inf"),
                "project_id": project_id,
                "rollouts_id": ro["id"],
                "environment_id": ro["environment_id"],
                "algorithm": "mce_irl",
                "reward_model": "linear",
                "params": {},
                "seed": i,
                "status": status,
                "progress": 1.0 if done else rng.random(),
                "cancel_requested": False,
                "attempts": 1,
                "verdict": rng.choice(VERDICTS) if done else None,
                "epic": rng.random() if done else None,
                "created_at": start + timedelta(seconds=30 * 86400 * i / n),
            }
        )
    with unit_of_work(settings) as uow:
        for chunk in range(0, n, 2000):
            uow.session.execute(insert(Inference), rows[chunk : chunk + 2000])
    return {"project_id": project_id, "real": real, "second": second}


async def time_requests(
    app: Any, key: str, paths: dict[str, str], repeat: int
) -> dict[str, list[float]]:
    """Milliseconds per request for each path, requests interleaved, after a warm-up."""
    transport = httpx.ASGITransport(app=app)
    timings: dict[str, list[float]] = {name: [] for name in paths}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        for path in paths.values():
            (await client.get(path)).raise_for_status()
        for _ in range(repeat):
            for name, path in paths.items():
                started = time.perf_counter()
                response = await client.get(path)
                timings[name].append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    return timings


def plans(settings: Settings, project_id: str) -> dict[str, list[str]]:
    """EXPLAIN of the list query for the first page and each kind of filter."""
    cases = {
        "first page": InferenceFilters(),
        "verdict filter": InferenceFilters(verdict="goal_misgeneralization"),
        "status filter": InferenceFilters(status="running"),
        "tag filter": InferenceFilters(tag=("agent", "a1")),
        "free text": InferenceFilters(q="agent 2"),
        "EPIC sort": InferenceFilters(sort="epic_asc"),
    }
    engine = engine_for(settings.database_url)
    out = {}
    with engine.connect() as conn:
        for name, filters in cases.items():
            statement = repository.list_query(project_id, filters, None, 50)
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if settings.is_sqlite else "EXPLAIN "
            rows = conn.execute(text(prefix + str(compiled))).all()
            out[name] = [str(r[-1]) for r in rows]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument(
        "--trajectories", type=int, default=40, help="trajectories in each rollout set"
    )
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="mesascope-bench-"))
    settings = Settings(environment="test", data_dir=data_dir, database_url=args.database_url)
    migrate(settings.database_url)
    with unit_of_work(settings) as uow:
        key = create_key(uow.session, name="bench", project=f"bench-{time.time_ns()}")
    enqueued: list[str] = []
    app = create_app(settings, enqueue=enqueued.append, queue_check=lambda: None)
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        built = time.perf_counter()
        ids = fill(settings, client, args.n, enqueued, args.trajectories)
    if not settings.is_sqlite:
        with engine_for(settings.database_url).begin() as conn:
            conn.execute(text("ANALYZE"))  # what autovacuum does soon after a bulk load
        print(f"filled {args.n} inferences in {time.perf_counter() - built:.1f} s", file=sys.stderr)
    paths = {
        "reference: GET /v1/inferences (JSON, 50 rows)": "/v1/inferences",
        "list, first page": "/",
        "list, verdict filter": "/?verdict=goal_misgeneralization",
        "list, status + tag + text": "/?status=succeeded&tag=agent%3Da1&q=agent",
        "list, sorted by EPIC": "/?sort=epic_asc",
        "inference page": f"/inferences/{ids['real']}",
        "compare (2)": f"/compare?ids={ids['real']}&ids={ids['second']}",
    }
    timings = asyncio.run(time_requests(app, key, paths, args.repeat))
    backend = "SQLite" if settings.is_sqlite else "PostgreSQL"
    print(f"# dashboard server time, {args.n} inferences, {backend}, {args.repeat} requests each")
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    reference = statistics.median(next(iter(timings.values())))
    print(f"| {'request':46} | median ms | p95 ms | × reference | < {TARGET_MS:.0f} ms |")
    print(f"|{'-' * 48}|-----------|--------|-------------|----------|")
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        ok = "yes" if median < TARGET_MS else "NO"
        print(f"| {name:46} | {median:9.1f} | {p95:6.1f} | {median / reference:11.2f} | {ok:8} |")
    print()
    for name, lines in plans(settings, ids["project_id"]).items():
        print(f"{name}:")
        for line in lines:
            print(f"    {line}")


if __name__ == "__main__":
    main()
