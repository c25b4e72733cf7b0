"""Tabular views of the environments users have (user-side: runs where they are installed).

- `toy_text_view(env)`: gymnasium's FrozenLake, CliffWalking, Taxi (any model `P`), exactly.
- `minigrid_view(env)`: a MiniGrid instance, by enumerating its reachable states.
- `tabularise(env, access)`: any environment you can copy, given a `StateAccess`.
- `confounded_pairs(views)`, `minigrid_changes(...)`, `decorrelated(env, change)`: MiniGrid
  instances that separate features the training instances confound.

Each returns a `TabularView`: `to_spec()` is the API's tabular environment spec and
`state_of(env)` the state index of a live environment (so recorded episodes become `obs`).
gymnasium and minigrid are imported only inside the functions that need them.
"""

from service.client.tabular.decorrelate import (
    Change,
    confounded_pairs,
    decorrelated,
    minigrid_changes,
    pairs_from_report,
    separates,
)
from service.client.tabular.generic import CopyAccess, StateAccess, tabularise
from service.client.tabular.minigrid import MiniGridAccess, minigrid_view
from service.client.tabular.recording import record_episodes
from service.client.tabular.toytext import toy_text_view
from service.client.tabular.view import Layout, TabulariseError, TabularView

__all__ = [
    "Change",
    "CopyAccess",
    "Layout",
    "MiniGridAccess",
    "StateAccess",
    "TabularView",
    "TabulariseError",
    "confounded_pairs",
    "decorrelated",
    "minigrid_changes",
    "minigrid_view",
    "pairs_from_report",
    "record_episodes",
    "separates",
    "tabularise",
    "toy_text_view",
]
