"""The science library imports without the service's frameworks, and without torch until a
network is trained."""

import subprocess
import sys

SCIENCE = (
    "irl",
    "irl.environments",
    "irl.trajectories",
    "irl.rewards",
    "irl.divergence",
    "irl.report",
    "irl.verdict",
    "irl.algorithms",
    "irl.io.environments",
    "irl.io.rewards",
    "irl.io.trajectories",
)
ABSENT = ("torch", "imitation", "stable_baselines3", "fastapi", "sqlalchemy", "huey")


def test_science_modules_import_without_torch_or_service_frameworks() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {SCIENCE!r}:\n"
        "    importlib.import_module(name)\n"
        "from irl.algorithms import fit_fast_mce, mce_irl\n"
        f"print(sorted(m for m in {ABSENT!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
