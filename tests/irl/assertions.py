"""Assertion helpers for validation errors, and a strategy for hostile JSON-like input."""

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from irl.errors import InvalidInputError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def problems(parse: Callable[..., Any], *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    """The (loc, msg) pairs of the InvalidInputError that parse(*args, **kwargs) must raise."""
    try:
        parse(*args, **kwargs)
    except InvalidInputError as error:
        return [(p.loc, p.msg) for p in error.problems]
    raise AssertionError("expected InvalidInputError, nothing was raised")


def only_invalid_input(parse: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call parse; it may succeed or raise InvalidInputError, but nothing else."""
    try:
        parse(*args, **kwargs)
    except InvalidInputError as error:
        assert error.problems, "InvalidInputError without problems"
        assert len(error.problems) <= 21, "too many problems reported"
