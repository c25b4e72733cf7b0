"""API trajectories (JSON lists, Minari field names accepted) and .npz archives, validated into
TrajectorySets; and checks that a set fits a tabular MDP."""

import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np

from irl.arrays import read_only
from irl.environments.tabular import TabularMDP
from irl.errors import InvalidInputError, Problem
from irl.io.fields import (
    ProblemList,
    as_bool,
    as_mapping,
    bool_array,
    check_keys,
    check_length,
    describe,
    first_indices,
    numeric_array,
)
from irl.trajectories import TrajectorySet, shape_problems

MAX_TRANSITIONS = 10_000_000
MAX_JSON_TRAJECTORIES = 10_000
"""Trajectories per JSON upload: each costs Python work, so larger sets go as .npz (bulk)."""
MAX_NPZ_BYTES = 2**31
_REPORTED = 5
_ALIASES = {
    "obs": "observations",
    "acts": "actions",
    "rews": "rewards",
    "terminal": "terminations",
}
_EXTRA_FIELDS = ("truncations", "infos", "environment")
_NPZ_FIELDS = ("obs", "acts", "rews", "terminal", "lengths", "environment")
_MAX_INFLATION = 200
"""Largest accepted ratio of a big member's uncompressed to compressed size."""
_RATIO_CHECKED_ABOVE = 64 * 1024**2
"""Members smaller than this (uncompressed) may compress arbitrarily well."""


def parse_trajectories(
    items: Any,
    *,
    loc: str = "trajectories",
    max_transitions: int = MAX_TRANSITIONS,
    max_trajectories: int = MAX_JSON_TRAJECTORIES,
) -> TrajectorySet:
    """Validate API trajectories (Minari field names accepted as aliases) into a TrajectorySet.

    The number of trajectories is checked before any per-trajectory work, and each one's
    length against the remaining transition budget before it is converted.
    """
    if not isinstance(items, list | tuple):
        raise InvalidInputError.at(loc, f"expected a list of trajectories, got {describe(items)}")
    if not items:
        raise InvalidInputError.at(loc, "at least one trajectory is required")
    check_length(
        items,
        loc,
        min(max_trajectories, max_transitions),
        "trajectories (upload larger sets as an .npz to /v1/rollouts/bulk)",
    )
    problems = ProblemList()
    parsed: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]] = []
    budget = max_transitions
    for i, item in enumerate(items):
        one = problems.attempt(_parse_one, item, f"{loc}[{i}]", budget)
        if one is not None:
            budget -= len(one[1])
            parsed.append(one)
            problems.attempt(_check_like_first, parsed, loc, i)
        if problems.full and i + 1 < len(items):
            problems.stop(loc, f"stopped checking after {loc}[{i}]")
            break
    problems.raise_if_any()
    obs, acts, rews, terminal = zip(*parsed, strict=True)
    return TrajectorySet(
        obs=read_only(np.concatenate(obs)),
        acts=read_only(np.concatenate(acts)),
        rews=None if rews[0] is None else read_only(np.concatenate(rews)),
        terminal=read_only(np.array(terminal, dtype=bool)),
        lengths=read_only(np.array([len(a) for a in acts], dtype=np.int64)),
    )


def check_tabular(ts: TrajectorySet, mdp: TabularMDP, *, loc: str = "trajectories") -> None:
    """Refuse trajectories that do not fit a tabular MDP (indices, horizon, impossible moves)."""
    if ts.obs.ndim != 1 or ts.acts.ndim != 1:
        raise InvalidInputError.at(
            loc, "the environment is tabular: obs must be state indices and acts action indices"
        )
    problems = ProblemList()
    _report_out_of_range(problems, ts.obs, ts.obs_starts, mdp.n_states, f"{loc}[{{}}].obs", "state")
    _report_out_of_range(
        problems, ts.acts, ts.act_starts, mdp.n_actions, f"{loc}[{{}}].acts", "action"
    )
    for i in np.flatnonzero(ts.lengths > mdp.horizon)[:_REPORTED]:
        problems.add(
            f"{loc}[{i}].acts",
            f"length {ts.lengths[i]} exceeds the environment horizon {mdp.horizon}",
        )
    problems.raise_if_any()
    _check_feasible(ts, mdp, loc)


def to_npz_bytes(ts: TrajectorySet) -> bytes:
    """Pickle-free .npz archive of the set's arrays (uncompressed: float data barely compresses,
    and zlib would dominate upload time)."""
    arrays = {"obs": ts.obs, "acts": ts.acts, "terminal": ts.terminal, "lengths": ts.lengths}
    if ts.rews is not None:
        arrays["rews"] = ts.rews
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def environment_indices(
    items: Sequence[Any], *, n_environments: int | None, loc: str = "trajectories"
) -> np.ndarray | None:
    """(n_traj,) int64: the `environment` each API trajectory names (an index into the rollout
    set's `environments`), or None for a set of one environment (where none may name one)."""
    named = [
        i for i, item in enumerate(items) if isinstance(item, Mapping) and "environment" in item
    ]
    if n_environments is None:
        if named:
            raise InvalidInputError.at(
                f"{loc}[{named[0]}].environment", "only a set with `environments` names them"
            )
        return None
    if len(named) != len(items):
        missing = next(i for i in range(len(items)) if i not in set(named))
        raise InvalidInputError.at(
            f"{loc}[{missing}].environment", "field required: the set has `environments`"
        )
    values = [items[i]["environment"] for i in named]
    integral = [_is_index(v) for v in values]
    if not all(integral):
        bad = integral.index(False)
        raise InvalidInputError.at(
            f"{loc}[{bad}].environment", f"expected an integer index, got {describe(values[bad])}"
        )
    indices = np.array(values, dtype=np.int64)
    return _checked_environment(indices, n_environments, f"{loc}[{{}}].environment")


def _is_index(value: Any) -> bool:
    """An int, or an integral float (as elsewhere for indices); never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and abs(value) < 2.0**62
    return isinstance(value, int) and abs(value) < 2**62


def _checked_environment(indices: np.ndarray, n_environments: int, where: str) -> np.ndarray:
    """The indices, refused (the first few located by `where`, formatted with the trajectory
    index) unless each is in [0, n_environments)."""
    problems = ProblemList()
    bad = (indices < 0) | (indices >= n_environments)
    for (i,) in first_indices(bad, _REPORTED):
        problems.add(
            where.format(i),
            f"environment {indices[i]} is not in the set: `environments` has {n_environments} "
            f"entries (indices 0 to {n_environments - 1})",
        )
    problems.raise_if_any()
    return read_only(indices)


def pooled_from_npz_bytes(
    data: bytes | BinaryIO,
    *,
    n_environments: int,
    loc: str = "file",
    max_transitions: int = MAX_TRANSITIONS,
    max_bytes: int = MAX_NPZ_BYTES,
) -> tuple[TrajectorySet, np.ndarray]:
    """An .npz archive of trajectories in several environments: the set (states in each
    trajectory's own environment) and its required `environment` member, (n_traj,) int64
    indices into the rollout set's `environments`."""
    ts, environment = _npz_trajectories(data, loc, max_transitions, max_bytes)
    if environment is None:
        raise InvalidInputError.at(
            f"{loc}.environment", "required: the set has `environments` (one index per trajectory)"
        )
    indices = numeric_array(environment, f"{loc}.environment", ndims=(1,), integer=True)
    if indices.shape != (ts.n_trajectories,):
        raise InvalidInputError.at(
            f"{loc}.environment", f"shape {list(indices.shape)}, expected [{ts.n_trajectories}]"
        )
    return ts, _checked_environment(
        indices.astype(np.int64), n_environments, f"{loc}.environment[{{}}]"
    )


def from_npz_bytes(
    data: bytes | BinaryIO,
    *,
    loc: str = "trajectories",
    max_transitions: int = MAX_TRANSITIONS,
    max_bytes: int = MAX_NPZ_BYTES,
) -> TrajectorySet:
    """Load and validate an .npz archive (refusing pickled object arrays and oversized members).

    `data` is the archive's bytes or a seekable binary file holding it (read without a copy).
    """
    ts, environment = _npz_trajectories(data, loc, max_transitions, max_bytes)
    if environment is not None:
        raise InvalidInputError.at(
            f"{loc}.environment", "only a set with `environments` names them"
        )
    return ts


def _npz_trajectories(
    data: bytes | BinaryIO, loc: str, max_transitions: int, max_bytes: int
) -> tuple[TrajectorySet, np.ndarray | None]:
    """The archive's trajectories and its `environment` member if any."""
    if isinstance(data, bytes | bytearray | memoryview):
        source: BinaryIO = io.BytesIO(data)
    elif hasattr(data, "read") and hasattr(data, "seek"):
        source = data
    else:
        raise InvalidInputError.at(loc, f"expected bytes or a binary file, got {describe(data)}")
    arrays = _load_npz(source, loc, max_bytes, max_transitions)
    problems = ProblemList()
    obs = problems.attempt(lambda: _index_or_vectors(arrays["obs"], f"{loc}.obs"))
    acts = problems.attempt(lambda: _index_or_vectors(arrays["acts"], f"{loc}.acts"))
    terminal = problems.attempt(lambda: bool_array(arrays["terminal"], f"{loc}.terminal"))
    rews = None
    if "rews" in arrays:
        rews = problems.attempt(
            lambda: numeric_array(arrays["rews"], f"{loc}.rews", ndims=(1,), integer=False)
        )
    problems.raise_if_any()
    assert obs is not None and acts is not None and terminal is not None
    lengths = arrays["lengths"]
    _check_consistent(obs, acts, rews, terminal, lengths, loc)
    ts = TrajectorySet(
        obs=read_only(obs),
        acts=read_only(acts),
        rews=None if rews is None else read_only(rews),
        terminal=read_only(terminal),
        lengths=read_only(lengths),
    )
    return ts, arrays.get("environment")


def _parse_one(
    item: Any, loc: str, budget: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """(obs, acts, rews or None, terminal) of one API trajectory."""
    spec = _canonical_fields(as_mapping(item, loc), loc)
    check_length(spec["acts"], f"{loc}.acts", budget, "actions (the transition limit is reached)")
    check_length(spec["obs"], f"{loc}.obs", budget + 1, "observations")
    problems = ProblemList()
    obs = problems.attempt(lambda: _index_or_vectors(spec["obs"], f"{loc}.obs"))
    acts = problems.attempt(lambda: _index_or_vectors(spec["acts"], f"{loc}.acts"))
    rews = None
    if spec.get("rews") is not None:
        rews = problems.attempt(
            lambda: numeric_array(spec["rews"], f"{loc}.rews", ndims=(1,), integer=False)
        )
    problems.raise_if_any()
    assert obs is not None and acts is not None
    if len(acts) == 0:
        raise InvalidInputError.at(f"{loc}.acts", "a trajectory needs at least one action")
    if len(obs) != len(acts) + 1:
        raise InvalidInputError.at(
            f"{loc}.acts", f"length {len(acts)}, expected len(obs)-1 = {len(obs) - 1}"
        )
    if rews is not None and len(rews) != len(acts):
        raise InvalidInputError.at(
            f"{loc}.rews", f"length {len(rews)}, expected len(acts) = {len(acts)}"
        )
    terminal = _terminal(spec, loc, len(acts))
    return obs, acts, rews, terminal


def _canonical_fields(spec: Mapping[str, Any], loc: str) -> dict[str, Any]:
    """Fields under their canonical names; Minari aliases resolved, conflicts refused."""
    allowed = (*_ALIASES, *_ALIASES.values(), *_EXTRA_FIELDS)
    check_keys(spec, loc, required=(), optional=allowed)
    problems = ProblemList()
    canonical: dict[str, Any] = {}
    for name, alias in _ALIASES.items():
        if name in spec and alias in spec:
            problems.add(f"{loc}.{alias}", f"given together with `{name}`; use one of them")
        if name in spec or alias in spec:
            canonical[name] = spec[name] if name in spec else spec[alias]
            canonical[f"{name}_field"] = name if name in spec else alias
    for name in ("obs", "acts"):
        if name not in canonical:
            problems.add(f"{loc}.{name}", f"field required (or `{_ALIASES[name]}`)")
    problems.raise_if_any()
    if "truncations" in spec:
        canonical["truncations"] = spec["truncations"]
    return canonical


def _terminal(spec: Mapping[str, Any], loc: str, n_acts: int) -> bool:
    """Whether the trajectory ended in a terminal state (bool, or per-step list: its last entry)."""
    if "truncations" in spec and not isinstance(spec["truncations"], bool):
        truncations = bool_array(spec["truncations"], f"{loc}.truncations")
        if len(truncations) != n_acts:
            raise InvalidInputError.at(
                f"{loc}.truncations", f"length {len(truncations)}, expected len(acts) = {n_acts}"
            )
    if spec.get("terminal") is None:
        return False
    field = f"{loc}.{spec['terminal_field']}"
    value = spec["terminal"]
    if not isinstance(value, list | tuple | np.ndarray):
        return as_bool(value, field)
    flags = bool_array(value, field)
    if len(flags) != n_acts:
        raise InvalidInputError.at(field, f"length {len(flags)}, expected len(acts) = {n_acts}")
    early = np.flatnonzero(flags[:-1])
    if early.size:
        raise InvalidInputError.at(
            f"{field}[{early[0]}]",
            f"the episode terminates at step {early[0]} but continues to step {n_acts - 1}",
        )
    return bool(flags[-1])


def _index_or_vectors(value: Any, loc: str) -> np.ndarray:
    """1-D data as int64 indices (tabular), 2-D data as float64 vectors."""
    arr = numeric_array(value, loc, ndims=(1, 2), integer=False)
    if arr.ndim == 2:
        return arr
    fractional = arr != np.floor(arr)
    if fractional.any():
        (i,) = first_indices(fractional, 1)[0]
        raise InvalidInputError.at(
            f"{loc}[{i}]", f"expected an integer index, got {arr[i]} (give vectors as lists)"
        )
    out_of_range = np.abs(arr) >= 2.0**62
    if out_of_range.any():
        (i,) = first_indices(out_of_range, 1)[0]
        raise InvalidInputError.at(f"{loc}[{i}]", f"index {arr[i]:.6g} is out of range")
    return arr.astype(np.int64)


def _check_like_first(
    parsed: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]], loc: str, i: int
) -> None:
    """Refuse a trajectory whose kinds of data differ from the first one's."""
    first, last = parsed[0], parsed[-1]
    for name, ours, theirs in (("obs", last[0], first[0]), ("acts", last[1], first[1])):
        if ours.shape[1:] != theirs.shape[1:]:
            raise InvalidInputError.at(
                f"{loc}[{i}].{name}", f"{_kind(ours)}, but {loc}[0].{name} has {_kind(theirs)}"
            )
    if (first[2] is None) != (last[2] is None):
        raise InvalidInputError.at(f"{loc}[{i}].rews", "give rews for every trajectory or for none")


def _kind(arr: np.ndarray) -> str:
    """E.g. "indices" or "vectors of length 4"."""
    return "indices" if arr.ndim == 1 else f"vectors of length {arr.shape[1]}"


def _check_consistent(
    obs: np.ndarray,
    acts: np.ndarray,
    rews: np.ndarray | None,
    terminal: np.ndarray,
    lengths: np.ndarray,
    loc: str,
) -> None:
    """Refuse arrays that do not describe the same trajectories."""
    problems = shape_problems(obs, acts, rews, terminal, lengths)
    if problems:
        prefix = f"{loc}." if loc else ""
        raise InvalidInputError([Problem(prefix + p.loc, p.msg) for p in problems])


def _report_out_of_range(
    problems: ProblemList, values: np.ndarray, starts: np.ndarray, bound: int, loc: str, what: str
) -> None:
    """One problem per offending element (first few), located as trajectory and step."""
    bad = (values < 0) | (values >= bound)
    for (index,) in first_indices(bad, _REPORTED):
        traj = int(np.searchsorted(starts, index, side="right")) - 1
        problems.add(
            f"{loc.format(traj)}[{index - starts[traj]}]",
            f"{what} index {values[index]} out of range [0, {bound})",
        )
    if int(bad.sum()) > _REPORTED:
        problems.add(
            loc.format("*"), f"{int(bad.sum()) - _REPORTED} more {what} indices out of range"
        )


def _check_feasible(ts: TrajectorySet, mdp: TabularMDP, loc: str) -> None:
    """Refuse transitions (s, a, s') that have probability 0 under the MDP."""
    s, a, s_next = ts.transitions()
    keys = (s * mdp.n_actions + a) * mdp.n_states + s_next
    coo = mdp.transitions.tocoo()
    positive = coo.data > 0
    known = np.sort(coo.row[positive].astype(np.int64) * mdp.n_states + coo.col[positive])
    position = np.minimum(np.searchsorted(known, keys), max(len(known) - 1, 0))
    impossible = known[position] != keys if len(known) else np.ones(len(keys), bool)
    problems = ProblemList()
    for (j,) in first_indices(impossible, _REPORTED):
        traj, t = ts.trajectory_of_transition[j], ts.timesteps[j]
        problems.add(
            f"{loc}[{traj}]",
            f"transition {t} (s={s[j]}, a={a[j]} -> s'={s_next[j]}) "
            "has probability 0 under the environment",
        )
    if int(impossible.sum()) > _REPORTED:
        problems.add(loc, f"{int(impossible.sum()) - _REPORTED} more impossible transitions")
    problems.raise_if_any()


def _load_npz(
    source: BinaryIO, loc: str, max_bytes: int, max_transitions: int
) -> dict[str, np.ndarray]:
    """Arrays of a pickle-free .npz archive. Every member's .npy header (shape, dtype) and zip
    sizes are checked before it is inflated, and `lengths` is validated first, so the other
    members are only read once their declared shapes agree with it."""
    try:
        archive = np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise InvalidInputError.at(loc, "not a pickle-free .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InvalidInputError.at(loc, "expected an .npz archive, got a single .npy array")
    with archive:
        assert archive.zip is not None
        members = _members(archive.zip, loc, max_bytes, max_transitions)
        problems = ProblemList()
        problems.attempt(
            lambda: check_keys(
                members,
                loc,
                required=("obs", "acts", "terminal", "lengths"),
                optional=("rews", "environment"),
            )
        )
        problems.raise_if_any()
        lengths = _read_member(archive.zip, members["lengths"], f"{loc}.lengths")
        checked = checked_lengths(lengths, f"{loc}.lengths", max_transitions=max_transitions)
        _check_declared_shapes(members, checked, loc)
        arrays = {
            name: _read_member(archive.zip, member, f"{loc}.{name}")
            for name, member in members.items()
            if name != "lengths"
        }
        return {**arrays, "lengths": checked}


def checked_lengths(value: Any, loc: str, *, max_transitions: int) -> np.ndarray:
    """Trajectory lengths as int64, each >= 1, summing to at most `max_transitions`; the bounds
    are checked before summing, so the sum cannot wrap around."""
    lengths = numeric_array(value, loc, ndims=(1,), integer=True)
    if lengths.size == 0:
        raise InvalidInputError.at(loc, "at least one trajectory is required")
    if lengths.size > max_transitions:
        raise InvalidInputError.at(
            loc, f"{lengths.size} trajectories, above the transition limit {max_transitions}"
        )
    problems = ProblemList()
    bad = (lengths < 1) | (lengths > max_transitions)
    for (i,) in first_indices(bad, _REPORTED):
        problems.add(f"{loc}[{i}]", f"length {lengths[i]} outside [1, {max_transitions}]")
    problems.raise_if_any()
    # At most max_transitions terms, each at most max_transitions: the int64 sum cannot wrap
    # for any limit below 3e9 (the settings' limit is far lower).
    total = int(lengths.sum(dtype=np.int64))
    if total > max_transitions:
        raise InvalidInputError.at(
            loc, f"lengths sum to {total} transitions, above the limit {max_transitions}"
        )
    return lengths


class _Member:
    """An archive member's zip entry and its declared .npy header."""

    def __init__(self, info: zipfile.ZipInfo, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.info, self.shape, self.dtype = info, shape, dtype


def _members(
    archive: zipfile.ZipFile, loc: str, max_bytes: int, max_transitions: int
) -> dict[str, _Member]:
    """Each member's declared shape and dtype, read from its .npy header (a few hundred bytes)
    without inflating the data; refuses unknown names, object dtypes, sizes that disagree with
    the header, oversized members and absurd compression ratios."""
    members: dict[str, _Member] = {}
    total = 0
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        where = f"{loc}.{name[:40]}"
        if name not in _NPZ_FIELDS or name in members:
            raise InvalidInputError.at(where, "unknown array; allowed: " + ", ".join(_NPZ_FIELDS))
        if info.file_size > max_bytes:
            raise InvalidInputError.at(
                where, f"{info.file_size} bytes uncompressed, above the limit {max_bytes}"
            )
        if info.file_size > _RATIO_CHECKED_ABOVE and info.file_size > _MAX_INFLATION * max(
            info.compress_size, 1
        ):
            raise InvalidInputError.at(
                where,
                f"inflates {info.compress_size} compressed bytes to {info.file_size} "
                f"(more than {_MAX_INFLATION}x); store large arrays uncompressed (np.savez)",
            )
        shape, dtype, header_bytes = _header(archive, info, where)
        declared = header_bytes + math.prod(shape) * dtype.itemsize
        if declared != info.file_size:
            raise InvalidInputError.at(
                where,
                f"the .npy header declares shape {list(shape)} of {dtype} "
                f"({declared} bytes) but the member holds {info.file_size} bytes",
            )
        if shape and shape[0] > 2 * max_transitions:
            raise InvalidInputError.at(
                where, f"{shape[0]} rows, above the limit of {2 * max_transitions}"
            )
        total += info.file_size
        members[name] = _Member(info, shape, dtype)
    if total > max_bytes:
        raise InvalidInputError.at(loc, f"{total} bytes uncompressed, above the limit {max_bytes}")
    return members


def _header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, loc: str
) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header size in bytes) of a .npy member, reading only its header."""
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            header_bytes = stream.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as error:
        raise InvalidInputError.at(loc, f"unreadable .npy header ({str(error)[:100]})") from None
    if dtype.hasobject:
        raise InvalidInputError.at(loc, "object arrays (pickles) are not accepted")
    return tuple(int(n) for n in shape), dtype, header_bytes


def _check_declared_shapes(members: Mapping[str, _Member], lengths: np.ndarray, loc: str) -> None:
    """Refuse members whose declared first dimension disagrees with the lengths (before any of
    them is inflated)."""
    n_traj, n = int(lengths.size), int(lengths.sum())
    expected = {"obs": n + n_traj, "acts": n, "rews": n, "terminal": n_traj, "environment": n_traj}
    problems = ProblemList()
    for name, rows in expected.items():
        member = members.get(name)
        if member is None:
            continue
        declared = member.shape[0] if member.shape else None
        if declared != rows:
            problems.add(
                f"{loc}.{name}",
                f"declares shape {list(member.shape)}, expected {rows} rows from the lengths "
                f"({n_traj} trajectories, {n} transitions)",
            )
    problems.raise_if_any()


def _read_member(archive: zipfile.ZipFile, member: _Member, loc: str) -> np.ndarray:
    """One member's array (its header already checked)."""
    try:
        with archive.open(member.info) as stream:
            return np.asarray(np.lib.format.read_array(stream, allow_pickle=False))
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InvalidInputError.at(loc, "object arrays (pickles) are not accepted") from None
        raise InvalidInputError.at(loc, f"unreadable array ({str(error)[:100]})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise InvalidInputError.at(loc, f"unreadable array ({str(error)[:100]})") from None
