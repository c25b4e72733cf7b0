"""The user-side package: the Python client, trajectory file formats and the client commands.

It imports nothing of the server (no fastapi, sqlalchemy, huey or `service.<domain>` modules),
so a researcher needs only httpx and numpy to use it.
"""

import os

# With minigrid installed, `import gymnasium` loads it (an entry-point plugin) and pygame, whose
# banner would land on stdout, where `mesascope` commands print only results (and `serve` its
# JSON log lines). service.cli imports this package before anything imports gymnasium.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from service.client.arrays import TrajectoryArrays, to_arrays
from service.client.http import MesascopeClient, MesascopeError

__all__ = ["MesascopeClient", "MesascopeError", "TrajectoryArrays", "to_arrays"]
