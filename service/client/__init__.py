"""The user-side package: the Python client, trajectory file formats and the client commands.

It imports nothing of the server (no fastapi, sqlalchemy, huey or `service.<domain>` modules),
so a researcher needs only httpx and numpy to use it.
"""

from service.client.arrays import TrajectoryArrays, to_arrays
from service.client.http import MesascopeClient, MesascopeError

__all__ = ["MesascopeClient", "MesascopeError", "TrajectoryArrays", "to_arrays"]
