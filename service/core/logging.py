"""Logging shared by the API and workers: JSON lines carrying the request's context.

Every record is one JSON object with time, level, process, logger and message, plus the
request id, project and inference id of the request or job being served (`log_context`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "mesascope_log_context", default=()
)


def current_context() -> dict[str, str]:
    """The context fields (request id, project, inference id) set for the code running now."""
    return dict(_context.get())


def _merged(fields: dict[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple({**current_context(), **{k: v for k, v in fields.items() if v}}.items())


def bind_context(**fields: str | None) -> None:
    """Add fields to the current context (until the enclosing `log_context` ends)."""
    _context.set(_merged(fields))


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Fields every log record inside the block carries (request id, project, inference id)."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `extra={...}` fields and the context fields are included."""

    RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current_context())
        line.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str | None = None) -> None:
    """JSON lines on stderr for the whole process (uvicorn's loggers included)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("MESASCOPE_LOG_LEVEL", "INFO")).upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
