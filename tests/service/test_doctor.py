"""`mesascope doctor` names what is wrong: schema behind, queue or workers down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from service.core.settings import Settings
from service.ops.doctor import diagnose
from service.ops.heartbeat import Heartbeat


def _statuses(settings: Settings) -> dict[str, str]:
    return {check.name: check.status for check in diagnose(settings)}


def test_a_healthy_service_is_all_ok(settings: Settings) -> None:
    Heartbeat(settings, concurrency=1).beat()
    statuses = _statuses(settings)
    assert {k: statuses[k] for k in ("database", "schema", "queue", "workers")} == dict.fromkeys(
        ("database", "schema", "queue", "workers"), "ok"
    )


def test_no_live_worker_is_an_error_with_what_to_do(settings: Settings) -> None:
    silent = settings.model_copy(update={"worker_stale_seconds": 0.0})
    (workers,) = [c for c in diagnose(silent) if c.name == "workers"]
    assert workers.status == "error" and "mesascope serve" in workers.hint


def test_a_queue_that_does_not_answer_is_an_error(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = settings.model_copy(update={"queue_url": f"redis://127.0.0.1:{port}/0"})
    (queue,) = [c for c in diagnose(down) if c.name == "queue"]
    assert queue.status == "error" and "MESASCOPE_QUEUE_URL" in queue.hint


def test_the_command_exits_1_and_says_to_migrate(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESASCOPE_")}
    env.update(MESASCOPE_DATA_DIR=str(tmp_path), COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-m", "service", "doctor"],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "schema" in done.stdout and "run `mesascope migrate`" in done.stdout
    assert "Traceback" not in done.stderr
