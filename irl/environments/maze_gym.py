"""The mazes as a gymnasium environment with exactly the tabular MDP's dynamics and reward.

Observations are (5, 2n+1, 2n+1) float32 images with channels wall, agent, door, red, blue.
The reward of a step is the training reward of the state the agent acts from,
R(s, a, s') = door[s] (irl.rewards' convention), so arriving at the door earns from the next step
on. Episodes always last the maze's horizon (truncated, never terminated); info["state"] is the
tabular state index. See docs/mazes.md.
"""

from typing import Any

import gymnasium as gym
import numpy as np

from irl.environments.maze import (
    DEFAULT_SIZE,
    DISTRIBUTIONS,
    MOVES,
    Distribution,
    Maze,
    check_maze_arguments,
    generate_maze,
    maze_horizon,
)
from irl.errors import InvalidInputError

CHANNELS = ("wall", "agent", "door", "red", "blue")
MAZE_IDS: dict[Distribution, str] = {d: f"mesascope/Maze-{d}-v0" for d in DISTRIBUTIONS}
"""Gymnasium id of each distribution's environment."""
MAZE_ID_PATTERN = "mesascope/Maze-*"
"""Allow-list pattern matching every maze id."""
_MAZE_SEEDS = 2**31


class MazeEnv(gym.Env[np.ndarray, np.int64]):
    """A fixed maze (`maze_seed` or `maze` given) or a new maze per reset from `distribution`."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 (declared an instance variable by gym.Env)

    def __init__(
        self,
        *,
        distribution: Distribution = "train",
        size: int = DEFAULT_SIZE,
        maze_seed: int | None = None,
        maze: Maze | None = None,
        render_mode: str | None = None,
    ) -> None:
        """Build the spaces; a fixed maze is generated now, distribution mazes at each reset."""
        if render_mode not in (None, "ansi"):
            raise InvalidInputError.at("render_mode", "only `ansi` rendering is supported")
        if maze is None:
            check_maze_arguments(size=size, distribution=distribution)
        if maze is None and maze_seed is not None:
            maze = generate_maze(size=size, distribution=distribution, seed=maze_seed)
        self.distribution: Distribution = maze.distribution if maze else distribution
        self.size = maze.size if maze else size
        self.fixed = maze is not None
        self.render_mode = render_mode
        side = 2 * self.size + 1
        self.observation_space = gym.spaces.Box(0.0, 1.0, (len(CHANNELS), side, side), np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self._maze = maze
        self._static = _static_channels(maze) if maze else np.zeros((0, side, side), np.float32)
        self._state = 0
        self._t = 0

    @property
    def maze(self) -> Maze:
        """The current maze (after reset for distribution environments)."""
        if self._maze is None:
            raise gym.error.ResetNeeded("call reset() before using a distribution environment")
        return self._maze

    @property
    def horizon(self) -> int:
        """Steps per episode: the horizon of every maze of this size (deep IRL reads it)."""
        return maze_horizon(self.size)

    @property
    def state(self) -> int:
        """The agent's tabular state index."""
        return self._state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; options={"state": s} starts in state s instead of the maze's start."""
        super().reset(seed=seed)
        if not self.fixed:
            maze_seed = int(self.np_random.integers(_MAZE_SEEDS))
            self._maze = generate_maze(
                size=self.size, distribution=self.distribution, seed=maze_seed
            )
            self._static = _static_channels(self._maze)
        start = (options or {}).get("state", self.maze.state_of[self.maze.start])
        if not 0 <= int(start) < self.maze.n_states:
            raise InvalidInputError.at("options.state", f"expected [0, {self.maze.n_states})")
        self._state, self._t = int(start), 0
        return self._observation(), self._info()

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move (walls block, the door absorbs); reward door[s] of the state acted from."""
        maze = self.maze
        reward = float(maze.rewards[self._state])
        self._state = int(maze.next_states[self._state, int(action)])
        self._t += 1
        return self._observation(), reward, False, self._t >= maze.horizon, self._info()

    def render(self) -> str | None:  # type: ignore[override]
        """The maze as text with the agent marked "A" (render_mode "ansi")."""
        if self.render_mode != "ansi":
            return None
        return self.maze.text(agent=self.maze.states[self._state])

    def _observation(self) -> np.ndarray:
        """The static channels with the agent's square set in channel 1."""
        obs = self._static.copy()
        r, c = self.maze.states[self._state]
        obs[1, r, c] = 1.0
        return obs

    def _info(self) -> dict[str, Any]:
        """The tabular state, time step and maze seed."""
        return {"state": self._state, "t": self._t, "maze_seed": self.maze.seed}


def register_mazes() -> None:
    """Register the mesascope/Maze-<distribution>-v0 ids (safe to call more than once)."""
    for distribution, env_id in MAZE_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="irl.environments.maze_gym:MazeEnv",
                kwargs={"distribution": distribution},
            )


def state_observations(maze: Maze) -> np.ndarray:
    """(S, 5, side, side) float32: the observation of each tabular state."""
    static = _static_channels(maze)
    obs = np.repeat(static[None], maze.n_states, axis=0)
    for s, (r, c) in enumerate(maze.states):
        obs[s, 1, r, c] = 1.0
    return obs


def _static_channels(maze: Maze) -> np.ndarray:
    """(5, side, side) float32 wall, (empty) agent, door, red and blue channels."""
    channels = np.zeros((len(CHANNELS), maze.side, maze.side), dtype=np.float32)
    channels[0] = maze.walls
    channels[2][maze.door] = 1.0
    for index, cells in ((3, maze.red_cells), (4, maze.blue_cells)):
        for cell in cells:
            channels[index][cell] = 1.0
    return channels
