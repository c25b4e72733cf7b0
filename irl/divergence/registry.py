"""The reward distances mesascope reports, defined once, and the one place that computes them.

Each distance is a `Distance`: its name, a label and a description (the API schema, the
dashboard table and docs/metrics.md derive from them), how to compute it exactly for tabular
rewards, and how to estimate it from samples (None where it cannot be). `distances()` takes a
pair of rewards in either form and returns every registered distance, in registry order.

Adding a distance: write its functions in its own module, then add one `Distance(...)` line to
`DISTANCES` below (and a row to docs/metrics.md).
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from irl.divergence.dard import check_coverage, dard_distance
from irl.divergence.epic import epic_distance, pearson_distance
from irl.divergence.regret import regret
from irl.divergence.sampled import (
    NextStateSampler,
    RewardFn,
    estimate_dard,
    estimate_epic,
)
from irl.divergence.starc import starc_distance
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError


@dataclass(frozen=True, eq=False)
class ExactPair:
    """Two tabular rewards in one MDP: every distance is computed exactly."""

    mdp: TabularMDP
    a: np.ndarray
    """(S, A, S) float64: the reference (for regret, the true reward)."""
    b: np.ndarray
    """(S, A, S) float64: the reward compared with it (for regret, the one optimised)."""
    discount: float
    coverage: np.ndarray | None = None
    """(S, A, S) weights for EPIC, DARD and STARC; None: each distance's default."""
    visited: np.ndarray | None = None
    """(S, A, S) visit counts; the Pearson distance on visited transitions needs them."""

    def __post_init__(self) -> None:
        """Refuse coverage or visit counts whose shape is not the rewards'."""
        if self.coverage is not None:
            check_coverage(self.coverage, self.a.shape)
        if self.visited is not None and self.visited.shape != self.a.shape:
            raise InvalidInputError.at(
                "visited", f"shape {list(self.visited.shape)}, expected {list(self.a.shape)}"
            )


@dataclass(frozen=True, eq=False)
class SampledPair:
    """Two rewards known as functions (or, for `b`, only on the visited transitions): the
    distances are estimated by Monte Carlo with coverage drawn from the visited transitions."""

    a: RewardFn
    b: RewardFn | None
    """None when `b` is known only on the visited transitions (b_visited)."""
    a_visited: np.ndarray
    """(N,) float64: `a` on the visited transitions."""
    b_visited: np.ndarray
    """(N,) float64: `b` on the visited transitions."""
    transitions: tuple[np.ndarray, np.ndarray, np.ndarray]
    """The visited (obs (N, ...), acts (N, ...), next_obs (N, ...))."""
    discount: float
    sample_next: NextStateSampler | None = None
    """The environment's dynamics, where known (DARD needs them)."""


ExactFn = Callable[[ExactPair], float | None]
SampledFn = Callable[[SampledPair, np.random.Generator], float | None]


@dataclass(frozen=True)
class Distance:
    """A registered reward distance: what it is called and how each backend computes it."""

    name: str
    label: str
    """How a page names it next to a value, with `{reference}` (the reward `a`) and `{other}`
    (`b`) to fill in, e.g. "EPIC distance to {reference}"."""
    description: str
    """One sentence for the API schema and docs."""
    exact: ExactFn
    sampled: SampledFn | None = None
    """None: not estimated from samples (the report shows null)."""


def _epic(pair: ExactPair) -> float:
    return epic_distance(pair.a, pair.b, discount=pair.discount, coverage=pair.coverage)


def _dard(pair: ExactPair) -> float:
    return dard_distance(pair.mdp, pair.a, pair.b, discount=pair.discount, coverage=pair.coverage)


def _starc(pair: ExactPair) -> float:
    return starc_distance(pair.mdp, pair.a, pair.b, discount=pair.discount, coverage=pair.coverage)


def _pearson(pair: ExactPair) -> float | None:
    return None if pair.visited is None else pearson_distance(pair.a, pair.b, pair.visited)


def _regret(pair: ExactPair) -> float | None:
    return regret(pair.mdp, pair.a, pair.b)


def _sampled_epic(pair: SampledPair, rng: np.random.Generator) -> float | None:
    if pair.b is None:
        return None
    return estimate_epic(pair.a, pair.b, pair.transitions, discount=pair.discount, rng=rng)


def _sampled_dard(pair: SampledPair, rng: np.random.Generator) -> float | None:
    if pair.b is None or pair.sample_next is None:
        return None
    return estimate_dard(
        pair.a,
        pair.b,
        pair.transitions,
        discount=pair.discount,
        rng=rng,
        sample_next=pair.sample_next,
    )


def _sampled_pearson(pair: SampledPair, rng: np.random.Generator) -> float:
    return pearson_distance(pair.a_visited, pair.b_visited)


DISTANCES: tuple[Distance, ...] = (
    Distance(
        "epic",
        "EPIC distance to {reference}",
        "Pearson distance of EPIC-canonicalised rewards: 0 for rewards equal up to potential "
        "shaping and positive scaling, 1 for negated ones.",
        _epic,
        _sampled_epic,
    ),
    Distance(
        "dard",
        "DARD distance to {reference}",
        "Like EPIC, but canonicalised with the environment's dynamics, so rewards are only "
        "queried on feasible transitions.",
        _dard,
        _sampled_dard,
    ),
    Distance(
        "starc",
        "STARC distance to {reference}",
        "Distance of value-adjusted, normalised rewards; bounds worst-case regret.",
        _starc,
    ),
    Distance(
        "pearson",
        "Pearson distance on the visited transitions, to {reference}",
        "Of the raw rewards on the visited transitions (not invariant to shaping).",
        _pearson,
        _sampled_pearson,
    ),
    Distance(
        "regret",
        "Regret under {reference} of optimising {other}",
        "Regret under `a` of the policy optimal for `b`, as a share of (optimal - uniform "
        "random) return; null when every policy is equally good under `a`.",
        _regret,
    ),
)
METRICS: tuple[str, ...] = tuple(distance.name for distance in DISTANCES)


def distances(
    pair: ExactPair | SampledPair,
    rng: np.random.Generator | None = None,
    *,
    only: Collection[str] | None = None,
) -> dict[str, float | None]:
    """Every registered distance between the pair's rewards (or those named in `only`; the
    others are None), in registry order; a distance the pair's backend cannot compute is None.
    Sampled pairs need `rng` (draws are made in registry order, so results are a function of
    the generator's state)."""
    wanted = [d for d in DISTANCES if only is None or d.name in only]
    if isinstance(pair, ExactPair):
        computed = {d.name: d.exact(pair) for d in wanted}
    elif rng is None:
        raise ValueError("sampled distances need a random generator")
    else:
        computed = {d.name: None if d.sampled is None else d.sampled(pair, rng) for d in wanted}
    return {d.name: computed.get(d.name) for d in DISTANCES}


def tabular_distances(
    mdp: TabularMDP,
    ra: np.ndarray,
    rb: np.ndarray,
    *,
    discount: float,
    coverage: np.ndarray | None,
    visited: np.ndarray | None,
) -> dict[str, float | None]:
    """Every distance of two (S, A, S) rewards, exactly (see ExactPair)."""
    return distances(ExactPair(mdp, ra, rb, discount, coverage, visited))
