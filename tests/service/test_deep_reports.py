"""A deep inference's stored training report: quality signals, and on a maze with a tabular
view the full report of the projected network."""

import httpx

from irl.verdict import VERDICTS
from tests.service.conftest import Queue
from tests.service.test_comparisons import _maze_density_inference


async def test_maze_density_inference_gets_a_full_verdict(
    client: httpx.AsyncClient, queue: Queue
) -> None:
    _, inference_id = await _maze_density_inference(client, queue)
    report = (await client.get(f"/v1/inferences/{inference_id}/divergence")).json()
    assert report["verdict"] in VERDICTS and report["goal_directedness"] is not None
    assert report["returns"]["normalized_under_training"] is not None
    assert report["hypotheses"]["candidates"]
    assert "tabular view" in report["distance_coverage"]
    quality = report["quality"]
    assert quality["generator_return"] is None  # density has no generator
    assert quality["demo_return"] is not None and quality["epic_standard_error"] > 0
    sampled = await client.get(
        f"/v1/inferences/{inference_id}/divergence", params={"against": "environment"}
    )
    assert sampled.json()["verdict"] == "inconclusive"  # no tabular view on that path
