"""What the command line's text arguments mean: environment, reward and coverage references,
tags and parameters, turned into the pieces of a request body. Bad text raises ValueError."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DIVERGENCE_TARGETS = ("training", "observed", "environment")
"""The references `GET /v1/inferences/{id}/divergence?against=` takes by name."""


def environment_ref(value: str) -> dict[str, Any]:
    """`env_...` → a reference; a .json path → its spec; anything else → a gymnasium id."""
    if value.startswith("env_"):
        return {"id": value}
    spec = _json_file(value)
    return spec if spec is not None else {"kind": "gymnasium", "id": value}


def reward_spec(value: str) -> dict[str, Any]:
    """A reward spec from JSON text, a .json file, `inf_ID`, `inference:ID`, or a kind name."""
    if value in ("environment", "observed"):
        return {"kind": value}
    if value.startswith("inf_"):
        return {"kind": "inference", "id": value}
    if value.startswith("inference:"):
        return {"kind": "inference", "id": value.split(":", 1)[1]}
    spec = _json_file(value)
    if spec is not None:
        return spec
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def divergence_target(value: str) -> str | dict[str, Any]:
    """A named divergence target as it is, anything else as a reward spec."""
    return value if value in DIVERGENCE_TARGETS else reward_spec(value)


def coverage_ref(value: str) -> str | dict[str, Any]:
    """`ro_...` → the rollout set whose transitions weight a comparison; else a coverage name."""
    return {"rollouts_id": value} if value.startswith("ro_") else value


def parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    """`["k=v", ...]` as a dict."""
    return dict(_key_values(pairs, "tag"))


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """`["k=v", ...]` as a dict whose values are JSON where they parse, else the text."""
    params: dict[str, Any] = {}
    for key, value in _key_values(pairs, "param"):
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _key_values(pairs: Sequence[str], what: str) -> list[tuple[str, str]]:
    """Each `k=v` split at its first `=`; a pair without a key or `=` is refused."""
    split = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {pair!r} is not key=value")
        split.append((key, value))
    return split


def _json_file(value: str) -> dict[str, Any] | None:
    """The JSON object in the file `value` names, if it names an existing .json file."""
    path = Path(value)
    if path.suffix != ".json" or not path.exists():
        return None
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def named_goals(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`["name=SPEC", ...]` (SPEC as for reward_spec) as named reward specs."""
    return {name: reward_spec(spec) for name, spec in _key_values(pairs, "goal")}
