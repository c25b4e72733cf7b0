"""Every client command of `mesascope` against a real server: table mode and --json, what goes
to stdout (ids, a status, a verdict: what scripts capture) and to stderr (tables, progress,
errors) when stdout is piped, and a server that is down."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.client import MesascopeClient
from tests.e2e.processes import Served, free_port, mesascope_env, served
from tests.service.data import corridor_environment

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "corridor"
ID = re.compile(r"^[a-z]{2,4}_[0-9a-f]+$")


@dataclass
class Ids:
    """What the module's first commands created."""

    env: str
    rollouts: str
    inference: str


def run(served: Served, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mesascope ARGS` with stdout and stderr captured (so stdout is not a terminal)."""
    env = mesascope_env(served.data_dir, url=url or served.url, api_key=served.key)
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )


def ok(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """A command that must succeed."""
    done = run(served, *args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("cli-server"), workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def ids(server: Served) -> Ids:
    """The README's walkthrough through the CLI: upload the corridor file, infer, wait."""
    with MesascopeClient(server.url, server.key) as client:
        env = client.create_environment(corridor_environment())["id"]
    upload = ok(server, "upload", str(EXAMPLE / "rollouts.json"), "--env", env)
    rollouts = upload.stdout.strip()
    assert ID.match(rollouts), upload.stdout  # the id alone: no progress bar, no blank line
    inference = ok(server, "infer", rollouts).stdout.strip()
    assert ID.match(inference)
    waited = ok(server, "wait", inference)
    assert waited.stdout.strip() == "succeeded"
    assert "weight: goal" in waited.stderr
    return Ids(env, rollouts, inference)


def test_upload_sends_the_files_name_split_tags_and_training_reward(
    server: Served, ids: Ids
) -> None:
    with MesascopeClient(server.url, server.key) as client:
        stored = client.get_rollouts(ids.rollouts)
    written = json.loads((EXAMPLE / "rollouts.json").read_text())
    assert stored["name"] == written["name"]
    assert stored["split"] == written["split"]
    assert stored["tags"] == written["tags"]
    assert stored["training_reward"]["weights"] == written["training_reward"]["weights"]


def test_options_override_the_files_fields(server: Served, ids: Ids) -> None:
    done = ok(
        server,
        "upload",
        str(EXAMPLE / "rollouts.json"),
        "--env",
        ids.env,
        "--name",
        "renamed",
        "--tag",
        "agent=other",
        "--json",
    )
    body = json.loads(done.stdout)
    assert body["name"] == "renamed"


@pytest.mark.parametrize(
    ("command", "plain"),
    [
        (["status", "{inference}"], "succeeded"),
        (["divergence", "{inference}"], "generalises"),
        (
            [
                "divergence",
                "{inference}",
                "--goal",
                'away={{"kind": "linear", "weights": {{"lamp": 1, "goal": -1}}}}',
            ],
            "generalises",
        ),
        (
            [
                "compare",
                '{{"kind": "linear", "weights": {{"goal": 1}}}}',
                "{inference}",
                "--env",
                "{env}",
            ],
            "0.248",
        ),
    ],
)
def test_table_mode_prints_the_answer_on_stdout_and_the_table_on_stderr(
    server: Served, ids: Ids, command: list[str], plain: str
) -> None:
    done = ok(server, *[part.format(**vars(ids)) for part in command])
    assert done.stdout.strip() == plain
    assert "┃" in done.stderr  # the table


def test_divergence_table_carries_the_explanation(server: Served, ids: Ids) -> None:
    done = ok(server, "divergence", ids.inference)
    assert "generalises: the behaviour achieves the training objective" in done.stderr
    assert "0.248" in done.stderr and "0.24787" not in done.stderr  # 3 significant digits


def test_compare_table_shows_the_coverage_it_used(server: Served, ids: Ids) -> None:
    done = ok(
        server,
        "compare",
        '{"kind": "linear", "weights": {"goal": 1}}',
        ids.inference,
        "--env",
        ids.env,
        "--coverage",
        "transitions",
    )
    assert "transitions" in done.stderr and "coverage" in done.stderr


@pytest.mark.parametrize(
    ("what", "expected"),
    [("inferences", "inference"), ("rollouts", "rollouts"), ("environments", "env")],
)
def test_ls_prints_whole_ids(server: Served, ids: Ids, what: str, expected: str) -> None:
    done = ok(server, "ls", what)
    listed = done.stdout.split()
    assert getattr(ids, expected) in listed
    assert all(ID.match(item) for item in listed)
    assert getattr(ids, expected) in done.stderr  # the table's id column is never cut


@pytest.mark.parametrize(
    "command",
    [
        ["status", "{inference}"],
        ["wait", "{inference}"],
        ["divergence", "{inference}"],
        [
            "compare",
            '{{"kind": "linear", "weights": {{"goal": 1}}}}',
            "{inference}",
            "--env",
            "{env}",
        ],
        ["ls", "inferences"],
        ["ls", "rollouts"],
        ["ls", "environments"],
    ],
)
def test_json_mode_prints_json_alone(server: Served, ids: Ids, command: list[str]) -> None:
    done = ok(server, *[part.format(**vars(ids)) for part in command], "--json")
    json.loads(done.stdout)


def test_a_short_acts_is_named_as_the_api_names_it(
    server: Served, ids: Ids, tmp_path: Path
) -> None:
    written = json.loads((EXAMPLE / "rollouts.json").read_text())
    written["trajectories"][3]["acts"] = written["trajectories"][3]["acts"][:-1]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(written))
    done = run(server, "upload", str(path), "--env", ids.env)
    assert done.returncode == 2
    assert "trajectories[3].acts: length 7, expected len(obs)-1 = 8" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_error_response_is_printed_once(server: Served, ids: Ids) -> None:
    done = run(server, "infer", ids.rollouts, "--param", "foo=1")
    assert done.returncode == 1
    assert done.stderr.count("params.foo") == 1, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ["status", "inf_0123"],
        ["divergence", "inf_0123"],
        ["ls", "inferences"],
        ["infer", "ro_0123"],
        ["upload", str(EXAMPLE / "rollouts.json"), "--env", "env_0123"],
    ],
)
def test_a_server_that_is_down_gets_one_line_and_exit_1(server: Served, command: list[str]) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = run(server, *command, url=nobody)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"cannot reach mesascope at {nobody}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
