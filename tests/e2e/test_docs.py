"""The docs' shell and Python blocks run against a real `mesascope serve`, and the numbers the
README quotes are what the service returns, to the precision quoted.

Every ```bash / ```python block in the documents below carries a marker on the line before it:
`<!-- doc: run -->` (executed here, in order, each document's blocks in one shell session or one
Python process) or `<!-- doc: skip: why -->` (a placeholder, a long run, a sketch: the reason
names the test that covers it). A block without a marker fails the first test.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Served, served

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    "README.md",
    "docs/formats.md",
    "docs/tutorial.md",
    "docs/deep_irl.md",
    "docs/metrics.md",
    "docs/environments.md",
    "examples/README.md",
]
BLOCK = re.compile(
    r"(?:<!-- doc: (?P<mark>[^\n]*?) -->\n)?```(?P<lang>bash|python|sh)\n(?P<code>.*?)```", re.S
)
PRELUDE = """\
import functools
import json
import numpy as np
_written = json.load(open("examples/corridor/rollouts.json"))
trajectories = _written["trajectories"]
env_id = os.environ["DOC_ENV"]
obs = np.concatenate([t["obs"] for t in trajectories])
acts = np.concatenate([t["acts"] for t in trajectories])
rews = np.zeros(len(acts))
lengths = np.array([len(t["acts"]) for t in trajectories])
terminal = np.array([t.get("terminal", False) for t in trajectories])
"""
"""Names the Python blocks use as a reader's own data: the corridor example's trajectories,
its environment's id, and the same as flat arrays."""

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def blocks(document: str) -> list[tuple[str | None, str, str]]:
    """(marker, language, code) of each code block that a reader could run."""
    text = (ROOT / document).read_text()
    return [(m["mark"], m["lang"], m["code"]) for m in BLOCK.finditer(text)]


def test_every_block_says_whether_it_runs() -> None:
    unmarked = [
        f"{document}: {code.splitlines()[0]}"
        for document in DOCUMENTS
        for mark, _, code in blocks(document)
        if mark != "run" and not (mark or "").startswith("skip: ")
    ]
    assert unmarked == []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("docs-server"), workers=1) as running:
        yield running


def _environment(server: Served, **extra: str) -> dict[str, str]:
    """The shell a reader has after `make run`: the server's URL and key, the venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESASCOPE_")}
    env.update(
        MESASCOPE_URL=server.url,
        MESASCOPE_API_KEY=server.key,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        **extra,
    )
    return env


def _substitute(code: str, server: Served, ids: dict[str, str]) -> str:
    """The reader's values for the docs' placeholders."""
    code = code.replace("msk_...", server.key).replace("http://127.0.0.1:8000", server.url)
    code = code.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    for prefix, value in ids.items():
        code = code.replace(f"{prefix}...", value)
    return code


@functools.cache
def _workdir() -> Path:
    """A scratch directory that looks like the checkout (links to its top-level entries), so
    the docs' relative paths work and the files their blocks write land outside the repo."""
    work = Path(tempfile.mkdtemp(prefix="mesascope-docs-"))
    for entry in ROOT.iterdir():
        (work / entry.name).symlink_to(entry)
    return work


def _run_bash(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=_workdir(),
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{code}\n--- stderr:\n{done.stderr}"
    return done.stdout


def _run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import os\n" + PRELUDE + code],
        cwd=_workdir(),
        env=env,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{code}\n--- stderr:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def readme(server: Served) -> dict[str, str]:
    """Run the README's runnable blocks in order, in one shell session (its Python blocks with
    the shell's ids); returns the ids the walkthrough created."""
    runnable = [(lang, code) for mark, lang, code in blocks("README.md") if mark == "run"]
    shell = "\n".join(_substitute(code, server, {}) for lang, code in runnable if lang != "python")
    outputs = _run_bash(shell + '\necho\necho "IDS $ENV $RO $INF"', _environment(server))
    env_id, rollouts_id, inference_id = outputs.strip().splitlines()[-1].split()[1:]
    assert '"verdict":"generalises"' in outputs  # step 5 printed the report
    ids = {"env_": env_id, "ro_": rollouts_id, "inf_": inference_id}
    for lang, code in runnable:
        if lang == "python":
            _run_python(_substitute(code, server, ids), _environment(server, DOC_ENV=env_id))
    return ids


def test_readme_numbers_are_what_the_service_returns(
    server: Served, readme: dict[str, str]
) -> None:
    text = (ROOT / "README.md").read_text()
    headers = {"Authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        job = http.get(f"/v1/inferences/{readme['inf_']}").json()
        report = http.get(f"/v1/inferences/{readme['inf_']}/divergence").json()
    weights = job["reward"]["feature_weights"]
    quoted = {
        "`goal` first (about {:.1f})": weights["goal"],
        "`lamp` negative (about\n{:.1f}": weights["lamp"],
        "EPIC distance of about {:.2f}": report["metrics"]["epic"],
        "normalised training return of about\n{:.2f}": report["returns"][
            "normalized_under_training"
        ],
    }
    for phrase, value in quoted.items():
        shown = phrase.format(value).replace("-", "−")
        assert shown in text, f"README says otherwise: expected {shown!r}"
    exponent = round(float(f"{report['goal_directedness']['p_value']:.0e}".split("e")[1]), -1)
    assert f"(p ≈ 1e{int(exponent)})" in text
    assert f"the verdict `{report['verdict']}`" in text
    assert report["metrics"]["regret"] == 0.0 and "a regret of 0" in text


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if d != "README.md"])
def test_other_documents_run(server: Served, readme: dict[str, str], document: str) -> None:
    runnable = [(lang, code) for mark, lang, code in blocks(document) if mark == "run"]
    env = _environment(server, DOC_ENV=readme["env_"])
    shell = [_substitute(code, server, readme) for lang, code in runnable if lang != "python"]
    prefix = f'URL={server.url}\nAUTH="Authorization: Bearer {server.key}"\n'
    for lang, code in runnable:
        if lang == "python":
            _run_python(_substitute(code, server, readme), env)
    if shell:
        out = _run_bash(prefix + "\n".join(shell), env)
        for line in out.splitlines():
            if line.startswith("{"):
                assert "status" not in json.loads(line) or json.loads(line)["status"] < 400, line
