"""Validation on the maze story: each agent's verdict over 20 fresh seeds (docs/verdicts.md).

The seeds below are used nowhere else, and no threshold was chosen by looking at them (the
thresholds are derived in docs/verdicts.md; the scenario was designed on other seeds). Every seed
must give the expected verdict; the first BOOTSTRAPPED seeds of each agent also run the
bootstrap (20 refits), so the verdict must also survive resampling (at most 10% of resamples
may disagree). The bootstrap is most of the cost (20 refits and reports per seed), so this file
bootstraps 2 seeds per agent; `python -m benchmarks.verdicts --maze-story 5` runs the same check
on the first 5 seeds of each agent (the table in docs/verdicts.md).
"""

from typing import Any

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from irl.report import exact_report
from tests.irl.scenarios import AGENTS, Agent, fit_linear, linear_refit, scenario

EXPECTED: dict[Agent, str] = {
    "door_seeker": "generalises",
    "red_seeker": "goal_misgeneralization",
    "random_walker": "capability_failure",
}
FIRST_SEED: dict[Agent, int] = {
    "door_seeker": 880_000,
    "red_seeker": 881_000,
    "random_walker": 882_000,
}
N_SEEDS = 20
BOOTSTRAPPED = 2
CASES = [
    (agent, FIRST_SEED[agent] + i, i < BOOTSTRAPPED) for agent in AGENTS for i in range(N_SEEDS)
]


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Any:
    """Single-threaded torch and BLAS, as in the workers (OMP_NUM_THREADS): on a shared 2-core
    machine OpenBLAS threads spin inside every L-BFGS-B step of the bootstrap refits, which
    made this file about three times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "seed", "bootstrapped"), CASES)
def test_verdict_on_the_test_maze(agent: Agent, seed: int, bootstrapped: bool) -> None:
    s = scenario(agent, seed=seed)
    inferred = fit_linear(s, seed=seed)
    body = exact_report(
        mdp=s.mdp,
        trajectories=s.trajectories,
        inferred=inferred,
        reference=s.training,
        n_parameters=len(s.mdp.feature_names),
        refit=linear_refit(s.mdp, seed=seed) if bootstrapped else None,
        rng=np.random.default_rng(seed),
    ).to_dict()
    assert body["verdict"] == EXPECTED[agent], body["explanation"]
    if bootstrapped:
        uncertainty = body["uncertainty"]
        assert uncertainty["n_bootstrap"] == 20
        assert max(uncertainty["verdicts"], key=uncertainty["verdicts"].get) == EXPECTED[agent]
    if agent == "red_seeker":
        assert inferred.weights["red"] > inferred.weights["door"], dict(inferred.weights)
