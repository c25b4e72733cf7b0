"""Bootstrap refits that stop early against converged ones, on fresh seeds where the truth is
known.

For each agent of the maze story's scenarios (tests.irl.scenarios: door-seeker, red-seeker,
random walker in the test maze, 30 trajectories) and each seed, linear MCE IRL is fitted once and
the report is built with the service's 20-resample bootstrap and the same resamples, its refits
stopped as `params.bootstrap_refit` says: `newton` (the default) and `one_step` against
`converged` (the fit's own stopping rule, the reference). Prints, per agent and variant: how
often its verdict is the reference's, how many resample verdicts moved, the largest differences
of the interval ends (EPIC, normalised returns, log-likelihood ratio per step) and the mean
report time. The yardstick for the differences is the bootstrap's own Monte Carlo noise: the
same differences between two converged bootstraps with different resamples (seed + 1).

    .venv/bin/python -m benchmarks.bootstrap_refits [--seeds 10] [--first-seed 930000]
"""

import argparse
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from irl.algorithms.mce_irl import warm_refit
from irl.report import exact_report
from irl.report.types import Report
from irl.rewards import LinearReward
from irl.uncertainty import DEFAULT_N_BOOTSTRAP
from tests.irl.scenarios import AGENTS, Agent, Scenario, fit_linear, scenario

INTERVALS = (
    "epic",
    "normalized_under_training",
    "normalized_under_inferred",
    "log_likelihood_ratio_per_step",
)


def report(s: Scenario, inferred: LinearReward, refit: str, seed: int) -> tuple[Report, float]:
    """The service's report of a fit with this bootstrap refit, and its seconds."""
    params: Mapping[str, Any] = {"bootstrap_refit": refit}
    started = time.perf_counter()
    built = exact_report(
        mdp=s.mdp,
        trajectories=s.trajectories,
        inferred=inferred,
        reference=s.training,
        n_parameters=len(s.mdp.feature_names),
        refit=warm_refit(s.mdp, reward_model="linear", params=params, fitted=inferred),
        rng=np.random.default_rng(seed),
    )
    return built, time.perf_counter() - started


def largest_gaps(pairs: list[tuple[Report, Report]]) -> dict[str, float]:
    """The largest difference of each interval's ends between the reports of each pair."""
    gaps = dict.fromkeys(INTERVALS, 0.0)
    for one, other in pairs:
        assert one.uncertainty is not None and other.uncertainty is not None
        for name in INTERVALS:
            a, b = getattr(one.uncertainty, name), getattr(other.uncertainty, name)
            if a is not None and b is not None:
                gaps[name] = max(gaps[name], float(np.max(np.abs(np.subtract(a, b)))))
    return gaps


VARIANTS = ("newton", "one_step")


def compare(agent: Agent, seeds: range) -> list[str]:
    """Table rows of one agent: each variant against converged refits, and converged against
    converged with other resamples (the Monte Carlo noise)."""
    reports: dict[str, list[Report]] = {v: [] for v in ("converged", "other", *VARIANTS)}
    seconds = dict.fromkeys(("converged", *VARIANTS), 0.0)
    for seed in seeds:
        s = scenario(agent, seed=seed)
        inferred = fit_linear(s, seed=seed)
        for variant in seconds:
            built, spent = report(s, inferred, variant, seed)
            reports[variant].append(built)
            seconds[variant] += spent
        reports["other"].append(report(s, inferred, "converged", seed + 1)[0])
    reference = reports["converged"]
    rows = []
    n = len(seeds)
    for variant in (*VARIANTS, "other"):
        mine = reports[variant]
        gaps = largest_gaps(list(zip(mine, reference, strict=True)))
        same = sum(a.verdict == b.verdict for a, b in zip(mine, reference, strict=True))
        moved = sum(_moved(a, b) for a, b in zip(mine, reference, strict=True))
        verdicts = [r.verdict for r in mine]
        shown = ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts)))
        name = "converged, other resamples" if variant == "other" else variant
        per_report = f"{seconds[variant] / n:.2f}" if variant in seconds else ""
        rows.append(
            f"| {agent} | {name} | {same}/{n} ({shown}) | {moved} of {DEFAULT_N_BOOTSTRAP * n} | "
            + " | ".join(f"{gaps[key]:.3f}" for key in INTERVALS)
            + f" | {per_report} |"
        )
    rows.append(f"| {agent} | converged | | | | | | | {seconds['converged'] / n:.2f} |")
    return rows


def _moved(one: Report, other: Report) -> int:
    """Resample verdicts that differ between two reports' bootstraps (as counts)."""
    assert one.uncertainty is not None and other.uncertainty is not None
    a, b = one.uncertainty.verdicts, other.uncertainty.verdicts
    return sum(abs(a.get(v, 0) - b.get(v, 0)) for v in {*a, *b}) // 2


def main(argv: list[str] | None = None) -> None:
    """Run every agent over the seeds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=930_000)
    args = parser.parse_args(argv)
    print(
        "| agent | refits | same verdict as converged | resample verdicts moved "
        "| max Δ EPIC ends | max Δ training-return ends | max Δ inferred-return ends "
        "| max Δ gain ends | report s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for i, agent in enumerate(AGENTS):
        first = args.first_seed + 1000 * i
        print("\n".join(compare(agent, range(first, first + args.seeds))), flush=True)


if __name__ == "__main__":
    main()
