"""Issue 17.4: several processes migrating a fresh database at the same moment all succeed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.processes import mesascope_env

RACERS = 16
"""Enough to hit the `alembic_version` race nearly every time without the lock (2 cores)."""


def _race(
    env: dict[str, str], args: list[str], *, module: bool = True, count: int = RACERS
) -> list[subprocess.CompletedProcess[str]]:
    """Start `count` `python -m service ARGS` (or `python ARGS`) at once and wait for them all."""
    racers = [
        subprocess.Popen(
            [sys.executable, *(["-m", "service"] if module else []), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
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


FIRST_KEY = """
import os, time
from service.cli import _first_admin_key
from service.core.db import unit_of_work  # imported before the start signal, like the rest
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
print(_first_admin_key() or "")
"""
"""Imports first, then every racer checks for keys at the same instant (START_AT)."""


def test_first_start_creates_one_admin_key(postgres_url: str, tmp_path: Path) -> None:
    """`serve` processes started together on an empty database create one admin key between
    them, not one each (the first-start check and insert run under the migration lock)."""
    env = mesascope_env(tmp_path, database_url=postgres_url)
    subprocess.run([sys.executable, "-m", "service", "migrate"], env=env, check=True)
    env["START_AT"] = str(time.time() + 20)  # after every racer has imported the service
    done = _race(env, ["-c", FIRST_KEY], module=False, count=8)
    assert all(d.returncode == 0 for d in done), [d.stderr[-500:] for d in done]
    printed = [d.stdout.strip() for d in done if d.stdout.strip()]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one()
    engine.dispose()
    assert (len(printed), keys) == (1, 1)
