"""Converters from untrusted JSON-like values to typed scalars and numpy arrays.

Every converter either returns a clean value or raises InvalidInputError at a precise `loc`;
no other exception type escapes, whatever the input (strings, None, bools, huge ints, ragged
lists, nested dicts). The happy path is vectorised; element-wise work happens only on the error
path, to say exactly which element is wrong.
"""

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np

from irl.errors import InvalidInputError, Problem

T = TypeVar("T")
P = ParamSpec("P")

MAX_PROBLEMS = 20
MAX_REPORTED_PER_FIELD = 5
_INT64_MAX = float(np.iinfo(np.int64).max)
_NUMBER_TYPES = (int, float, np.integer, np.floating)
_BOOL_TYPES = (bool, np.bool_)
_BOOL_SET = frozenset(_BOOL_TYPES)


class ProblemList:
    """Collects problems from several fields, capped so hostile input cannot produce thousands."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        """Start empty; keep at most `limit` problems and count the rest."""
        self._limit = limit
        self._problems: list[Problem] = []
        self._dropped = 0

    def add(self, loc: str, msg: str) -> None:
        """Record one problem (or count it when the list is full)."""
        if len(self._problems) < self._limit:
            self._problems.append(Problem(loc, msg))
        else:
            self._dropped += 1

    def stop(self, loc: str, msg: str) -> None:
        """Record why checking stopped early (kept even when the list is full)."""
        self._problems.append(Problem(loc, msg))

    def extend(self, problems: Sequence[Problem]) -> None:
        """Record several problems."""
        for problem in problems:
            self.add(problem.loc, problem.msg)

    def attempt(self, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """parse(*args, **kwargs), recording its problems instead of raising; None on failure."""
        try:
            return parse(*args, **kwargs)
        except InvalidInputError as error:
            self.extend(error.problems)
            return None

    @property
    def full(self) -> bool:
        """Whether more problems would be dropped (callers may stop looking)."""
        return len(self._problems) >= self._limit

    def __bool__(self) -> bool:
        """True when at least one problem was recorded."""
        return bool(self._problems)

    def raise_if_any(self) -> None:
        """Raise InvalidInputError with everything recorded, noting how many were left out."""
        if not self._problems:
            return
        problems = list(self._problems)
        if self._dropped:
            last = problems[-1].loc
            problems.append(Problem(last, f"{self._dropped} more problems not shown"))
        raise InvalidInputError(problems)


def describe(value: Any) -> str:
    """Short description of a value's type (and value, when short) for error messages."""
    if value is None:
        return "null"
    if isinstance(value, _BOOL_TYPES):
        return f"boolean {str(bool(value)).lower()}"
    if isinstance(value, str):
        text = value if len(value) <= 20 else value[:17] + "..."
        return f"string {text!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, _NUMBER_TYPES):
        return f"number {value!r}" if len(repr(value)) <= 30 else "a number"
    return type(value).__name__


def index_loc(loc: str, index: Sequence[int] | np.ndarray) -> str:
    """Location of one array element, e.g. "environment.transitions[12][3]"."""
    return loc + "".join(f"[{int(i)}]" for i in index)


def first_indices(mask: np.ndarray, limit: int = MAX_REPORTED_PER_FIELD) -> np.ndarray:
    """Indices (rows of an (n, ndim) int array) of the first `limit` True entries of `mask`."""
    flat = np.flatnonzero(mask)[:limit]
    return np.stack(np.unravel_index(flat, mask.shape), axis=1) if mask.ndim else flat[:, None]


def as_mapping(value: Any, loc: str) -> Mapping[str, Any]:
    """The value as a mapping with string keys."""
    if not isinstance(value, Mapping):
        raise InvalidInputError.at(loc, f"expected an object, got {describe(value)}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise InvalidInputError.at(loc, f"keys must be strings, got {describe(bad[0])}")
    return value


def check_keys(
    spec: Mapping[str, Any],
    loc: str,
    *,
    required: Collection[str],
    optional: Collection[str] = (),
) -> None:
    """Refuse unknown keys (usually typos) and report missing required ones."""
    problems = ProblemList()
    allowed = set(required) | set(optional)
    for key in spec:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.add(f"{loc}.{key}", f"unknown field; allowed fields: {known}")
    for key in required:
        if key not in spec:
            problems.add(f"{loc}.{key}", "field required")
    problems.raise_if_any()


def as_str(value: Any, loc: str, *, max_length: int = 200) -> str:
    """A non-empty string of bounded length."""
    if not isinstance(value, str):
        raise InvalidInputError.at(loc, f"expected a string, got {describe(value)}")
    if not value:
        raise InvalidInputError.at(loc, "must not be empty")
    if len(value) > max_length:
        raise InvalidInputError.at(loc, f"length {len(value)} exceeds the limit {max_length}")
    return storable_text(value, loc)


def storable_text(value: str, loc: str) -> str:
    """Refuse NUL characters and lone UTF-16 surrogates (no database stores them as text)."""
    if "\x00" in value:
        raise InvalidInputError.at(loc, "must not contain NUL characters")
    if not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        raise InvalidInputError.at(loc, "must be valid Unicode (contains a lone surrogate)")
    return value


def as_bool(value: Any, loc: str) -> bool:
    """A JSON boolean (numbers and strings are refused, they are usually mistakes)."""
    if not isinstance(value, _BOOL_TYPES):
        raise InvalidInputError.at(loc, f"expected true or false, got {describe(value)}")
    return bool(value)


def as_float(
    value: Any,
    loc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """A finite real number, optionally within bounds."""
    if isinstance(value, _BOOL_TYPES) or not isinstance(value, _NUMBER_TYPES):
        raise InvalidInputError.at(loc, f"expected a number, got {describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInputError.at(loc, "number too large") from None
    if not np.isfinite(number):
        raise InvalidInputError.at(loc, f"must be finite, got {number}")
    if minimum is not None and (number < minimum or (exclusive_minimum and number == minimum)):
        relation = ">" if exclusive_minimum else ">="
        raise InvalidInputError.at(loc, f"must be {relation} {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InvalidInputError.at(loc, f"must be <= {maximum}, got {number}")
    return number


def as_int(value: Any, loc: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer (an integral float such as 3.0 is accepted), optionally within bounds."""
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        value = int(value)
    if isinstance(value, _BOOL_TYPES) or not isinstance(value, int | np.integer):
        raise InvalidInputError.at(loc, f"expected an integer, got {describe(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise InvalidInputError.at(loc, f"must be >= {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InvalidInputError.at(loc, f"must be <= {maximum}, got {number}")
    return number


def check_length(value: Any, loc: str, maximum: int, what: str = "entries") -> None:
    """Refuse an over-long list before converting it (cheap protection against huge uploads)."""
    if isinstance(value, list | tuple | np.ndarray) and len(value) > maximum:
        raise InvalidInputError.at(loc, f"{len(value)} {what}, above the limit of {maximum}")


def numeric_array(value: Any, loc: str, *, ndims: Collection[int], integer: bool) -> np.ndarray:
    """A finite numeric array with one of the allowed dimensionalities: int64 or float64.

    Integral floats are accepted where integers are expected; booleans, text, nulls, objects,
    ragged lists and integers outside the 64-bit range are refused with element locations.
    """
    arr = _to_ndarray(value, loc, ndims)
    if arr.ndim not in ndims:
        raise InvalidInputError.at(
            loc, f"expected {_ndims_text(ndims)} values, got shape {list(arr.shape)}"
        )
    kind = arr.dtype.kind
    if kind == "b":
        raise InvalidInputError.at(loc, "expected numbers, got booleans")
    if kind not in "iuf":
        arr = _object_to_float(value, arr, loc)
    if arr.dtype.kind in "iu":
        return _checked_ints(arr, loc) if integer else arr.astype(np.float64)
    arr = arr.astype(np.float64, copy=False)
    _raise_at_elements(arr, ~np.isfinite(arr), loc, lambda x: f"must be finite, got {x}")
    return _integral(arr, loc) if integer else arr


def bool_array(value: Any, loc: str) -> np.ndarray:
    """A 1-D bool array from booleans (or 0/1 integers)."""
    arr = _to_ndarray(value, loc, (1,))
    if arr.ndim != 1:
        raise InvalidInputError.at(loc, f"expected a list of booleans, got shape {list(arr.shape)}")
    if arr.dtype.kind == "b":
        return arr.astype(bool)
    if arr.dtype.kind in "iu":
        not_binary = (arr != 0) & (arr != 1)
        _raise_at_elements(arr, not_binary, loc, lambda x: f"expected a boolean, got {x}")
        return arr.astype(bool)
    raise InvalidInputError.at(loc, "expected a list of booleans")


def _ndims_text(ndims: Collection[int]) -> str:
    """E.g. "1-D or 2-D"."""
    return " or ".join(f"{n}-D" for n in sorted(ndims))


def _to_ndarray(value: Any, loc: str, ndims: Collection[int]) -> np.ndarray:
    """The value as an ndarray, refusing non-lists and ragged nesting."""
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, list | tuple):
        raise InvalidInputError.at(loc, f"expected a list, got {describe(value)}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise InvalidInputError(list(_ragged_problems(value, loc, max(ndims)))) from None
    if arr.dtype.kind in "iuf" and _has_bools(value, arr.ndim):
        # numpy turns [0, true] into [0, 1]; JSON booleans are never numbers here
        is_bool = np.vectorize(lambda x: isinstance(x, _BOOL_TYPES), otypes=[bool])
        objects = np.asarray(value, dtype=object)
        _raise_at_elements(
            objects, is_bool(objects), loc, lambda x: f"expected a number, got {describe(x)}"
        )
    return arr


def _has_bools(value: Sequence[Any], ndim: int) -> bool:
    """Whether a rectangular list (1-D or 2-D) holds booleans among its numbers (one C-level
    pass over the element types)."""
    items: Iterable[Any] = value if ndim <= 1 else itertools.chain.from_iterable(value)
    return not _BOOL_SET.isdisjoint(set(map(type, items)))


def _ragged_problems(value: Sequence[Any], loc: str, ndim: int) -> Iterator[Problem]:
    """Problems of a list that numpy could not make rectangular (error path only)."""
    found = 0
    if ndim == 1 or not isinstance(value[0], list | tuple):
        for i, item in enumerate(value):
            if not isinstance(item, _NUMBER_TYPES) or isinstance(item, _BOOL_TYPES):
                yield Problem(f"{loc}[{i}]", f"expected a number, got {describe(item)}")
                found += 1
                if found == MAX_REPORTED_PER_FIELD:
                    return
    else:
        width = len(value[0]) if value and isinstance(value[0], list | tuple) else None
        for i, item in enumerate(value):
            if not isinstance(item, list | tuple):
                yield Problem(f"{loc}[{i}]", f"expected a list, got {describe(item)}")
            elif width is not None and len(item) != width:
                yield Problem(f"{loc}[{i}]", f"length {len(item)}, expected {width} as in {loc}[0]")
            else:
                continue
            found += 1
            if found == MAX_REPORTED_PER_FIELD:
                return
    if not found:
        yield Problem(loc, "nested lists have inconsistent lengths")


def _is_plain_number(item: Any) -> bool:
    """Whether an element is a real number and not a boolean."""
    return isinstance(item, _NUMBER_TYPES) and not isinstance(item, _BOOL_TYPES)


_IS_NUMBER = np.frompyfunc(_is_plain_number, 1, 1)


def _object_to_float(value: Any, arr: np.ndarray, loc: str) -> np.ndarray:
    """Float array from text/object data if every element is a number, else locate the bad ones."""
    source = arr if isinstance(value, np.ndarray) else value
    objects = np.asarray(source, dtype=object)
    if objects.dtype.kind != "O" or objects.shape != arr.shape:
        raise InvalidInputError.at(loc, f"expected numbers, got data of type {arr.dtype}")
    is_number = np.asarray(_IS_NUMBER(objects), dtype=bool).reshape(objects.shape)
    _raise_at_elements(objects, ~is_number, loc, lambda x: f"expected a number, got {describe(x)}")
    try:
        return objects.astype(np.float64)
    except (OverflowError, TypeError, ValueError):
        raise InvalidInputError.at(loc, "contains a number too large to represent") from None


def _raise_at_elements(
    arr: np.ndarray, mask: np.ndarray, loc: str, message: Callable[[Any], str]
) -> None:
    """Raise with the first few elements where `mask` is True, if any."""
    if not mask.any():
        return
    problems = ProblemList()
    indices = first_indices(mask)
    for index in indices:
        problems.add(index_loc(loc, index), message(arr[tuple(index)]))
    remaining = int(mask.sum()) - len(indices)
    if remaining:
        problems.add(loc, f"{remaining} more elements with the same problem")
    problems.raise_if_any()


def _checked_ints(arr: np.ndarray, loc: str) -> np.ndarray:
    """int64 copy of an integer array, refusing uint64 values beyond the int64 range."""
    if arr.dtype == np.uint64:
        _raise_at_elements(
            arr, arr > np.iinfo(np.int64).max, loc, lambda x: f"integer {x} is out of range"
        )
    return arr.astype(np.int64)


def _integral(arr: np.ndarray, loc: str) -> np.ndarray:
    """int64 array from a finite float array whose values are whole numbers in range."""
    too_large = np.abs(arr) >= _INT64_MAX
    _raise_at_elements(arr, too_large, loc, lambda x: f"integer {x} is out of range")
    _raise_at_elements(arr, arr != np.floor(arr), loc, lambda x: f"expected an integer, got {x}")
    return arr.astype(np.int64)
