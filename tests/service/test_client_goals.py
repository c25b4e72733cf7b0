"""The client's named-goal request: body shape and the CLI's name=spec arguments."""

from __future__ import annotations

import json

import httpx

from service.client.arguments import named_goals
from service.client.http import MesascopeClient


def test_goals_posts_named_specs_and_the_feature_switch() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"best": "red"})

    client = MesascopeClient("http://x", "k", transport=httpx.MockTransport(handle))
    result = client.goals(
        "inf_1", {"red": {"kind": "linear", "weights": {"red": 1.0}}}, feature_goals=False
    )
    assert result == {"best": "red"}
    assert seen[0].url.path == "/v1/inferences/inf_1/goals"
    assert json.loads(seen[0].content) == {
        "goals": {"red": {"kind": "linear", "weights": {"red": 1.0}}},
        "feature_goals": False,
    }


def test_named_goals_split_at_the_first_equals_sign() -> None:
    assert named_goals(['red={"kind": "linear", "weights": {"red": 1}}', "env=environment"]) == {
        "red": {"kind": "linear", "weights": {"red": 1}},
        "env": {"kind": "environment"},
    }
