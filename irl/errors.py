"""Validation errors that carry every problem found, each at a precise location."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (`loc`, e.g. "trajectories[3].acts") and what."""

    loc: str
    msg: str


class InvalidInputError(ValueError):
    """Input that cannot be used, with all problems found (so users can fix them in one go)."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Sequence[Problem]) -> None:
        """Keep the problems; the message joins them as "loc: msg"."""
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.loc}: {p.msg}" for p in self.problems))

    @classmethod
    def at(cls, loc: str, msg: str) -> "InvalidInputError":
        """Build the error for a single problem."""
        return cls([Problem(loc, msg)])
