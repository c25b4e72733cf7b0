"""Keyset (cursor) pagination: one sort key plus the id as tie-breaker, either direction.

The API lists are newest first on (created_at, id); the dashboard also sorts by EPIC and oldest
first. A cursor is opaque: base64 of `[order name, sort key, id]` of the last row shown, and a
cursor of another order is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_

from irl.errors import Problem
from service.core.errors import UnprocessableError

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size.")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]
NEWEST = "newest"


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first; pass `next_cursor` back to get the next."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Keyset:
    """A list order: `column` then `row_id`, both descending or both ascending."""

    name: str
    """Written into cursors, so a cursor of one order is refused by another."""
    column: Any
    """The sort key (a mapped attribute; rows expose it under the same name)."""
    row_id: Any
    """The unique tie-breaker."""
    descending: bool = True
    parse: Callable[[Any], Any] = datetime.fromisoformat
    """Turns the key read back from a cursor into a column value."""

    def cursor_after(self, row: Any) -> str:
        """The opaque cursor pointing after `row`."""
        key = getattr(row, self.column.key)
        return encode_cursor(self.name, key, getattr(row, self.row_id.key))

    def after(self, cursor: str) -> ColumnElement[bool]:
        """The condition selecting the rows after the cursor's row in this order."""
        key, row_id = decode_cursor(self.name, cursor, self.parse)
        if self.descending:
            return or_(self.column < key, and_(self.column == key, self.row_id < row_id))
        return or_(self.column > key, and_(self.column == key, self.row_id > row_id))

    def order_by(self) -> tuple[Any, Any]:
        """The ORDER BY clauses of this order."""
        if self.descending:
            return self.column.desc(), self.row_id.desc()
        return self.column, self.row_id


def encode_cursor(order: str, key: datetime | float, row_id: str) -> str:
    """An opaque cursor pointing after the row with this sort key and id."""
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([order, value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    order: str, cursor: str, parse: Callable[[Any], Any] = datetime.fromisoformat
) -> tuple[Any, str]:
    """The (sort key, id) a cursor of `order` points after; 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_order, key, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if cursor_order != order:
            raise ValueError(cursor_order)
        return parse(key), str(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise UnprocessableError(
            "invalid cursor", errors=[Problem("cursor", "not a cursor of this list and order")]
        ) from exc


def newest_first(created_at: Any, row_id: Any) -> Keyset:
    """The API lists' order: newest first on (created_at, id)."""
    return Keyset(NEWEST, created_at, row_id)


def paginate(query: Select[Any], keyset: Keyset, *, cursor: str | None, limit: int) -> Select[Any]:
    """Order by `keyset`, start after the cursor, and fetch one extra row to detect more."""
    if cursor:
        query = query.where(keyset.after(cursor))
    return query.order_by(*keyset.order_by()).limit(limit + 1)


def next_cursor(rows: list[Any], limit: int, keyset: Keyset | None = None) -> str | None:
    """The cursor after the last row shown when `paginate` fetched more than `limit` rows.

    Without a keyset the rows are in the API's newest-first order on (created_at, id).
    """
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    if keyset is None:
        return encode_cursor(NEWEST, last.created_at, last.id)
    return keyset.cursor_after(last)


def page_of(rows: list[Any], limit: int, to_public: Any) -> dict[str, Any]:
    """Build a page body from rows fetched by `paginate` in newest-first order."""
    return {
        "items": [to_public(r) for r in rows[:limit]],
        "next_cursor": next_cursor(rows, limit),
    }
