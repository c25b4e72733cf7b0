"""Environment specs from the API (JSON) validated into TabularMDPs and gymnasium references."""

import contextlib
import fnmatch
import functools
import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import scipy.sparse

from irl.arrays import read_only
from irl.environments.tabular import PROBABILITY_TOLERANCE, GymnasiumEnvSpec, Layout, TabularMDP
from irl.errors import InvalidInputError
from irl.io.fields import (
    ProblemList,
    as_float,
    as_int,
    as_mapping,
    as_str,
    check_keys,
    check_length,
    first_indices,
    numeric_array,
    storable_text,
)
from irl.io.rewards import parse_reward_spec
from irl.rewards import LinearReward, TabularReward

T = TypeVar("T")

MAX_STATES = 100_000
MAX_TRANSITIONS = 5_000_000
MAX_HORIZON = 10_000
MAX_FEATURE_VALUES = 50_000_000
MAX_GRID_SIDE = 100_000
MAX_KWARGS_CHARS = 10_000
_RENORMALISE_ABOVE = 1e-12
_REPORTED = 5
_TABULAR_FIELDS = (
    "kind",
    "n_states",
    "n_actions",
    "transitions",
    "initial_state_dist",
    "horizon",
    "discount",
)


def parse_environment(
    spec: Any,
    *,
    loc: str = "environment",
    allowed_gym_ids: Collection[str] = (),
    max_states: int = MAX_STATES,
    max_transitions: int = MAX_TRANSITIONS,
    max_horizon: int = MAX_HORIZON,
) -> TabularMDP | GymnasiumEnvSpec:
    """Validate an environment spec of either kind; gymnasium ids must match an allowed pattern."""
    mapping = as_mapping(spec, loc)
    kind = mapping.get("kind")
    if kind == "tabular":
        return parse_tabular_mdp(
            mapping,
            loc=loc,
            max_states=max_states,
            max_transitions=max_transitions,
            max_horizon=max_horizon,
        )
    if kind == "gymnasium":
        return _parse_gymnasium(mapping, loc, allowed_gym_ids)
    raise InvalidInputError.at(
        f"{loc}.kind", f"expected `tabular` or `gymnasium`, got {json.dumps(kind)[:40]}"
    )


def parse_tabular_mdp(
    spec: Any,
    *,
    loc: str = "environment",
    max_states: int = MAX_STATES,
    max_transitions: int = MAX_TRANSITIONS,
    max_horizon: int = MAX_HORIZON,
    max_feature_values: int = MAX_FEATURE_VALUES,
) -> TabularMDP:
    """Validate a tabular environment spec (sizes checked against the limits first)."""
    spec = as_mapping(spec, loc)
    problems = ProblemList()
    problems.attempt(
        lambda: check_keys(
            spec, loc, required=_TABULAR_FIELDS, optional=("name", "features", "reward", "layout")
        )
    )
    if "kind" in spec and spec["kind"] != "tabular":
        problems.add(f"{loc}.kind", "expected `tabular`")
    name = problems.attempt(lambda: as_str(spec.get("name", "tabular"), f"{loc}.name"))
    n_states = _present(
        problems,
        spec,
        "n_states",
        lambda v: as_int(v, f"{loc}.n_states", minimum=1, maximum=max_states),
    )
    n_actions = _present(
        problems,
        spec,
        "n_actions",
        lambda v: as_int(v, f"{loc}.n_actions", minimum=1, maximum=max_transitions),
    )
    horizon = _present(
        problems,
        spec,
        "horizon",
        lambda v: as_int(v, f"{loc}.horizon", minimum=1, maximum=max_horizon),
    )
    discount = _present(
        problems,
        spec,
        "discount",
        lambda v: as_float(v, f"{loc}.discount", minimum=0.0, maximum=1.0, exclusive_minimum=True),
    )
    if n_states is not None and n_actions is not None and n_states * n_actions > max_transitions:
        problems.add(
            f"{loc}.n_actions",
            f"{n_states} states x {n_actions} actions need "
            f"{n_states * n_actions} transition rows, above the limit {max_transitions}",
        )
    if n_states is None or n_actions is None or n_states * n_actions > max_transitions:
        problems.raise_if_any()
        raise InvalidInputError.at(loc, "n_states and n_actions are required")
    transitions = _present(
        problems,
        spec,
        "transitions",
        lambda v: _parse_transitions(v, f"{loc}.transitions", n_states, n_actions, max_transitions),
    )
    initial = _present(
        problems,
        spec,
        "initial_state_dist",
        lambda v: _parse_initial(v, f"{loc}.initial_state_dist", n_states),
    )
    features = problems.attempt(
        lambda: _parse_features(
            spec.get("features"), f"{loc}.features", n_states, max_feature_values
        )
    )
    reward = None
    if spec.get("reward") is not None and features is not None:
        names = features[0]
        reward = problems.attempt(
            lambda: parse_reward_spec(
                spec["reward"],
                loc=f"{loc}.reward",
                n_states=n_states,
                n_actions=n_actions,
                feature_names=names,
                allowed_kinds=("tabular", "linear"),
            )
        )
    layout = None
    if spec.get("layout") is not None:
        layout = problems.attempt(lambda: _parse_layout(spec["layout"], f"{loc}.layout", n_states))
    problems.raise_if_any()
    assert transitions is not None and initial is not None and features is not None
    assert name is not None and horizon is not None and discount is not None
    assert reward is None or isinstance(reward, TabularReward | LinearReward)
    return TabularMDP(
        name=name,
        n_states=n_states,
        n_actions=n_actions,
        transitions=transitions,
        initial_state_dist=initial,
        horizon=horizon,
        discount=discount,
        feature_names=features[0],
        features=features[1],
        reward=reward,
        layout=layout,
    )


def _present(
    problems: ProblemList, spec: Mapping[str, Any], key: str, parse: Callable[[Any], T]
) -> T | None:
    """Parse spec[key] when present, recording problems (absence is reported by check_keys)."""
    return problems.attempt(lambda: parse(spec[key])) if key in spec else None


def _parse_transitions(
    value: Any, loc: str, n_states: int, n_actions: int, max_transitions: int
) -> scipy.sparse.csr_array:
    """Sparse (S*A, S) transition matrix from [s, a, s_next, p] rows; duplicates are summed."""
    check_length(value, loc, max_transitions, "transitions")
    if isinstance(value, list | tuple) and not value:
        raise InvalidInputError.at(loc, "at least one [s, a, s_next, p] row per (s, a) is required")
    rows = numeric_array(value, loc, ndims=(2,), integer=False)
    if rows.shape[1] != 4:
        raise InvalidInputError.at(
            loc, f"rows must be [s, a, s_next, p], got rows of length {rows.shape[1]}"
        )
    problems = ProblemList()
    columns = (("state", n_states), ("action", n_actions), ("next-state", n_states))
    for column, (what, bound) in enumerate(columns):
        index = rows[:, column]
        _report_rows(
            problems, loc, index, index != np.floor(index), f"{what} index {{}} is not an integer"
        )
        _report_rows(
            problems,
            loc,
            index,
            (index < 0) | (index >= bound),
            f"{what} index {{}} out of range [0, {bound})",
        )
    probs = rows[:, 3]
    outside = (probs < 0) | (probs > 1.0 + PROBABILITY_TOLERANCE)
    _report_rows(problems, loc, probs, outside, "probability {} outside [0, 1]")
    problems.raise_if_any()
    s, a, s_next = (rows[:, i].astype(np.int64) for i in range(3))
    pair = s * n_actions + a
    sums = np.bincount(pair, weights=probs, minlength=n_states * n_actions)
    _check_sums(sums, loc, n_actions)
    scale = np.where(np.abs(sums - 1.0) > _RENORMALISE_ABOVE, 1.0 / np.maximum(sums, 1e-300), 1.0)
    matrix = scipy.sparse.csr_array(
        (probs * scale[pair], (pair, s_next)), shape=(n_states * n_actions, n_states)
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.data.flags.writeable = False
    return matrix


def _report_rows(
    problems: ProblemList, loc: str, column: np.ndarray, mask: np.ndarray, template: str
) -> None:
    """Add one problem per offending row (first few), e.g. "transitions[12]: state index 57 ..."."""
    for (row,) in first_indices(mask, _REPORTED):
        value = column[row]
        shown = int(value) if float(value).is_integer() else float(value)
        problems.add(f"{loc}[{row}]", template.format(shown))
    extra = int(mask.sum()) - _REPORTED
    if extra > 0:
        problems.add(loc, f"{extra} more rows with the same problem")


def _check_sums(sums: np.ndarray, loc: str, n_actions: int) -> None:
    """Refuse (s, a) pairs whose probabilities do not sum to 1."""
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_TOLERANCE)
    if not bad.size:
        return
    problems = ProblemList()
    for pair in bad[:_REPORTED]:
        s, a = divmod(int(pair), n_actions)
        problems.add(loc, f"probabilities for (s={s}, a={a}) sum to {sums[pair]:.6g}, expected 1")
    if bad.size > _REPORTED:
        problems.add(loc, f"{bad.size - _REPORTED} more (s, a) pairs do not sum to 1")
    problems.raise_if_any()


def _parse_initial(value: Any, loc: str, n_states: int) -> np.ndarray:
    """Initial state distribution, (S,) float64 summing to 1."""
    check_length(value, loc, n_states, "entries")
    dist = numeric_array(value, loc, ndims=(1,), integer=False)
    if dist.shape != (n_states,):
        raise InvalidInputError.at(loc, f"length {dist.size}, expected n_states = {n_states}")
    problems = ProblemList()
    for (i,) in first_indices(dist < 0, _REPORTED):
        problems.add(f"{loc}[{i}]", f"probability {dist[i]:.6g} is negative")
    problems.raise_if_any()
    total = float(dist.sum())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise InvalidInputError.at(loc, f"sums to {total:.6g}, expected 1")
    if abs(total - 1.0) > _RENORMALISE_ABOVE:
        dist = dist / total
    return read_only(dist)


def _parse_features(
    value: Any, loc: str, n_states: int, max_values: int
) -> tuple[tuple[str, ...], np.ndarray]:
    """Feature names and (S, F) float64 values; one-hot state indicators when absent."""
    if value is None:
        if n_states * n_states > max_values:
            raise InvalidInputError.at(
                loc,
                f"required for {n_states} states: default one-hot "
                f"features would need {n_states**2} values "
                f"(limit {max_values})",
            )
        names = tuple(f"s{i}" for i in range(n_states))
        return names, read_only(np.eye(n_states))
    spec = as_mapping(value, loc)
    check_keys(spec, loc, required=("names", "values"))
    names = _parse_names(spec["names"], f"{loc}.names", max_values // n_states)
    check_length(spec["values"], f"{loc}.values", n_states, "rows")
    values = numeric_array(spec["values"], f"{loc}.values", ndims=(2,), integer=False)
    if values.shape != (n_states, len(names)):
        raise InvalidInputError.at(
            f"{loc}.values",
            f"shape {list(values.shape)}, expected [n_states, len(names)] = "
            f"[{n_states}, {len(names)}]",
        )
    return names, read_only(values)


def _parse_names(value: Any, loc: str, max_names: int) -> tuple[str, ...]:
    """Unique, non-empty feature names."""
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInputError.at(loc, "expected a non-empty list of names")
    check_length(value, loc, max_names, "names")
    problems = ProblemList()
    seen: dict[str, int] = {}
    names: list[str] = []
    for i, item in enumerate(value):
        name = problems.attempt(as_str, item, f"{loc}[{i}]")
        if name is None:
            continue
        if name in seen:
            problems.add(f"{loc}[{i}]", f"duplicate name `{name}` (also at index {seen[name]})")
        seen.setdefault(name, i)
        names.append(name)
        if problems.full:
            break
    problems.raise_if_any()
    return tuple(names)


def _parse_layout(value: Any, loc: str, n_states: int) -> Layout:
    """Grid layout with one in-range (row, col) cell per state."""
    spec = as_mapping(value, loc)
    check_keys(spec, loc, required=("rows", "cols", "cells"))
    problems = ProblemList()
    rows = problems.attempt(
        lambda: as_int(spec["rows"], f"{loc}.rows", minimum=1, maximum=MAX_GRID_SIDE)
    )
    cols = problems.attempt(
        lambda: as_int(spec["cols"], f"{loc}.cols", minimum=1, maximum=MAX_GRID_SIDE)
    )
    problems.attempt(lambda: check_length(spec["cells"], f"{loc}.cells", n_states, "cells"))
    problems.raise_if_any()
    assert rows is not None and cols is not None
    cells = numeric_array(spec["cells"], f"{loc}.cells", ndims=(2,), integer=True)
    if cells.shape != (n_states, 2):
        raise InvalidInputError.at(
            f"{loc}.cells", f"shape {list(cells.shape)}, expected [n_states, 2] = [{n_states}, 2]"
        )
    for axis, (what, bound) in enumerate((("row", rows), ("col", cols))):
        outside = (cells[:, axis] < 0) | (cells[:, axis] >= bound)
        for (i,) in first_indices(outside, _REPORTED):
            problems.add(f"{loc}.cells[{i}]", f"{what} {cells[i, axis]} out of range [0, {bound})")
    problems.raise_if_any()
    return Layout(rows=rows, cols=cols, cells=read_only(cells))


def _parse_gymnasium(
    spec: Mapping[str, Any], loc: str, allowed_gym_ids: Collection[str]
) -> GymnasiumEnvSpec:
    """A registered gymnasium id matching an allowed pattern, with kwargs its environment takes."""
    check_keys(spec, loc, required=("kind", "id"), optional=("kwargs",))
    env_id = as_str(spec["id"], f"{loc}.id")
    if not _GYM_ID.fullmatch(env_id) or ".." in env_id:
        raise InvalidInputError.at(
            f"{loc}.id",
            "expected a registered environment id such as `seals/CartPole-v0` "
            "(letters, digits, `-_./`; no module part `module:Env`, no `..`)",
        )
    if not any(fnmatch.fnmatchcase(env_id, pattern) for pattern in allowed_gym_ids):
        allowed = ", ".join(sorted(allowed_gym_ids)) or "none"
        raise InvalidInputError.at(
            f"{loc}.id", f"`{env_id}` is not allowed here; allowed: {allowed}"
        )
    registered = gym_registry().get(env_id)
    if registered is None:
        raise InvalidInputError.at(f"{loc}.id", f"`{env_id}` is not a registered environment")
    kwargs = as_mapping(spec.get("kwargs", {}), f"{loc}.kwargs")
    try:
        text = json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidInputError.at(
            f"{loc}.kwargs", "must be plain JSON (finite numbers, strings, lists, objects)"
        ) from None
    if len(text) > MAX_KWARGS_CHARS:
        raise InvalidInputError.at(
            f"{loc}.kwargs", f"{len(text)} characters of JSON, above the limit {MAX_KWARGS_CHARS}"
        )
    _check_gym_kwargs(kwargs, _accepted_parameters(registered.entry_point), f"{loc}.kwargs")
    return GymnasiumEnvSpec(id=env_id, kwargs=MappingProxyType(json.loads(text)))


MAX_EPISODE_STEPS = 1_000_000
_GYM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,199}")
_NOT_ENV_PARAMETERS = frozenset({"self", "render_mode"})


def gym_registry() -> Mapping[str, Any]:
    """gymnasium's registry of environment ids, with the seals ids registered when installed."""
    import gymnasium

    with contextlib.suppress(ImportError):
        import seals  # noqa: F401  (registers seals/* ids)
    return gymnasium.registry


@functools.cache
def _accepted_parameters(entry_point: Any) -> Mapping[str, inspect.Parameter]:
    """The keyword parameters an environment's constructor names (JSON-able ones only; none
    when it cannot be imported here or takes only `*args, **kwargs`)."""
    try:
        if isinstance(entry_point, str):
            module, _, attr = entry_point.partition(":")
            entry_point = getattr(importlib.import_module(module), attr)
        parameters = inspect.signature(entry_point, eval_str=True).parameters
    except Exception:  # an optional dependency (e.g. mujoco) may be missing here
        return {}
    return {
        name: p
        for name, p in parameters.items()
        if name not in _NOT_ENV_PARAMETERS
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and not any(part in name for part in ("file", "path", "dir"))
    }


def _check_gym_kwargs(
    kwargs: Mapping[str, Any], accepted: Mapping[str, inspect.Parameter], loc: str
) -> None:
    """Refuse kwargs the environment does not take, or values of the wrong kind."""
    problems = ProblemList()
    for name, value in kwargs.items():
        where = f"{loc}.{name[:40]}"
        if name == "max_episode_steps":
            problems.attempt(as_int, value, where, minimum=1, maximum=MAX_EPISODE_STEPS)
        elif name not in accepted:
            known = ", ".join(["max_episode_steps", *sorted(accepted)])
            problems.add(where, f"not accepted by this environment; accepted: {known}")
        else:
            problems.attempt(_check_gym_value, value, accepted[name], where)
    problems.raise_if_any()


def _check_gym_value(value: Any, parameter: inspect.Parameter, loc: str) -> None:
    """A kwarg value of the kind the parameter's default or `Literal` annotation allows."""
    choices = typing.get_args(parameter.annotation)
    if typing.get_origin(parameter.annotation) is typing.Literal:
        if value not in choices or isinstance(value, bool) != isinstance(choices[0], bool):
            raise InvalidInputError.at(
                loc, "expected one of " + ", ".join(json.dumps(c) for c in choices)
            )
        return
    default = parameter.default
    if isinstance(value, str):
        storable_text(value, loc)
        if not isinstance(default, str):
            raise InvalidInputError.at(loc, f"expected {_kind_of(default)}, got a string")
        return
    if isinstance(default, bool) or isinstance(value, bool):
        if not (isinstance(default, bool) and isinstance(value, bool)):
            raise InvalidInputError.at(loc, f"expected {_kind_of(default)}, got {value!r}")
        return
    if isinstance(default, tuple | list):
        numeric_array(value, loc, ndims=(1,), integer=False)
        return
    optional = typing.get_args(parameter.annotation) if default is None else ()
    if isinstance(default, int) or int in optional:
        as_int(value, loc, minimum=-(2**53), maximum=2**53)
        return
    if isinstance(default, float) or float in optional:
        as_float(value, loc, minimum=-1e12, maximum=1e12)
        return
    raise InvalidInputError.at(loc, "this parameter cannot be set from JSON")


def _kind_of(default: Any) -> str:
    """What a default's type asks for, in words."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, str):
        return "a string"
    return "a number"
