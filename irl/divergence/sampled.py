"""Monte Carlo EPIC and DARD for rewards given as batched callables (any observation space).

The sample-based canonicalisations of the EPIC paper (and DARD's analogue with a dynamics
sampler): expectations over the state and action distributions become means over samples, and
the Pearson distance is taken over a batch of coverage transitions. Both rewards are evaluated
on the same samples, so their estimation noise is shared rather than added.
"""

from dataclasses import dataclass

import numpy as np

from irl.callables import NextStateSampler, RewardFn
from irl.divergence.epic import _check_discount, pearson_distance
from irl.errors import InvalidInputError

MAX_BATCH = 65_536
MAX_COVERAGE = 2_000
"""Visited transitions used as EPIC's coverage (a random subset when there are more)."""
N_CANONICAL = 128
"""Samples of states and of actions in each EPIC canonicalisation expectation."""
MAX_DARD_COVERAGE = 500
"""Visited transitions used as DARD's coverage (each needs 2 x N_DARD_ACTIONS dynamics draws)."""
N_DARD_ACTIONS = 32
"""Action samples in each DARD canonicalisation expectation."""
Transitions = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Visited (obs (N, ...), acts (N, ...), next_obs (N, ...))."""


@dataclass(frozen=True, eq=False)
class TransitionBatch:
    """Coverage transitions (s, a, s') over which distances are measured."""

    obs: np.ndarray
    """(N, ...) states; scalars for tabular environments, vectors for gymnasium ones."""
    acts: np.ndarray
    """(N, ...) actions."""
    next_obs: np.ndarray
    """(N, ...) next states, same trailing shape as obs."""
    weights: np.ndarray | None = None
    """(N,) non-negative float64 weights, or None for equal weights."""

    def __post_init__(self) -> None:
        """Refuse batches whose parts differ in length or whose next_obs differ from obs."""
        n = len(self.obs)
        if n == 0 or len(self.acts) != n or len(self.next_obs) != n:
            raise InvalidInputError.at(
                "transitions",
                f"obs, acts and next_obs need the same non-zero length, got {n}, "
                f"{len(self.acts)} and {len(self.next_obs)}",
            )
        if self.obs.shape != self.next_obs.shape:
            raise InvalidInputError.at("transitions.next_obs", "must have the shape of obs")
        if self.weights is not None and self.weights.shape != (n,):
            raise InvalidInputError.at("transitions.weights", f"expected shape [{n}]")


def sampled_epic_canonical(
    reward: RewardFn,
    transitions: TransitionBatch,
    *,
    discount: float,
    states: np.ndarray,
    actions: np.ndarray,
) -> np.ndarray:
    """(N,) estimate of EPIC's C(R) on the transitions.

    states: (M, ...) samples of D_S, actions: (M, ...) samples of D_A, drawn independently.
    E[R(x, A, S')] is the mean over j of R(x, actions[j], states[j]); E[R(S, A, S')] the mean
    of that over x = states[k], leaving out j = k so that S and S' stay independent.
    """
    _check_discount(discount)
    _check_samples(states, actions)
    xs = np.concatenate([transitions.obs, transitions.next_obs, states])
    means = _pair_means(reward, xs, actions, states)
    n, m = len(transitions.obs), len(states)
    diagonal = _evaluate(reward, states, actions, states)
    overall = float((means[2 * n :].sum() * m - diagonal.sum()) / (m * (m - 1)))
    observed = _evaluate(reward, transitions.obs, transitions.acts, transitions.next_obs)
    return observed + discount * means[n : 2 * n] - means[:n] - discount * overall


def sampled_dard_canonical(
    reward: RewardFn,
    transitions: TransitionBatch,
    *,
    discount: float,
    actions: np.ndarray,
    successors: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """(N,) estimate of DARD's C(R) on the transitions.

    actions: (M, ...) samples of D_A; successors: from sample_successors, (N, M, ...) draws
    S'[i, j] ~ T(. | s_i, actions[j]) and S''[i, j] ~ T(. | s'_i, actions[j]).
    """
    _check_discount(discount)
    first, second = successors
    n, m = len(transitions.obs), len(actions)
    if first.shape[:2] != (n, m) or second.shape != first.shape:
        raise InvalidInputError.at("successors", f"expected two arrays of shape [{n}, {m}, ...]")
    flat_first = first.reshape(n * m, *first.shape[2:])
    flat_second = second.reshape(n * m, *second.shape[2:])
    tiled_actions = _tile(actions, n)
    obs = np.repeat(transitions.obs, m, axis=0)
    next_obs = np.repeat(transitions.next_obs, m, axis=0)
    from_next = _evaluate(reward, next_obs, tiled_actions, flat_second).reshape(n, m)
    from_obs = _evaluate(reward, obs, tiled_actions, flat_first).reshape(n, m)
    across = _evaluate(reward, flat_first, tiled_actions, flat_second).reshape(n, m)
    observed = _evaluate(reward, transitions.obs, transitions.acts, transitions.next_obs)
    return observed + (discount * from_next - from_obs - discount * across).mean(axis=1)


def sample_successors(
    transitions: TransitionBatch, actions: np.ndarray, sample_next: NextStateSampler
) -> tuple[np.ndarray, np.ndarray]:
    """(N, M, ...) next states of each (obs_i, actions[j]), and of each (next_obs_i, actions[j])."""
    if len(actions) == 0:
        raise InvalidInputError.at("actions", "need at least one action sample")
    n, m = len(transitions.obs), len(actions)
    tiled_actions = _tile(actions, n)
    draws = []
    for origin in (transitions.obs, transitions.next_obs):
        drawn = np.asarray(sample_next(np.repeat(origin, m, axis=0), tiled_actions))
        if drawn.shape != (n * m, *origin.shape[1:]):
            raise InvalidInputError.at(
                "sample_next",
                f"returned shape {list(drawn.shape)}, expected {[n * m, *origin.shape[1:]]}",
            )
        draws.append(drawn.reshape(n, m, *origin.shape[1:]))
    return draws[0], draws[1]


def sampled_epic_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    transitions: TransitionBatch,
    *,
    discount: float,
    states: np.ndarray,
    actions: np.ndarray,
) -> float:
    """Monte Carlo EPIC in [0, 1] (see sampled_epic_canonical for the samples)."""
    canonical = [
        sampled_epic_canonical(r, transitions, discount=discount, states=states, actions=actions)
        for r in (reward_a, reward_b)
    ]
    return pearson_distance(canonical[0], canonical[1], transitions.weights)


def sampled_dard_distance(
    reward_a: RewardFn,
    reward_b: RewardFn,
    transitions: TransitionBatch,
    *,
    discount: float,
    actions: np.ndarray,
    sample_next: NextStateSampler,
) -> float:
    """Monte Carlo DARD in [0, 1]; successors are drawn once and shared by both rewards."""
    successors = sample_successors(transitions, actions, sample_next)
    canonical = [
        sampled_dard_canonical(
            r, transitions, discount=discount, actions=actions, successors=successors
        )
        for r in (reward_a, reward_b)
    ]
    return pearson_distance(canonical[0], canonical[1], transitions.weights)


def estimate_epic(
    reward_a: RewardFn,
    reward_b: RewardFn,
    visited: Transitions,
    *,
    discount: float,
    rng: np.random.Generator,
) -> float:
    """Sampled EPIC with coverage (at most MAX_COVERAGE), state and action samples
    (N_CANONICAL each) drawn from the visited transitions."""
    obs, acts, _ = visited
    return sampled_epic_distance(
        reward_a,
        reward_b,
        _subset(visited, MAX_COVERAGE, rng),
        discount=discount,
        states=obs[rng.integers(0, len(obs), N_CANONICAL)],
        actions=acts[rng.integers(0, len(acts), N_CANONICAL)],
    )


def estimate_dard(
    reward_a: RewardFn,
    reward_b: RewardFn,
    visited: Transitions,
    *,
    discount: float,
    rng: np.random.Generator,
    sample_next: NextStateSampler,
) -> float:
    """Sampled DARD with coverage (at most MAX_DARD_COVERAGE) and action samples
    (N_DARD_ACTIONS) drawn from the visited transitions."""
    cover = _subset(visited, MAX_DARD_COVERAGE, rng)
    acts = visited[1]
    return sampled_dard_distance(
        reward_a,
        reward_b,
        cover,
        discount=discount,
        actions=acts[rng.integers(0, len(acts), N_DARD_ACTIONS)],
        sample_next=sample_next,
    )


def _subset(visited: Transitions, limit: int, rng: np.random.Generator) -> TransitionBatch:
    """At most `limit` of the visited transitions, drawn without replacement."""
    obs, acts, next_obs = visited
    cover = rng.choice(len(obs), size=min(len(obs), limit), replace=False)
    return TransitionBatch(obs[cover], acts[cover], next_obs[cover])


def _pair_means(
    reward: RewardFn, xs: np.ndarray, actions: np.ndarray, states: np.ndarray
) -> np.ndarray:
    """(K,) mean over j of R(xs[k], actions[j], states[j]), in bounded-size batches."""
    m = len(states)
    per_chunk = max(1, MAX_BATCH // m)
    means = []
    for start in range(0, len(xs), per_chunk):
        chunk = xs[start : start + per_chunk]
        values = _evaluate(
            reward,
            np.repeat(chunk, m, axis=0),
            _tile(actions, len(chunk)),
            _tile(states, len(chunk)),
        )
        means.append(values.reshape(len(chunk), m).mean(axis=1))
    return np.concatenate(means)


def _tile(samples: np.ndarray, times: int) -> np.ndarray:
    """(times * M, ...): the M samples repeated end to end."""
    return np.tile(samples, (times,) + (1,) * (samples.ndim - 1))


def _evaluate(
    reward: RewardFn, obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray
) -> np.ndarray:
    """(K,) float64 rewards, computed MAX_BATCH at a time and checked to be finite."""
    parts = []
    for start in range(0, len(obs), MAX_BATCH):
        end = start + MAX_BATCH
        values = np.asarray(reward(obs[start:end], acts[start:end], next_obs[start:end]))
        if values.shape != (len(obs[start:end]),):
            raise InvalidInputError.at(
                "reward", f"returned shape {list(values.shape)}, expected [{len(obs[start:end])}]"
            )
        parts.append(values.astype(np.float64))
    result = np.concatenate(parts)
    if not np.isfinite(result).all():
        raise InvalidInputError.at("reward", "returned non-finite values")
    return result


def _check_samples(states: np.ndarray, actions: np.ndarray) -> None:
    """Refuse state and action samples of different or too small sizes."""
    if len(states) < 2 or len(actions) != len(states):
        raise InvalidInputError.at(
            "samples",
            f"need as many state as action samples, at least 2; got {len(states)} "
            f"and {len(actions)}",
        )
