"""The client package is user-side: importing it (and its commands) loads no server code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_ROOTS = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "huey",
    "uvicorn",
    "torch",
    "irl",
)
"""Top-level packages of the server and the science, none of which the client needs."""


def _server_modules(loaded: list[str]) -> list[str]:
    """The loaded modules that belong to the server (or the science)."""
    return [
        name
        for name in loaded
        if name.split(".")[0] in FORBIDDEN_ROOTS
        or (name.startswith("service.") and not name.startswith("service.client"))
    ]


def _loaded_after_import(module: str) -> list[str]:
    """`sys.modules` of a fresh interpreter that imported `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("module", ["service.client", "service.client.cli"])
def test_importing_the_client_loads_no_server_code(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded
    assert _server_modules(loaded) == []


def test_the_check_sees_server_code() -> None:
    assert "service.core.logging" in _server_modules(_loaded_after_import("service.cli"))
