"""Which features the data cannot tell apart (so no IRL method can weigh them apart).

MCE IRL learns from the states the agent could have reached and avoided, not only from the ones
it visited: with `reachable` given, features constant or perfectly (anti)correlated over the
reachable states cannot be told apart, and a feature that varies there but never where the agent
went gives one-sided evidence ("avoided, or not wanted"). Without it, the visited states decide
(what the rollouts page reports before any inference).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from irl.environments.tabular import TabularMDP
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
    one_sided: tuple[str, ...] = ()
    """Features that vary over the reachable states but never over the visited ones."""
    scope: str = "visited"
    """Over which states: `visited` or `reachable`."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the API (`one_sided` and `scope` only over reachable states)."""
        body: dict[str, Any] = {
            "indistinguishable": [list(group) for group in self.indistinguishable],
            "constant": list(self.constant),
            "message": self.message,
        }
        if self.scope == "reachable":
            body |= {"one_sided": list(self.one_sided), "scope": self.scope}
        return body


def reachable_states(mdp: TabularMDP, starts: np.ndarray) -> np.ndarray:
    """(S,) bool: states reachable within the horizon from the states where `starts` (S,) > 0."""
    successors = mdp.transitions.tocoo()
    source = successors.row // mdp.n_actions
    reached = np.asarray(starts, dtype=np.float64) > 0
    for _ in range(mdp.horizon):
        grown = reached.copy()
        grown[successors.col[reached[source] & (successors.data > 0)]] = True
        if (grown == reached).all():
            break
        reached = grown
    return reached


def reachable_identifiability(
    mdp: TabularMDP, state_visits: np.ndarray, starts: np.ndarray
) -> IdentifiabilityReport:
    """Identifiability over the states reachable from `starts` (S,), with the one-sided
    features: varying where the agent could go, constant where it went."""
    names = mdp.feature_names
    reachable = reachable_states(mdp, starts) | (np.asarray(state_visits) > 0)
    over_reach = _analysed(mdp.features, names, reachable.astype(np.float64), "could reach")
    over_visits = identifiability(mdp.features, names, state_visits)
    one_sided = tuple(name for name in over_visits.constant if name not in over_reach.constant)
    values = {
        name: float(mdp.features[np.asarray(state_visits) > 0, names.index(name)].mean())
        for name in one_sided
    }
    message = " ".join(
        part for part in (over_reach.message, _one_sided_message(one_sided, values)) if part
    )
    return IdentifiabilityReport(
        over_reach.indistinguishable,
        over_reach.constant,
        message,
        one_sided=one_sided,
        scope="reachable",
    )


def identifiability(
    features: np.ndarray, feature_names: Sequence[str], state_visits: np.ndarray
) -> IdentifiabilityReport:
    """Report features that co-vary perfectly (or not at all) over the visited states.

    features: (S, F) float64; state_visits: (S,) non-negative visit counts used as weights.
    """
    return _analysed(features, feature_names, state_visits, "visited")


def _analysed(
    features: np.ndarray, feature_names: Sequence[str], weights: np.ndarray, where: str
) -> IdentifiabilityReport:
    """Constant and perfectly (anti)correlated features under state weights (S,); `where` says
    which states in the message ("visited", "could reach")."""
    w, x = _checked(features, feature_names, weights)
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
        _group_message(names, [signs[j] == signs[group[0]] for j in group], where)
        for names, group in zip(indistinguishable, groups, strict=True)
    ]
    constant_message = _constant_message(constant_names, constant_values, where)
    message = " ".join([*messages, constant_message]).strip()
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


def _group_message(group: Sequence[str], same_sign: Sequence[bool], where: str) -> str:
    """Explain one indistinguishable group and suggest a test that separates it."""
    quoted = [f"`{name}`" for name in group]
    listed = ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    first, second = quoted[0], quoted[1]
    if all(same_sign):
        return (
            f"{listed} always co-occur in the states the agent {where}, so the data cannot tell "
            f"which one it pursues; test it where they are separated (a {first} that is not "
            f"{second}, a {second} that is not a {first})."
        )
    return (
        f"{listed} are perfectly (anti)correlated in the states the agent {where} (one rises "
        f"exactly where another falls), so the data cannot tell which one it pursues; test it "
        f"where they vary independently (both {first} and {second}, or neither)."
    )


def _constant_message(names: Sequence[str], values: Sequence[float], where: str) -> str:
    """Explain features that never vary where the agent went ("" when there are none)."""
    if not names:
        return ""
    parts = [f"`{name}` (always {value:.3g})" for name, value in zip(names, values, strict=True)]
    shown = ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
    return (
        f"{shown} never vary in the states the agent {where}, so their weights cannot be "
        "inferred; test it where they vary."
    )


def _one_sided_message(names: Sequence[str], values: dict[str, float]) -> str:
    """Explain features the agent could have reached but never visited where they differ."""
    if not names:
        return ""
    parts = [f"`{name}` (always {values[name]:.3g} where it went)" for name in names]
    shown = ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
    return (
        f"{shown} vary in states the agent could reach but never where it went: their weights "
        "rest on one-sided evidence (avoided, or not wanted; the data cannot say which)."
    )
