"""Fast cases of benchmarks/verdicts.py: agent kinds the first rule got wrong, on fresh seeds.

The full table (9 kinds x 3 layouts x 20 seeds) is `python -m benchmarks.verdicts`; these seeds
(3_000_000 + ...) appear nowhere else, and no threshold was chosen by looking at them.
"""

import pytest

from benchmarks.verdicts import EXPECTED, layout, run

CASES = [
    ("action_bias", "open"),
    ("action_bias", "walled"),
    ("low_competence", "open"),
    ("low_competence", "walled"),
    ("unnamed_goal_seeker", "slippery"),
    ("eps_greedy_distractor", "slippery"),
]


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_agent_kind_gets_its_expected_verdict(kind: str, name: str) -> None:
    world = layout(name)
    for i in range(2):
        seed = 3_000_000 + 1_000 * CASES.index((kind, name)) + i
        result = run(kind, world, seed)
        assert result["verdict"] == EXPECTED[kind], result["explanation"]
    if kind == "unnamed_goal_seeker":
        assert result["free_vs_best_p"] < 1e-3  # none of the named goals
    if kind == "action_bias":
        assert result["behaviour"] == "action_bias"
