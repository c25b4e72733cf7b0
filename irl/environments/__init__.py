"""Environments: tabular MDPs with known dynamics, gymnasium references, and the maze suite."""

from irl.environments.maze import (
    DISTRIBUTIONS,
    FEATURE_NAMES,
    ColouredCell,
    Distribution,
    Maze,
    generate_maze,
)
from irl.environments.maze_gym import MAZE_ID_PATTERN, MAZE_IDS, MazeEnv, register_mazes
from irl.environments.tabular import GymnasiumEnvSpec, Layout, TabularMDP

register_mazes()

__all__ = [
    "DISTRIBUTIONS",
    "FEATURE_NAMES",
    "MAZE_IDS",
    "MAZE_ID_PATTERN",
    "ColouredCell",
    "Distribution",
    "GymnasiumEnvSpec",
    "Layout",
    "Maze",
    "MazeEnv",
    "TabularMDP",
    "generate_maze",
    "register_mazes",
]
