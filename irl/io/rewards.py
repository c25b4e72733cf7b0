"""Reward specs from the API (JSON) validated into reward values, checked against an environment."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError
from irl.io.fields import ProblemList, as_float, as_mapping, as_str, check_keys, numeric_array
from irl.rewards import (
    EnvironmentReward,
    InferenceReward,
    LinearReward,
    ObservedReward,
    RewardSpec,
    TabularReward,
    reward_array,
)

REWARD_KINDS = ("tabular", "linear", "observed", "environment", "inference")
MAX_LINEAR_WEIGHTS = 10_000
MAX_NAME_LENGTH = 200


def parse_reward_spec(
    spec: Any,
    *,
    loc: str,
    mdp: TabularMDP | None = None,
    n_states: int | None = None,
    n_actions: int | None = None,
    feature_names: Sequence[str] | None = None,
    allowed_kinds: Collection[str] = REWARD_KINDS,
) -> RewardSpec:
    """Validate an API reward spec; with an MDP (or its sizes) also check it fits the MDP."""
    if mdp is not None:
        n_states, n_actions, feature_names = mdp.n_states, mdp.n_actions, mdp.feature_names
    spec = as_mapping(spec, loc)
    kind = spec.get("kind")
    if kind not in allowed_kinds:
        raise InvalidInputError.at(
            f"{loc}.kind",
            f"expected one of {', '.join(allowed_kinds)}, got {_short(kind)}",
        )
    if kind == "tabular":
        check_keys(spec, loc, required=("kind", "values"))
        return TabularReward(_tabular_values(spec["values"], f"{loc}.values", n_states, n_actions))
    if kind == "linear":
        check_keys(spec, loc, required=("kind", "weights"), optional=("bias",))
        return _linear(spec, loc, feature_names)
    if kind == "inference":
        check_keys(spec, loc, required=("kind", "id"))
        return InferenceReward(as_str(spec["id"], f"{loc}.id"))
    check_keys(spec, loc, required=("kind",))
    return ObservedReward() if kind == "observed" else EnvironmentReward()


def checked_reward_array(
    reward: TabularReward | LinearReward, mdp: TabularMDP, *, loc: str = "reward"
) -> np.ndarray:
    """reward_array(reward, mdp), after refusing a reward that does not fit the MDP at `loc`."""
    if isinstance(reward, LinearReward):
        _check_weight_names(reward.weights, f"{loc}.weights", mdp.feature_names)
    else:
        _check_values_shape(reward.values, f"{loc}.values", mdp.n_states, mdp.n_actions)
    return reward_array(reward, mdp)


def _tabular_values(
    value: Any, loc: str, n_states: int | None, n_actions: int | None
) -> np.ndarray:
    """Reward values array, checked against the MDP's sizes when they are known."""
    values = numeric_array(value, loc, ndims=(1, 2, 3), integer=False)
    if values.size == 0:
        raise InvalidInputError.at(loc, "must not be empty")
    if n_states is not None and n_actions is not None:
        _check_values_shape(values, loc, n_states, n_actions)
    elif values.ndim == 3 and values.shape[0] != values.shape[2]:
        raise InvalidInputError.at(
            loc, f"shape {list(values.shape)}: the first and last dimensions must both be states"
        )
    return values


def _check_values_shape(values: np.ndarray, loc: str, n_states: int, n_actions: int) -> None:
    """Refuse reward values whose shape is not (S,), (S, A) or (S, A, S) of the MDP."""
    full = (n_states, n_actions, n_states)
    if values.shape != full[: values.ndim]:
        raise InvalidInputError.at(
            loc, f"shape {list(values.shape)}, expected {_shapes_text(n_states, n_actions)}"
        )


def _linear(spec: Mapping[str, Any], loc: str, feature_names: Sequence[str] | None) -> LinearReward:
    """LinearReward from a validated spec."""
    problems = ProblemList()
    raw = problems.attempt(as_mapping, spec["weights"], f"{loc}.weights")
    weights: dict[str, float] = {}
    if raw is not None:
        if len(raw) > MAX_LINEAR_WEIGHTS:
            problems.add(
                f"{loc}.weights", f"{len(raw)} weights, above the limit {MAX_LINEAR_WEIGHTS}"
            )
            raw = {}
        for name, value in raw.items():
            if len(name) > MAX_NAME_LENGTH:
                problems.add(f"{loc}.weights", f"a feature name is longer than {MAX_NAME_LENGTH}")
                continue
            weight = problems.attempt(as_float, value, f"{loc}.weights.{name}")
            if weight is not None:
                weights[name] = weight
        if feature_names is not None:
            problems.attempt(_check_weight_names, raw, f"{loc}.weights", feature_names)
    bias = problems.attempt(as_float, spec.get("bias", 0.0), f"{loc}.bias")
    problems.raise_if_any()
    return LinearReward(weights, bias or 0.0)


def _check_weight_names(weights: Mapping[str, Any], loc: str, feature_names: Sequence[str]) -> None:
    """Refuse weights for features the environment does not have."""
    known = set(feature_names)
    unknown = [name for name in weights if name not in known]
    if not unknown:
        return
    listed = ", ".join(feature_names[:10]) + (", ..." if len(feature_names) > 10 else "")
    problems = ProblemList()
    for name in unknown:
        shown = name if len(name) <= 40 else name[:37] + "..."
        problems.add(f"{loc}.{name}", f"unknown feature `{shown}`, known: {listed}")
    problems.raise_if_any()


def _shapes_text(n_states: int, n_actions: int) -> str:
    """E.g. "[49], [49, 5] or [49, 5, 49]"."""
    s, a = n_states, n_actions
    return f"[{s}], [{s}, {a}] or [{s}, {a}, {s}]"


def _short(value: Any) -> str:
    """A value for an error message, truncated."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
