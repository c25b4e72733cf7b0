"""Test instances that separate two features the training instances confound (docs/environments.md).

When every training instance has `goal` wherever it has `green` (MiniGrid's goals are green),
no amount of training-like data says which of the two an agent pursues. This module finds
such pairs over the states reachable in the training instances (`confounded_pairs`, or
`pairs_from_report` from a report's identifiability field) and edits a MiniGrid instance so
that they come apart (`minigrid_changes`): the objects of one colour recoloured, a floor tile
of the confounded colour added far from them, the goal moved with a tile of its colour left
where it was. `separates` says whether a view tells the two features apart;
`service.client.probe.decorrelating_instances` keeps the edited instances whose views do.

An edit is a `Change`, applied after every reset by `decorrelated(env, change)`, so the edited
instance keeps the original's reset seed, agent start, observation wrappers and `step()`.
minigrid and gymnasium are imported only inside the functions that need them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.client.tabular.view import TabulariseError, TabularView

COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")
"""MiniGrid's colours, in the order a replacement colour is chosen."""
RECOLOURED = frozenset({"goal", "floor", "door", "key", "ball", "box"})
"""Object types a recolouring changes (walls and lava keep theirs)."""
CORRELATION_DECIMALS = 6

Cell = tuple[int, int]
"""(x, y) on a MiniGrid grid."""


def confounded_pairs(views: Sequence[TabularView]) -> list[tuple[str, str]]:
    """Pairs of features that vary but are equal or perfectly (anti)correlated over the states
    of all these views pooled (a view's states are those reachable in its instance; a feature
    a view lacks is 0 there), in vocabulary order: what training-like data cannot tell apart."""
    names = list(dict.fromkeys(name for view in views for name in view.feature_names))
    if not names:
        return []
    values = np.vstack([view.with_features(names).features for view in views])
    varying = [i for i in range(len(names)) if np.ptp(values[:, i]) > 1e-12]
    if len(varying) < 2:
        return []
    correlation = np.abs(np.corrcoef(values[:, varying], rowvar=False))
    correlation = np.round(correlation, CORRELATION_DECIMALS)
    return [
        (names[varying[i]], names[varying[j]])
        for i in range(len(varying))
        for j in range(i + 1, len(varying))
        if correlation[i, j] >= 1.0
    ]


def pairs_from_report(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The confounded pairs a divergence report names (its `identifiability.indistinguishable`
    groups, each as the pairs of its first feature with the others)."""
    groups = (report.get("identifiability") or {}).get("indistinguishable") or []
    return [(group[0], other) for group in groups for other in group[1:]]


def parse_pair(text: str) -> tuple[str, str]:
    """`goal,green` → ("goal", "green")."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise ValueError(f"decorrelate: expected two feature names like `goal,green`, got {text!r}")
    return parts[0], parts[1]


def separates(view: TabularView, a: str, b: str) -> bool:
    """Whether the view's states tell `a` and `b` apart: both vary over them and neither is an
    affine function of the other (a feature the view lacks is 0 everywhere, so it does not)."""
    columns = [
        view.feature_column(name) if name in view.feature_names else np.zeros(view.n_states)
        for name in (a, b)
    ]
    design = np.column_stack([*columns, np.ones(view.n_states)])
    return bool(np.linalg.matrix_rank(design, tol=1e-9) == 3)


@dataclass(frozen=True)
class Change:
    """A deterministic edit of a MiniGrid instance's grid, made after each reset: `moves`
    first, then `recolour`, then `tiles` (so a tile keeps its colour)."""

    label: str
    """What the change does, for tables (`goal red, green floor at (1, 1)`)."""
    recolour: tuple[str, str] | None = None
    """(from, to): every goal, floor tile, door, key, ball and box of one colour."""
    moves: tuple[tuple[Cell, Cell], ...] = ()
    """Fixed objects (goals, lava, floor tiles) moved from one cell to an empty one."""
    tiles: tuple[tuple[str, Cell], ...] = ()
    """Floor tiles of a colour put on empty cells (the agent can walk over them)."""

    def apply(self, env: Any) -> None:
        """Edit the grid of a freshly reset MiniGrid environment in place."""
        base = getattr(env, "unwrapped", env)
        grid = base.grid
        for (x, y), (nx, ny) in self.moves:
            _check_free(base, (nx, ny), self.label)
            grid.set(nx, ny, grid.get(x, y))
            grid.set(x, y, None)
        if self.recolour is not None:
            old, new = self.recolour
            for obj in grid.grid:
                _recolour(obj, old, new)
        for colour, (x, y) in self.tiles:
            from minigrid.core.world_object import Floor

            _check_free(base, (x, y), self.label)
            grid.set(x, y, Floor(colour))


def _recolour(obj: Any, old: str, new: str) -> None:
    """Recolour an object (and what a box holds) when it has colour `old`."""
    if obj is None or obj.type not in RECOLOURED:
        return
    if obj.color == old:
        obj.color = new
    _recolour(getattr(obj, "contains", None), old, new)


def _check_free(base: Any, cell: Cell, label: str) -> None:
    """Refuse to put something on an occupied cell or under the agent (the change was made
    for another reset of the environment)."""
    x, y = cell
    if base.grid.get(x, y) is not None or tuple(int(v) for v in base.agent_pos) == cell:
        raise TabulariseError(
            f"change {label!r}: cell {cell} is not free in this reset; reset the environment "
            "with the seed the change was made for"
        )


def minigrid_changes(env: Any, view: TabularView, a: str, b: str) -> list[Change]:
    """Candidate changes of a reset MiniGrid instance (`view` is its view) that may separate
    `a` and `b`: for each colour named in them (and the goals' colour when one is about the
    goal), a tile of that colour far from its objects, the objects recoloured with such a tile
    (a colour swap), and for the goal, the goal moved away with a tile of its colour left in
    its place. Which of them separate is for `separates` on the changed instance's view."""
    base = getattr(env, "unwrapped", env)
    grid = base.grid
    cells = {(int(c), int(r)) for r, c in view.layout.cells} if view.layout is not None else set()
    free = sorted(
        (cell for cell in cells if grid.get(*cell) is None and cell != _agent(base)),
        key=lambda cell: (cell[1], cell[0]),
    )
    goals = _cells_of(grid, lambda obj: obj.type == "goal")
    named = [c for c in COLOURS if _names(c, (a, b))]
    if _names("goal", (a, b)):
        named += [grid.get(*cell).color for cell in goals]
    colours = list(dict.fromkeys(named))
    used = {obj.color for obj in grid.grid if obj is not None}
    changes: list[Change] = []
    for colour in colours:
        holders = _cells_of(grid, functools.partial(_coloured, colour=colour))
        far = _farthest(free, holders)
        if far is None:
            continue
        tile = ((colour, far),)
        changes.append(Change(f"{colour} floor at {far}", tiles=tile))
        spare = next((c for c in COLOURS if c not in used and c not in (a, b)), None)
        if spare is not None and holders:
            recolour = (colour, spare)
            label = f"{colour} objects {spare}, {colour} floor at {far}"
            changes.append(Change(label, recolour=recolour, tiles=tile))
    for goal in goals:
        target = _farthest([cell for cell in free if cell != goal], [goal])
        if target is not None and _names("goal", (a, b)):
            colour = grid.get(*goal).color
            label = f"goal moved {goal} -> {target}, {colour} floor at {goal}"
            changes.append(Change(label, moves=((goal, target),), tiles=((colour, goal),)))
    return changes


def _coloured(obj: Any, *, colour: str) -> bool:
    """Whether an object is one a recolouring changes, of this colour."""
    return bool(obj.color == colour and obj.type in RECOLOURED)


def _names(word: str, features: Iterable[str]) -> bool:
    """Whether a feature name mentions `word` as one of its `_`-separated parts."""
    return any(word in name.split("_") for name in features)


def _agent(base: Any) -> Cell:
    x, y = base.agent_pos
    return int(x), int(y)


def _cells_of(grid: Any, keep: Callable[[Any], bool]) -> list[Cell]:
    """(x, y) of the objects `keep` accepts, in row order."""
    return [
        (i % grid.width, i // grid.width)
        for i, obj in enumerate(grid.grid)
        if obj is not None and keep(obj)
    ]


def _farthest(free: Sequence[Cell], targets: Sequence[Cell]) -> Cell | None:
    """The free cell farthest (Manhattan) from the nearest target; the first in row order on
    ties; None when there is no free cell."""
    if not free:
        return None
    if not targets:
        return free[0]
    return max(free, key=lambda cell: min(abs(cell[0] - x) + abs(cell[1] - y) for x, y in targets))


def maze_changes(maze: Any) -> list[tuple[str, Any]]:
    """Changed copies of a maze of mesascope's suite (irl.environments.maze.Maze), labelled:
    the door recoloured; a floor square of the door's colour added where it is farthest from
    the door; both (the door recoloured, its old colour on that square): what separates the
    door from its colour, the confound of the training distribution."""
    from dataclasses import replace

    from irl.environments.maze import ColouredCell

    other = "blue" if maze.door_colour == "red" else "red"
    taken = {maze.start, maze.door, *(o.cell for o in maze.objects)}
    free = [cell for cell in maze.states if cell not in taken]
    far = _farthest(free, [maze.door])
    changes = [(f"door {other}", replace(maze, door_colour=other))]
    if far is not None:
        tile = ColouredCell(far, maze.door_colour)
        changes.append(
            (f"{maze.door_colour} floor at {far}", replace(maze, objects=(*maze.objects, tile)))
        )
        changes.append(
            (
                f"door {other}, {maze.door_colour} floor at {far}",
                replace(maze, door_colour=other, objects=(*maze.objects, tile)),
            )
        )
    return changes


def decorrelated(env: Any, change: Change) -> Any:
    """`env` (a MiniGrid environment, wrappers and all) with `change` made after each reset;
    the reset's observation is made again, through the observation wrappers, from the
    changed grid."""
    return _wrapper_class()(env, change)


@functools.cache
def _wrapper_class() -> type:
    """The gymnasium wrapper class (defined on first use: gymnasium is imported lazily)."""
    import gymnasium as gym

    class Decorrelated(gym.Wrapper):
        """Makes a `Change` after each reset."""

        def __init__(self, env: Any, change: Change) -> None:
            super().__init__(env)
            self.change = change

        def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
            _, info = self.env.reset(**kwargs)
            self.change.apply(self.env)
            return _observation(self.env), info

    return Decorrelated


def _observation(env: Any) -> Any:
    """The current observation of a MiniGrid environment through its observation wrappers."""
    import gymnasium as gym

    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(env)
        env = env.env
    obs = env.gen_obs()
    for wrapper in reversed(chain):
        if isinstance(wrapper, gym.ObservationWrapper):
            obs = wrapper.observation(obs)
    return obs
