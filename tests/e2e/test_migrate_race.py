"""Issue 17.4: several processes migrating a fresh database at the same moment all succeed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.processes import mesascope_env

RACERS = 16
"""Enough to hit the `alembic_version` race nearly every time without the lock (2 cores)."""


def _race(env: dict[str, str], args: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start RACERS `python -m service ARGS` at once and wait for all of them."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "service", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RACERS)
    ]
    done = []
    for popen in racers:
        out, err = popen.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(popen.args, popen.returncode, out, err))
    return done


def _assert_all_succeeded(done: list[subprocess.CompletedProcess[str]], url: str) -> None:
    failures = [d.stderr[-2000:] for d in done if d.returncode != 0]
    assert not failures, f"{len(failures)} of {RACERS} failed:\n" + "\n---\n".join(failures)
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1


def test_concurrent_migrate_on_fresh_postgres(postgres_url: str, tmp_path: Path) -> None:
    env = mesascope_env(tmp_path, database_url=postgres_url)
    _assert_all_succeeded(_race(env, ["migrate"]), postgres_url)
