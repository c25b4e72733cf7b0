"""EPIC pseudometric between rewards (Gleave et al., ICLR 2021), exact for tabular rewards.

Canonicalisation removes potential shaping; the Pearson distance removes positive rescaling and
constant shifts; so two rewards that induce the same optimal behaviour for every dynamics are at
distance 0.
"""

import numpy as np

from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError

CONSTANT_TOLERANCE = 1e-12


def epic_canonicalize(reward: np.ndarray, discount: float) -> np.ndarray:
    """C(R)(s,a,s') = R(s,a,s') + E[gamma R(s',A,S') - R(s,A,S') - gamma R(S,A,S')], (S, A, S).

    S, S' are uniform over states and A uniform over actions, so expectations are plain means.
    """
    _check_reward(reward, "reward")
    _check_discount(discount)
    state_means = reward.mean(axis=(1, 2))
    return (
        reward
        + discount * state_means[None, None, :]
        - state_means[:, None, None]
        - discount * reward.mean()
    )


def pearson_distance(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """sqrt((1 - rho) / 2) in [0, 1], rho the (weighted) Pearson correlation of x and y.

    A constant array has no correlation with anything: rho = 0 (distance sqrt(1/2)) when exactly
    one of x, y is constant, and distance 0 when both are (both rewards are indifferent to
    everything, so they agree). "Constant" means a standard deviation below 1e-12 of the largest
    magnitude, which absorbs floating-point noise from canonicalisation. Identical inputs give
    about 1e-8 rather than 0: the square root magnifies rounding in rho.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise InvalidInputError.at("y", f"{y.size} values, expected as many as x ({x.size})")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInputError.at("x", "values must be finite")
    w = _normalized_weights(weights, x.size)
    zx, zy = _standardized(x, w), _standardized(y, w)
    if zx is None or zy is None:
        return 0.0 if zx is None and zy is None else float(np.sqrt(0.5))
    rho = float(np.clip(w @ (zx * zy), -1.0, 1.0))
    return float(np.sqrt((1.0 - rho) / 2.0))


def epic_distance(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    *,
    discount: float,
    coverage: np.ndarray | None = None,
) -> float:
    """EPIC distance in [0, 1] of two (S, A, S) rewards; coverage: (S, A, S) weights, or uniform."""
    _check_reward(reward_a, "a")
    _check_reward(reward_b, "b")
    if reward_a.shape != reward_b.shape:
        raise InvalidInputError.at(
            "b", f"shape {list(reward_b.shape)}, expected {list(reward_a.shape)} like a"
        )
    if coverage is not None and coverage.shape != reward_a.shape:
        raise InvalidInputError.at(
            "coverage", f"shape {list(coverage.shape)}, expected {list(reward_a.shape)}"
        )
    return pearson_distance(
        epic_canonicalize(reward_a, discount), epic_canonicalize(reward_b, discount), coverage
    )


def transition_coverage(mdp: TabularMDP) -> np.ndarray:
    """(S, A, S) float64 weights T(s' | s, a) / (S * A): uniform (s, a), s' from the dynamics."""
    return mdp.dense_transitions() / (mdp.n_states * mdp.n_actions)


def _standardized(v: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """(v - mean) / std under weights w (0 off its support), or None when v is constant on it."""
    support = w > 0
    scale = float(np.abs(v[support]).max(initial=0.0))
    if scale == 0.0:
        return None
    v = np.where(support, v, 0.0) / scale
    centred = v - w @ v
    std = float(np.sqrt(w @ (centred * centred)))
    return None if std <= CONSTANT_TOLERANCE else centred / std


def _normalized_weights(weights: np.ndarray | None, size: int) -> np.ndarray:
    """Weights summing to 1 (uniform when None)."""
    if weights is None:
        return np.full(size, 1.0 / size)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != size:
        raise InvalidInputError.at("weights", f"{w.size} values, expected {size}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError.at("weights", "must be finite, non-negative and not all zero")
    return w / w.sum()


def _check_reward(reward: np.ndarray, loc: str) -> None:
    """Refuse anything but a finite (S, A, S) array."""
    if reward.ndim != 3 or reward.shape[0] != reward.shape[2] or reward.size == 0:
        raise InvalidInputError.at(loc, f"shape {list(reward.shape)}, expected [S, A, S]")
    if not np.isfinite(reward).all():
        raise InvalidInputError.at(loc, "values must be finite")


def _check_discount(discount: float) -> None:
    """Refuse discounts outside [0, 1]."""
    if not 0.0 <= discount <= 1.0:
        raise InvalidInputError.at("discount", f"must be in [0, 1], got {discount}")
