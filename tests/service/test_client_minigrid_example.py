"""examples/minigrid_proxy.py with a tiny budget against the app in process: it trains, builds
the training and decorrelating instances, probes them, and summarises each kind."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from service.client.http import MesascopeClient
from tests.service.test_client_probe import client, database_url, settings  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "minigrid_proxy", ROOT / "examples" / "minigrid_proxy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_trains_probes_and_summarises(
    client: MesascopeClient,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = example()
    model = str(tmp_path / "ppo.zip")
    tiny = ["--size", "5", "--seeds", "0", "--timeout", "60"]
    args = proxy.parse_args([*tiny, "--timesteps", "128", "--episodes", "2", "--out", model])
    result = proxy.run(client, args)
    assert (tmp_path / "ppo.zip").exists()
    assert [line["kind"] for line in result["summary"]] == ["train", "tile", "swap", "moved"]
    assert [row["split"] for row in result["rows"]] == ["train", "test", "test", "test"]
    assert all(row["status"] == "succeeded" and row["verdict"] for row in result["rows"])
    assert all(0 <= line["success"] <= 1 and 0 <= line["tile"] <= 1 for line in result["summary"])
    assert result["summary"][0]["tile"] == 0  # no tile in training instances
    proxy.show(result)
    shown = capsys.readouterr().out
    assert "swap    1" in shown and "goal moved (3, 3) -> " in shown
    again = proxy.run(client, proxy.parse_args([*tiny, "--model", model, "--episodes", "1"]))
    assert again["timesteps"] is None and len(again["rows"]) == 4
