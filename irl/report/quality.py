"""Quality signals of a deep fit in its report, and the plain-language warnings they raise.

Two failures make a deep report's distances meaningless, and both are checked:
- the fit is indistinguishable from an unrelated reward: the sampled EPIC to the reference lies
  within NOISE_Z standard errors of UNRELATED_EPIC = 1/sqrt(2), the distance of a reward
  uncorrelated with the reference. The standard error comes from a trajectory (cluster)
  bootstrap of the sampled estimate (epic_standard_error);
- the generator did not learn: under the environment's reward it got less than
  MIN_IMITATION_SCORE of the way from a uniform-random policy's return to the demonstrations'.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from irl.algorithms.base import FitDiagnostics
from irl.callables import RewardFn
from irl.divergence.epic import pearson_distance
from irl.divergence.sampled import MAX_COVERAGE, N_CANONICAL, TransitionBatch
from irl.divergence.sampled import sampled_epic_canonical as canonical
from irl.trajectories import TrajectorySet

UNRELATED_EPIC = 1 / math.sqrt(2)
"""EPIC of two uncorrelated rewards (rho = 0)."""
NOISE_Z = 1.96
"""Standard errors within which a distance is 'within noise' (a two-sided 95% band)."""
MIN_IMITATION_SCORE = 0.5
"""Below this (J_gen - J_random) / (J_demo - J_random) the generator 'did not learn': it is
closer to random play than to the demonstrations (imitation's AIRL benchmark mean is 0.79)."""
CONSTANT_REFERENCE = (
    "The reference reward is the same on every visited transition (a perfect CartPole expert, "
    "for one, earns 1 at every step), so no distance to it can be measured on these rollouts: "
    "EPIC is 1/sqrt(2) whatever the fit. Add rollouts that visit transitions where the "
    "reward differs, e.g. of a weaker or a random policy."
)
N_EPIC_BOOTSTRAP = 200
"""Trajectory resamples of the EPIC standard error (its own relative error about 5%)."""


@dataclass(frozen=True)
class SeedSpread:
    """Independent fits from params.n_seeds seeds: each distance's range, how the verdicts
    fell, and how far the seeds' rewards are from each other."""

    n_seeds: int
    metrics: Mapping[str, tuple[float, float] | None] = field(hash=False)
    """[min, max] of each distance over the seeds (None where no seed has it)."""
    verdicts: Mapping[str, int] = field(hash=False)
    between_seeds_epic: float | None
    """Largest sampled EPIC between two seeds' rewards (0: every seed found the same reward)."""
    between_seeds_dard: float | None


@dataclass(frozen=True)
class DeepQuality:
    """Whether a deep fit means anything: imitation, the discriminator on held-out data, and
    the sampled EPIC's noise; `warnings` says in words what failed."""

    generator_return: float | None
    """Mean undiscounted return of the trained generator under the environment's reward."""
    generator_return_standard_error: float | None
    demo_return: float | None
    """Mean undiscounted return of the demonstrations under the environment's reward."""
    random_return: float | None
    """Mean undiscounted return of a uniform-random policy."""
    imitation_score: float | None
    """(generator - random) / (demo - random); None when demonstrations and random play are
    within noise of each other (nothing to imitate) or a return is unknown."""
    disc_heldout_accuracy: float | None
    """The discriminator's balanced accuracy on held-out demonstrations and fresh generator
    samples (0.5: it cannot tell them apart)."""
    disc_heldout_demo_accuracy: float | None
    disc_heldout_generator_accuracy: float | None
    disc_heldout_transitions: int
    epic_standard_error: float | None
    """Bootstrap standard error of the sampled EPIC to the reference."""
    unrelated_epic: float
    """1/sqrt(2): the EPIC of a reward unrelated to the reference."""
    warnings: tuple[str, ...]
    seeds: SeedSpread | None = None
    """With params.n_seeds > 1: the spread over independently trained fits."""


def deep_quality(
    diagnostics: FitDiagnostics | None,
    *,
    epic: float | None,
    epic_standard_error: float | None,
    constant_reference: bool = False,
) -> DeepQuality:
    """The quality signals of a fit and the warnings they raise; `constant_reference`: the
    reference takes one value on every visited transition (then no distance is informative)."""
    d = diagnostics or FitDiagnostics()
    score = imitation_score(d)
    first = (
        CONSTANT_REFERENCE if constant_reference else _unrelated_warning(epic, epic_standard_error)
    )
    warnings = [w for w in (first, _generator_warning(d, score)) if w is not None]
    return DeepQuality(
        generator_return=d.generator_return,
        generator_return_standard_error=d.generator_return_standard_error,
        demo_return=d.demo_return,
        random_return=d.random_return,
        imitation_score=score,
        disc_heldout_accuracy=d.disc_heldout_accuracy,
        disc_heldout_demo_accuracy=d.disc_heldout_demo_accuracy,
        disc_heldout_generator_accuracy=d.disc_heldout_generator_accuracy,
        disc_heldout_transitions=d.disc_heldout_transitions,
        epic_standard_error=epic_standard_error,
        unrelated_epic=UNRELATED_EPIC,
        warnings=tuple(warnings),
    )


def imitation_score(d: FitDiagnostics) -> float | None:
    """(J_gen - J_random) / (J_demo - J_random), or None when it is undefined: a return is
    missing, or the demonstrations are within noise of random play."""
    if d.generator_return is None or d.demo_return is None or d.random_return is None:
        return None
    gap = d.demo_return - d.random_return
    if abs(gap) <= NOISE_Z * (d.random_return_standard_error or 0.0) or gap == 0:
        return None
    return (d.generator_return - d.random_return) / gap


def is_constant(values: np.ndarray) -> bool:
    """Whether values are constant up to floating-point noise (as pearson_distance decides)."""
    values = np.asarray(values, dtype=np.float64)
    return bool(values.std() <= 1e-12 * max(1.0, float(np.abs(values).max(initial=0.0))))


def unrelated(epic: float, standard_error: float) -> bool:
    """Whether an EPIC estimate is within noise of an unrelated reward's."""
    return abs(epic - UNRELATED_EPIC) <= NOISE_Z * standard_error


def _unrelated_warning(epic: float | None, standard_error: float | None) -> str | None:
    """The warning when the fit is indistinguishable from an unrelated reward."""
    if epic is None or standard_error is None or not unrelated(epic, standard_error):
        return None
    return (
        f"The inferred reward is indistinguishable from an unrelated one: its sampled EPIC to the "
        f"reference is {epic:.3f} ± {standard_error:.3f} (standard error), within "
        f"{NOISE_Z} standard errors of {UNRELATED_EPIC:.3f}, the distance of a reward that has "
        "nothing to do with the reference. Its distances say nothing about what the agent "
        "pursues; try a larger total_timesteps or more demonstrations."
    )


def _generator_warning(d: FitDiagnostics, score: float | None) -> str | None:
    """The warning when the generator did not learn to imitate the demonstrations."""
    if score is None or score >= MIN_IMITATION_SCORE:
        return None
    return (
        f"The generator did not learn to imitate: its return under the environment's reward is "
        f"{d.generator_return:.3g} against the demonstrations' {d.demo_return:.3g} and a random "
        f"policy's {d.random_return:.3g}, {max(score, 0.0):.0%} of the way from random play to "
        f"the demonstrations (below {MIN_IMITATION_SCORE:.0%}). The discriminator then only "
        "learned to tell poor play from the demonstrations, so the reward is weak evidence; "
        "try a larger total_timesteps."
    )


def epic_standard_error(
    inferred: RewardFn,
    reference: RewardFn,
    trajectories: TrajectorySet,
    *,
    discount: float,
    rng: np.random.Generator,
    n_bootstrap: int = N_EPIC_BOOTSTRAP,
) -> float:
    """Standard error of the sampled EPIC between two reward functions, by resampling whole
    trajectories (their transitions are correlated) over the coverage transitions, with the
    canonicalised rewards computed once (as irl.divergence.sampled.estimate_epic samples them)."""
    obs, acts, next_obs = trajectories.transitions()
    owner = trajectories.trajectory_of_transition
    cover = np.sort(rng.choice(len(obs), size=min(len(obs), MAX_COVERAGE), replace=False))
    batch = TransitionBatch(obs[cover], acts[cover], next_obs[cover])
    states = obs[rng.integers(0, len(obs), N_CANONICAL)]
    actions = acts[rng.integers(0, len(acts), N_CANONICAL)]
    a, b = (
        canonical(r, batch, discount=discount, states=states, actions=actions)
        for r in (inferred, reference)
    )
    n = trajectories.n_trajectories
    draws = []
    for _ in range(n_bootstrap):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        weights = counts[owner[cover]]
        if weights.sum() > 0:
            draws.append(pearson_distance(a, b, weights))
    return float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0
