"""Which features the visited states cannot tell apart (so no IRL method can weigh them apart)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from irl.errors import InvalidInputError

CORRELATION_DECIMALS = 6
CONSTANT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class IdentifiabilityReport:
    """Features perfectly (anti)correlated, or constant, over the states the agent visited."""

    indistinguishable: tuple[tuple[str, ...], ...]
    constant: tuple[str, ...]
    message: str
    """A plain-language explanation with a suggested test; "" when every feature is identifiable."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the API."""
        return {
            "indistinguishable": [list(group) for group in self.indistinguishable],
            "constant": list(self.constant),
            "message": self.message,
        }


def identifiability(
    features: np.ndarray, feature_names: Sequence[str], state_visits: np.ndarray
) -> IdentifiabilityReport:
    """Report features that co-vary perfectly (or not at all) over the visited states.

    features: (S, F) float64; state_visits: (S,) non-negative visit counts used as weights.
    """
    w, x = _checked(features, feature_names, state_visits)
    visited = w > 0
    w, x = w[visited], x[visited]
    centred = x - w @ x
    std = np.sqrt(w @ (centred * centred))
    constant = std <= CONSTANT_TOLERANCE * np.maximum(np.abs(x).max(axis=0), 1.0)
    varying = np.flatnonzero(~constant)
    groups, signs = _perfect_groups(centred[:, varying] / std[varying])
    indistinguishable = tuple(
        tuple(feature_names[int(varying[j])] for j in group) for group in groups
    )
    constant_names = tuple(feature_names[i] for i in np.flatnonzero(constant).tolist())
    constant_values = [float(w @ x[:, i]) for i in np.flatnonzero(constant)]
    messages = [
        _group_message(names, [signs[j] == signs[group[0]] for j in group])
        for names, group in zip(indistinguishable, groups, strict=True)
    ]
    message = " ".join([*messages, _constant_message(constant_names, constant_values)]).strip()
    return IdentifiabilityReport(indistinguishable, constant_names, message)


def _checked(
    features: np.ndarray, feature_names: Sequence[str], state_visits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised visit weights (S,) and float64 features (S, F), after shape checks."""
    x = np.asarray(features, dtype=np.float64)
    visits = np.asarray(state_visits, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(feature_names) or visits.shape != (x.shape[0],):
        raise InvalidInputError.at(
            "features",
            f"shape {list(x.shape)} does not match "
            f"{len(feature_names)} names and {visits.size} visit counts",
        )
    if not (np.isfinite(x).all() and np.isfinite(visits).all()) or (visits < 0).any():
        raise InvalidInputError.at(
            "state_visits", "features and visits must be finite, visits non-negative"
        )
    if visits.sum() <= 0:
        raise InvalidInputError.at("state_visits", "no state was visited")
    return visits / visits.sum(), x


def _perfect_groups(z: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Groups (size >= 2) of standardized columns equal up to sign, i.e. |correlation| = 1.

    Columns are sign-normalised and compared after rounding, which is O(S * F) rather than the
    O(F^2) correlation matrix (one-hot features can number thousands). Returns the groups and
    each column's sign (+1 or -1).
    """
    if z.shape[1] == 0:
        return [], np.ones(0)
    pivot = np.argmax(np.abs(z) > 1e-6, axis=0)
    signs = np.sign(z[pivot, np.arange(z.shape[1])])
    keys = np.round(z * signs, CORRELATION_DECIMALS)
    _, inverse = np.unique(keys.T, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    groups: dict[int, list[int]] = {}
    for column, key in enumerate(inverse.tolist()):
        groups.setdefault(key, []).append(column)
    return [members for members in groups.values() if len(members) > 1], signs


def _group_message(group: Sequence[str], same_sign: Sequence[bool]) -> str:
    """Explain one indistinguishable group and suggest a test that separates it."""
    quoted = [f"`{name}`" for name in group]
    listed = ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    first, second = quoted[0], quoted[1]
    if all(same_sign):
        return (
            f"{listed} always co-occur in the states the agent visited, so the data cannot tell "
            f"which one it pursues; test it where they are separated (a {first} that is not "
            f"{second}, a {second} that is not a {first})."
        )
    return (
        f"{listed} are perfectly (anti)correlated in the states the agent visited (one rises "
        f"exactly where another falls), so the data cannot tell which one it pursues; test it "
        f"where they vary independently (both {first} and {second}, or neither)."
    )


def _constant_message(names: Sequence[str], values: Sequence[float]) -> str:
    """Explain features that never vary where the agent went ("" when there are none)."""
    if not names:
        return ""
    parts = [f"`{name}` (always {value:.3g})" for name, value in zip(names, values, strict=True)]
    shown = ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
    return (
        f"{shown} never vary in the states the agent visited, so their weights cannot be "
        "inferred; test it where they vary."
    )
