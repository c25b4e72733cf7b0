"""Procedurally generated mazes with a coloured exit door and coloured floor cells, from a seed.

A maze of size n has n x n cells carved by a randomized depth-first search (recursive backtracker)
and is drawn on a (2n+1) x (2n+1) grid of squares: cells sit at odd (row, col), the squares between
two cells are walls or passages, and the border is wall. Every open square is one tabular state
(states are numbered in row-major order). See docs/mazes.md for the distributions and features.
"""

from collections import deque
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np
import scipy.sparse

from irl.arrays import read_only
from irl.environments.tabular import Layout, TabularMDP
from irl.errors import InvalidInputError
from irl.rewards import LinearReward, linear_state_values

Cell = tuple[int, int]
"""(row, col) of a square in the maze grid."""
Colour = Literal["red", "blue"]
Distribution = Literal["train", "test", "decorrelated"]
DISTRIBUTIONS: tuple[Distribution, ...] = get_args(Distribution)
ACTIONS = ("stay", "up", "down", "left", "right")
MOVES: tuple[Cell, ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
FEATURE_NAMES = ("door", "red", "blue", "wall_adjacent")
TRAINING_WEIGHTS = {"door": 1.0}
"""The training reward: 1 for every step the agent acts from the exit door."""
MIN_SIZE, MAX_SIZE = 3, 150
MAX_MAZE_HORIZON = 10_000
"""The API's largest horizon (irl.io.environments.MAX_HORIZON): mazes above 50 x 50 cells use it."""
DEFAULT_SIZE = 5
DISCOUNT = 1.0
WALL, OPEN = "#", "."
_DISTRIBUTION_KEYS = {name: i for i, name in enumerate(DISTRIBUTIONS)}


@dataclass(frozen=True)
class ColouredCell:
    """A coloured floor square (not the door)."""

    cell: Cell
    colour: Colour


@dataclass(frozen=True)
class Maze:
    """One maze: walls, start square, exit door and coloured floor squares (hashable)."""

    size: int
    """Cells per side; the grid has 2 * size + 1 rows and columns."""
    distribution: Distribution
    seed: int
    grid: tuple[str, ...]
    """Rows of the grid, "#" for wall and "." for open."""
    start: Cell
    door: Cell
    door_colour: Colour
    objects: tuple[ColouredCell, ...]
    """Coloured floor squares other than the door (distractors)."""

    def __post_init__(self) -> None:
        """Refuse grids of the wrong shape and objects on walls or on top of each other."""
        side = 2 * self.size + 1
        if len(self.grid) != side or any(len(row) != side for row in self.grid):
            raise InvalidInputError.at("grid", f"expected {side} rows of {side} squares")
        placed = [self.start, self.door, *(o.cell for o in self.objects)]
        if len(set(placed)) != len(placed):
            raise InvalidInputError.at("objects", "start, door and objects must be distinct")
        if any(self.grid[r][c] != OPEN for r, c in placed):
            raise InvalidInputError.at("objects", "start, door and objects must be on open squares")

    @property
    def side(self) -> int:
        """Rows (and columns) of the grid."""
        return 2 * self.size + 1

    @property
    def name(self) -> str:
        """E.g. "maze-test-5x5-seed3"."""
        return f"maze-{self.distribution}-{self.size}x{self.size}-seed{self.seed}"

    @property
    def horizon(self) -> int:
        """Steps per episode, maze_horizon(size)."""
        return maze_horizon(self.size)

    @cached_property
    def walls(self) -> np.ndarray:
        """(side, side) bool: True on wall squares."""
        return read_only(np.array([[ch == WALL for ch in row] for row in self.grid]))

    @cached_property
    def states(self) -> tuple[Cell, ...]:
        """The open squares in row-major order; states[s] is the square of state s."""
        rows, cols = np.nonzero(~self.walls)
        return tuple(zip(rows.tolist(), cols.tolist(), strict=True))

    @cached_property
    def state_of(self) -> dict[Cell, int]:
        """State index of each open square."""
        return {cell: s for s, cell in enumerate(self.states)}

    @property
    def n_states(self) -> int:
        """Number of open squares."""
        return len(self.states)

    @cached_property
    def red_cells(self) -> tuple[Cell, ...]:
        """Every red square, the door included when it is red."""
        return self._coloured("red")

    @cached_property
    def blue_cells(self) -> tuple[Cell, ...]:
        """Every blue square, the door included when it is blue."""
        return self._coloured("blue")

    @cached_property
    def next_states(self) -> np.ndarray:
        """(S, 5) int64: the successor of each (state, action); walls block, the door absorbs."""
        table = np.empty((self.n_states, len(MOVES)), dtype=np.int64)
        for s, (r, c) in enumerate(self.states):
            for a, (dr, dc) in enumerate(MOVES):
                target = (r + dr, c + dc)
                blocked = (r, c) == self.door or self.walls[target]
                table[s, a] = s if blocked else self.state_of[target]
        return read_only(table)

    @cached_property
    def features(self) -> np.ndarray:
        """(S, 4) float64: door, red, blue indicators and the fraction of 4 neighbours walled."""
        values = np.zeros((self.n_states, len(FEATURE_NAMES)))
        values[self.state_of[self.door], 0] = 1.0
        for column, cells in ((1, self.red_cells), (2, self.blue_cells)):
            for cell in cells:
                values[self.state_of[cell], column] = 1.0
        for s, (r, c) in enumerate(self.states):
            values[s, 3] = sum(bool(self.walls[r + dr, c + dc]) for dr, dc in MOVES[1:]) / 4
        return read_only(values)

    @cached_property
    def rewards(self) -> np.ndarray:
        """(S,) float64 training reward of acting from each state (both views pay this)."""
        return read_only(
            linear_state_values(LinearReward(TRAINING_WEIGHTS), FEATURE_NAMES, self.features)
        )

    def distances(self, source: Cell | None = None) -> np.ndarray:
        """(S,) int64 fewest moves from `source` (default: the start) to each state; -1 if none."""
        return shortest_distances(
            self.next_states, self.state_of[self.start if source is None else source]
        )

    def to_spec(self) -> dict[str, Any]:
        """The maze as the API's tabular environment spec (parse_tabular_mdp accepts it)."""
        n_actions = len(MOVES)
        transitions = [
            [s, a, int(t), 1.0]
            for s in range(self.n_states)
            for a, t in enumerate(self.next_states[s])
        ]
        initial = np.zeros(self.n_states)
        initial[self.state_of[self.start]] = 1.0
        return {
            "kind": "tabular",
            "name": self.name,
            "n_states": self.n_states,
            "n_actions": n_actions,
            "transitions": transitions,
            "initial_state_dist": initial.tolist(),
            "horizon": self.horizon,
            "discount": DISCOUNT,
            "features": {"names": list(FEATURE_NAMES), "values": self.features.tolist()},
            "reward": {"kind": "linear", "weights": dict(TRAINING_WEIGHTS)},
            "layout": {
                "rows": self.side,
                "cols": self.side,
                "cells": [list(cell) for cell in self.states],
            },
        }

    def to_mdp(self) -> TabularMDP:
        """The maze as a tabular MDP (the one irl.io.environments parses from to_spec())."""
        n_actions = len(MOVES)
        pairs = np.arange(self.n_states * n_actions)
        transitions = scipy.sparse.csr_array(
            (np.ones(len(pairs)), (pairs, self.next_states.reshape(-1))),
            shape=(self.n_states * n_actions, self.n_states),
        )
        transitions.sum_duplicates()
        transitions.data.flags.writeable = False
        initial = np.zeros(self.n_states)
        initial[self.state_of[self.start]] = 1.0
        return TabularMDP(
            name=self.name,
            n_states=self.n_states,
            n_actions=n_actions,
            transitions=transitions,
            initial_state_dist=read_only(initial),
            horizon=self.horizon,
            discount=DISCOUNT,
            feature_names=FEATURE_NAMES,
            features=self.features,
            reward=LinearReward(TRAINING_WEIGHTS),
            layout=Layout(
                rows=self.side,
                cols=self.side,
                cells=read_only(np.array(self.states, dtype=np.int64).reshape(-1, 2)),
            ),
        )

    def text(self, agent: Cell | None = None) -> str:
        """The grid as text: # wall, S start, D/d red/blue door, r/b red/blue floor, A agent."""
        marks = {self.start: "S", self.door: "D" if self.door_colour == "red" else "d"}
        marks.update({o.cell: o.colour[0] for o in self.objects})
        if agent is not None:
            marks[agent] = "A"
        return "\n".join(
            "".join(marks.get((r, c), ch) for c, ch in enumerate(row))
            for r, row in enumerate(self.grid)
        )

    def _coloured(self, colour: Colour) -> tuple[Cell, ...]:
        """Squares of one colour, the door first when it has that colour."""
        door = (self.door,) if self.door_colour == colour else ()
        return door + tuple(o.cell for o in self.objects if o.colour == colour)


def generate_maze(*, size: int, distribution: Distribution, seed: int) -> Maze:
    """The maze of `seed` in `distribution` (same arguments, same maze; see docs/mazes.md)."""
    check_maze_arguments(size=size, distribution=distribution)
    rng = np.random.default_rng([seed, _DISTRIBUTION_KEYS[distribution]])
    walls = _carve(size, rng)
    cells = [(2 * i + 1, 2 * j + 1) for i in range(size) for j in range(size)]
    start = cells[int(rng.integers(len(cells)))]
    door_colour, colours = _object_colours(distribution, rng)
    candidates = _within_reach(walls, start, cells, maze_horizon(size) // 2)
    placed = _placements(walls, [c for c in candidates if c != start], 1 + len(colours), rng)
    return Maze(
        size=size,
        distribution=distribution,
        seed=seed,
        grid=tuple("".join(WALL if w else OPEN for w in row) for row in walls),
        start=start,
        door=placed[0],
        door_colour=door_colour,
        objects=tuple(
            ColouredCell(cell, colour) for cell, colour in zip(placed[1:], colours, strict=True)
        ),
    )


def maze_horizon(size: int) -> int:
    """4 n^2, twice the longest possible path (2n^2 - 2 moves), capped at MAX_MAZE_HORIZON; the
    same for all n x n mazes (above 50 x 50 cells the door is placed within half of it)."""
    return min(4 * size**2, MAX_MAZE_HORIZON)


def check_maze_arguments(*, size: int, distribution: str) -> None:
    """Refuse sizes outside [MIN_SIZE, MAX_SIZE] and unknown distributions."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInputError.at("size", f"must be in [{MIN_SIZE}, {MAX_SIZE}], got {size}")
    if distribution not in DISTRIBUTIONS:
        raise InvalidInputError.at("distribution", f"expected one of {', '.join(DISTRIBUTIONS)}")


def shortest_distances(next_states: np.ndarray, source: int) -> np.ndarray:
    """(S,) int64 breadth-first move counts from `source` under a (S, A) successor table."""
    distances = np.full(len(next_states), -1, dtype=np.int64)
    distances[source] = 0
    queue = deque([source])
    while queue:
        s = queue.popleft()
        for t in next_states[s].tolist():
            if distances[t] < 0:
                distances[t] = distances[s] + 1
                queue.append(t)
    return distances


def _within_reach(walls: np.ndarray, start: Cell, cells: list[Cell], moves: int) -> list[Cell]:
    """The cells at most `moves` moves from `start` (all of them when no path is that long)."""
    if moves >= walls.size:
        return cells
    distance = np.full(walls.shape, -1, dtype=np.int64)
    distance[start] = 0
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES[1:]:
            if not walls[r + dr, c + dc] and distance[r + dr, c + dc] < 0:
                distance[r + dr, c + dc] = distance[r, c] + 1
                queue.append((r + dr, c + dc))
    return [cell for cell in cells if 0 <= distance[cell] <= moves]


def _carve(size: int, rng: np.random.Generator) -> np.ndarray:
    """(2n+1, 2n+1) bool walls of a perfect maze carved by the recursive backtracker."""
    walls = np.ones((2 * size + 1, 2 * size + 1), dtype=bool)
    visited = np.zeros((size, size), dtype=bool)
    first = (int(rng.integers(size)), int(rng.integers(size)))
    visited[first] = True
    walls[2 * first[0] + 1, 2 * first[1] + 1] = False
    stack = [first]
    while stack:
        i, j = stack[-1]
        unvisited = [
            (i + di, j + dj)
            for di, dj in MOVES[1:]
            if 0 <= i + di < size and 0 <= j + dj < size and not visited[i + di, j + dj]
        ]
        if not unvisited:
            stack.pop()
            continue
        ni, nj = unvisited[int(rng.integers(len(unvisited)))]
        visited[ni, nj] = True
        walls[2 * ni + 1, 2 * nj + 1] = False
        walls[i + ni + 1, j + nj + 1] = False
        stack.append((ni, nj))
    return walls


def _object_colours(
    distribution: Distribution, rng: np.random.Generator
) -> tuple[Colour, list[Colour]]:
    """The door's colour and the colours of the distractors, as the distribution prescribes."""
    red: list[Colour] = ["red"]
    blue: list[Colour] = ["blue"]
    if distribution == "train":
        return "red", blue * int(rng.integers(1, 3))
    if distribution == "test":
        return "blue", red * int(rng.integers(1, 4))
    door: Colour = "red" if rng.random() < 0.5 else "blue"
    return door, red * int(rng.integers(0, 3)) + blue * int(rng.integers(0, 3))


def _placements(
    walls: np.ndarray, candidates: list[Cell], count: int, rng: np.random.Generator
) -> list[Cell]:
    """`count` distinct cells, dead ends first (so no path to elsewhere crosses the door)."""
    dead = [c for c in candidates if _open_neighbours(walls, c) == 1]
    other = [c for c in candidates if _open_neighbours(walls, c) != 1]
    ordered = [dead[i] for i in rng.permutation(len(dead))]
    ordered += [other[i] for i in rng.permutation(len(other))]
    return ordered[:count]


def _open_neighbours(walls: np.ndarray, cell: Cell) -> int:
    """How many of the 4 squares next to `cell` are open."""
    r, c = cell
    return sum(not walls[r + dr, c + dc] for dr, dc in MOVES[1:])
