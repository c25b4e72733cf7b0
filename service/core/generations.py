"""Cache generations: a database counter that every transaction changing a cached view bumps.

An API process keeps rendered pages of `GET /v1/inferences` together with the generation they
were rendered at; before serving one it reads the current generation (one primary-key lookup)
and renders anew when it has moved. Every writer bumps it in the same transaction as its change
(a `before_commit` hook on all sessions, so job workers, other API processes and the CLI do too),
so a page can never be served after a committed change: not to the writer, not to anyone else.

The writes watched: any insert, update or delete of an inference, an inferred reward or a
rollout tag (the list's tag filter), and deletes of the rows whose deletion cascades to them.
Readers must read the generation before the data they render (`current`, then the query).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Connection, bindparam, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from service.core.models import CacheGeneration

INFERENCES = "inferences"
"""The generation of everything `GET /v1/inferences` shows."""
WATCHED = frozenset({"inferences", "inferred_rewards", "rollout_tags"})
"""Tables any write to which changes an inference list."""
WATCHED_DELETES = frozenset({"rollout_sets", "environments", "projects"})
"""Tables whose deletes cascade to the watched ones."""
_CHANGED = "mesascope.inferences_changed"


_TABLE = CacheGeneration.__table__
_CURRENT = select(_TABLE.c.value).where(_TABLE.c.name == bindparam("name"))


def current(connection: Connection, name: str = INFERENCES) -> int | None:
    """The generation now (None when the row is missing: then nothing may be cached). A Core
    query on a bare connection: the cheapest check the hot path can make."""
    value = connection.execute(_CURRENT, {"name": name}).scalar()
    return None if value is None else int(value)


def _table_name(statement: Any) -> str | None:
    table = getattr(statement, "table", None)
    return getattr(table, "name", None)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    """Mark the session when it runs an INSERT, UPDATE or DELETE statement on a watched table."""
    if state.is_select or not (state.is_insert or state.is_update or state.is_delete):
        return
    name = _table_name(state.statement)
    if name in WATCHED or (state.is_delete and name in WATCHED_DELETES):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Mark the session when it flushes a new, changed or deleted row of a watched table."""
    for obj in chain(session.new, session.dirty):
        if getattr(obj, "__tablename__", None) in WATCHED:
            session.info[_CHANGED] = True
            return
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) in WATCHED | WATCHED_DELETES:
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    """Bump the generation in the committing transaction, as its last write: the remaining
    changes are flushed first, so no row lock is awaited while the counter's row is held."""
    session.flush()
    if session.info.pop(_CHANGED, False):
        session.execute(
            update(CacheGeneration)
            .where(CacheGeneration.name == INFERENCES)
            .values(value=CacheGeneration.value + 1)
        )


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    """A rolled-back transaction changed nothing (a rolled-back savepoint keeps the mark)."""
    if previous.parent is None:
        session.info.pop(_CHANGED, None)


@dataclass(frozen=True)
class Rendered:
    """A rendered JSON body, its ETag, and the generation it was rendered at."""

    generation: int
    body: bytes
    etag: str


class RenderedPages:
    """Rendered pages by key (project and query), each valid while the generation it was rendered
    at is current. One per app instance; bounded: emptied when `size` keys are held."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: dict[Hashable, Rendered] = {}

    def get(self, key: Hashable, generation: int | None) -> Rendered | None:
        """The page rendered at this generation, if any."""
        page = self._pages.get(key)
        if page is None or generation is None or page.generation != generation:
            return None
        return page

    def put(self, key: Hashable, generation: int | None, body: bytes) -> Rendered:
        """Remember a body rendered at `generation` (nothing is kept without one)."""
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        page = Rendered(generation or 0, body, etag)
        if generation is not None:
            if len(self._pages) >= self.size:
                self._pages.clear()
            self._pages[key] = page
        return page
