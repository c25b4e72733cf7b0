"""The API process loads no torch: it starts (and restarts) in seconds. Workers load it once,
before they fork (`mesascope worker`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ("torch", "imitation", "stable_baselines3")


def _loaded(code: str) -> list[str]:
    """`sys.modules` of a fresh interpreter after running `code`."""
    program = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_the_api_and_its_reaper_load_no_torch() -> None:
    loaded = _loaded(
        "from service.app import create_app\n"
        "from service.inferences.tasks import start_reaper, enqueue_inference\n"
        "from service.inferences import jobs"
    )
    assert "service.inferences.jobs" in loaded
    assert [m for m in loaded if m.split(".")[0] in TRAINING] == []


def test_the_check_sees_torch_where_a_job_computes() -> None:
    loaded = _loaded("import service.inferences.compute")
    assert "torch" in loaded
