"""Small numpy helpers shared by the science types."""

import numpy as np


def read_only(arr: np.ndarray) -> np.ndarray:
    """The array marked read-only, so frozen dataclasses holding it are really immutable."""
    arr.flags.writeable = False
    return arr
