"""SQL for stored idempotent responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.core.models import IdempotencyRecord


def get(session: Session, api_key_id: str, key: str, now: datetime) -> IdempotencyRecord | None:
    """The unexpired record of this API key's Idempotency-Key."""
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at > now,
        )
    ).first()


def add(session: Session, now: datetime, **fields: Any) -> bool:
    """Store a record (dropping this API key's expired ones first); False when another request
    with the same key stored one first (the savepoint keeps the transaction usable)."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == fields["api_key_id"],
            IdempotencyRecord.expires_at <= now,
        )
    )
    try:
        with session.begin_nested():
            session.add(IdempotencyRecord(created_at=now, **fields))
    except IntegrityError:
        return False
    return True
