"""The API process loads no torch: it starts in seconds, which is what a client retrying
through an API restart (or a deploy) waits for. Only job workers train networks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_and_its_reaper_import_without_torch() -> None:
    code = (
        "import sys, service.app, service.inferences.tasks; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'imitation') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
