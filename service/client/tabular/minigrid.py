"""MiniGrid (2.3.x) instances as tabular views, by enumerating their reachable states.

A state is the agent's position and direction, what it carries, and where the doors, keys,
balls and boxes are and in which state (open, closed, locked; a box's contents). Walls, floor
tiles, goals and lava never change. The tabulariser steps the real environment's `step()`
from each state (its observation is not rendered while enumerating), so the view has the
environment's own dynamics; environments that move things at random (Dynamic-Obstacles) are
refused as not deterministic.

Features, named for what a cell holds and its colour (only those that occur are included):

| feature | value |
|---|---|
| `goal`, `lava` | the agent stands on a goal / in lava |
| `floor`, `doorway` | the agent stands on a floor tile / in an open door |
| `<colour>` (`green`, `red`, ...) | the colour of the goal, floor or door the agent stands on |
| `wall_ahead`, `lava_ahead`, `goal_ahead` | what is in the cell the agent faces |
| `<type>_<colour>_ahead` | a door, key, ball or box the agent faces (`door_red_ahead`) |
| `carrying_<type>_<colour>` | what the agent carries (`carrying_key_yellow`) |
| `door_<colour>_open` | the share of the doors of that colour that are open |

The training reward is `{"kind": "linear", "weights": {"goal": 1.0}}` by default (1 for each
step on the goal, which is absorbing; MiniGrid's own reward also pays for reaching the goal,
discounted by the time taken): `reward="environment"` records MiniGrid's step rewards instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from service.client.tabular.generic import tabularise
from service.client.tabular.view import Layout, TabulariseError, TabularView, replaced

MOVABLE = frozenset({"door", "key", "ball", "box"})
"""Object types whose place or state can change; every other object is fixed."""
MINIGRID_ACTIONS = ("left", "right", "forward", "pickup", "drop", "toggle", "done")
DEFAULT_MAX_STATES = 50_000
_DOOR_STATES = {"open": 0, "closed": 1, "locked": 2}
_DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))
"""MiniGrid's DIR_TO_VEC: right, down, left, up."""

ObjectKey = tuple[str, str, int, Any]
"""(type, colour, state, contents) of a movable object; state 0/1/2 = open/closed/locked."""
FeatureFn = Callable[[Any], Mapping[str, float]]


def _describe(obj: Any) -> ObjectKey | None:
    """A movable object (or None) as a value: equal descriptions are interchangeable."""
    if obj is None:
        return None
    state = 0
    if obj.type == "door":
        state = 0 if obj.is_open else 2 if obj.is_locked else 1
    return (obj.type, obj.color, state, _describe(getattr(obj, "contains", None)))


def _build(description: ObjectKey | None, position: tuple[int, int] | None = None) -> Any:
    """A fresh MiniGrid object from its description."""
    if description is None:
        return None
    from minigrid.core.world_object import Ball, Box, Door, Key

    kind, colour, state, contents = description
    obj: Any
    if kind == "door":
        obj = Door(colour, is_open=state == 0, is_locked=state == 2)
    elif kind == "key":
        obj = Key(colour)
    elif kind == "ball":
        obj = Ball(colour)
    else:
        obj = Box(colour, contains=_build(contents))
    if position is not None:
        obj.init_pos = obj.cur_pos = position
    return obj


class MiniGridAccess:
    """StateAccess for one MiniGrid instance: snapshots are state keys, restored into one
    working copy of the environment (the caller's environment is never stepped)."""

    def __init__(self, env: Any, features: FeatureFn | None = None) -> None:
        import copy

        base = getattr(env, "unwrapped", env)
        if not all(hasattr(base, name) for name in ("grid", "agent_pos", "agent_dir")):
            raise TabulariseError(
                f"{type(base).__name__} is not a MiniGrid environment (no grid / agent_pos)"
            )
        if base.grid is None or base.agent_dir is None or base.agent_dir < 0:
            raise TabulariseError("reset the MiniGrid environment before tabulating it")
        self.work = copy.deepcopy(base)
        self.work.render_mode = None
        self.work.gen_obs = lambda: None  # enumerating needs no observations
        self.width, self.height = base.grid.width, base.grid.height
        self.fixed = [
            None if obj is not None and obj.type in MOVABLE else obj for obj in base.grid.grid
        ]
        self.custom_features = features
        self.layout = _fixed_cells(base.grid.grid)
        self.doors = [
            i for i, obj in enumerate(base.grid.grid) if obj is not None and obj.type == "door"
        ]
        """Cells with doors (doors never move)."""
        self.checked_grid: Any = None
        self.candidates: list[int] | None = None
        """Cells that can hold movable objects after a step of the working copy: where they
        were when it was restored, and the cell the agent faced (MiniGrid's `step` changes
        nothing else)."""

    def key(self, env: Any) -> Hashable:
        """(x, y, direction, carried object, movable objects by place) of a live environment."""
        base = getattr(env, "unwrapped", env)
        if base is self.work and self.candidates is not None:
            return _key(base, self.candidates)
        self.check_instance(base)
        return _key(base, _occupied(base.grid.grid))

    def check_instance(self, base: Any) -> None:
        """Refuse a live environment whose fixed cells (walls, goals, lava, floor) are not
        this instance's: its states would be mapped to the wrong ones."""
        if base.grid is self.checked_grid:
            return
        if _fixed_cells(base.grid.grid) != self.layout:
            raise TabulariseError(
                "the environment is not the instance the view was built from: its walls, "
                "goals, lava or floor differ (reset it with the seed that made the view's grid)"
            )
        self.checked_grid = base.grid

    def full_key(self, env: Any) -> Hashable:
        """The key from a scan of every cell (the tabulariser's check of `key`)."""
        base = getattr(env, "unwrapped", env)
        return _key(base, _occupied(base.grid.grid))

    def snapshot(self, env: Any) -> Any:
        return self.key(env)

    def restore(self, snapshot: Any) -> Any:
        x, y, direction, carried, objects = snapshot
        env = self.work
        cells = env.grid.grid
        for i in self.candidates or range(len(cells)):  # undo what the last step could change
            cells[i] = self.fixed[i]
        for ox, oy, kind, colour, state, contents in objects:
            cells[oy * self.width + ox] = _build((kind, colour, state, contents), (ox, oy))
        dx, dy = _DIRECTIONS[direction]
        front = (y + dy) * self.width + x + dx
        self.candidates = sorted({oy * self.width + ox for ox, oy, *_ in objects} | {front})
        env.carrying = _build(carried)
        env.agent_pos = (x, y)
        env.agent_dir = direction
        env.step_count = 0
        return env

    def cell(self, env: Any) -> tuple[int, int] | None:
        x, y = getattr(env, "unwrapped", env).agent_pos
        return int(y), int(x)

    def features(self, env: Any) -> Mapping[str, float]:
        if self.custom_features is not None:
            return self.custom_features(env)
        return minigrid_features(env, doors=self.doors)


def _fixed_cells(cells: list[Any]) -> list[tuple[str, str] | None]:
    """(type, colour) of each fixed object of a flat grid, None elsewhere."""
    return [None if obj is None or obj.type in MOVABLE else (obj.type, obj.color) for obj in cells]


def _occupied(cells: list[Any]) -> Iterable[int]:
    """Flat indices of the non-empty cells (found in C: a room is mostly empty floor)."""
    return itertools.compress(range(len(cells)), cells)


def _key(base: Any, cells: Iterable[int]) -> Hashable:
    """The state key, looking for movable objects in `cells` (flat grid indices) only."""
    x, y = base.agent_pos
    width, grid = base.grid.width, base.grid.grid
    objects = []
    for i in cells:
        obj = grid[i]
        described = _describe(obj) if obj is not None and obj.type in MOVABLE else None
        if described is not None:
            objects.append((i % width, i // width, *described))
    return (int(x), int(y), int(base.agent_dir), _describe(base.carrying), tuple(objects))


def minigrid_features(env: Any, *, doors: Sequence[int] | None = None) -> dict[str, float]:
    """The default named features of a MiniGrid state (see the module's table); `doors` are
    the flat indices of the door cells when known (else the grid is scanned)."""
    base = getattr(env, "unwrapped", env)
    x, y = (int(v) for v in base.agent_pos)
    grid = base.grid
    out: dict[str, float] = {}
    here = grid.get(x, y)
    if here is not None:
        if here.type in ("goal", "lava", "floor"):
            out[here.type] = 1.0
        if here.type == "door":
            out["doorway"] = 1.0
        if here.type in ("goal", "floor", "door"):
            out[here.color] = 1.0
    dx, dy = _DIRECTIONS[int(base.agent_dir)]
    ahead = (
        grid.get(x + dx, y + dy) if 0 <= x + dx < grid.width and 0 <= y + dy < grid.height else None
    )
    if ahead is not None:
        if ahead.type in ("wall", "lava", "goal"):
            out[f"{ahead.type}_ahead"] = 1.0
        elif ahead.type in MOVABLE:
            out[f"{ahead.type}_{ahead.color}_ahead"] = 1.0
    if base.carrying is not None:
        out[f"carrying_{base.carrying.type}_{base.carrying.color}"] = 1.0
    cells = grid.grid if doors is None else [grid.grid[i] for i in doors]
    opened_by_colour: dict[str, list[bool]] = {}
    for obj in cells:
        if obj is not None and obj.type == "door":
            opened_by_colour.setdefault(obj.color, []).append(bool(obj.is_open))
    for colour, opened in opened_by_colour.items():
        if any(opened):
            out[f"door_{colour}_open"] = sum(opened) / len(opened)
    return out


def minigrid_view(
    env: Any,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    n_actions: int | None = None,
    reward: Mapping[str, Any] | str = "goal",
    horizon: int | None = None,
    discount: float = 1.0,
    features: FeatureFn | None = None,
    name: str | None = None,
) -> TabularView:
    """The tabular view of a reset MiniGrid instance (the grid its last `reset` generated).

    `n_actions=3` keeps only left/right/forward (navigation; three times fewer transitions);
    `features` replaces the default feature function; `reward` is `"goal"` (linear, 1 on the
    goal), `"environment"` (MiniGrid's step rewards), or a reward spec.
    """
    access = MiniGridAccess(env, features)
    base = getattr(env, "unwrapped", env)
    actions = len(MINIGRID_ACTIONS) if n_actions is None else n_actions
    if not 1 <= actions <= len(MINIGRID_ACTIONS):
        raise TabulariseError(f"n_actions must be 1 to {len(MINIGRID_ACTIONS)}, got {actions}")
    spec: Mapping[str, Any] | str = reward
    if reward == "goal":
        spec = {"kind": "linear", "weights": {"goal": 1.0}}
    view = tabularise(
        [base],
        access,
        horizon=horizon or int(base.max_steps),
        discount=discount,
        max_states=max_states,
        reward=spec,
        name=name or _name(env),
        n_actions=actions,
        action_names=MINIGRID_ACTIONS[:actions],
    )
    if reward == "goal" and "goal" not in view.feature_names:
        raise TabulariseError(
            "no goal is reachable in this instance; pass reward= another reward spec"
        )
    assert view.layout is not None
    layout = Layout(rows=access.height, cols=access.width, cells=view.layout.cells)
    return replaced(view, layout=layout)


def _name(env: Any) -> str:
    """The registered id, or the class name."""
    spec = getattr(env, "spec", None)
    return str(getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__)
