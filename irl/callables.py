"""Batched callables that rewards, dynamics and distances share (any observation space)."""

from collections.abc import Callable

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""R(obs (K, ...), acts (K, ...), next_obs (K, ...)) -> (K,) float rewards."""

NextStateSampler = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""next_obs (K, ...) ~ T(. | obs (K, ...), acts (K, ...)); draws independently per row."""
