"""Logging set-up shared by the API and workers."""

from __future__ import annotations

import logging
import os


def configure_logging(level: str | None = None) -> None:
    """One line per record, with time, process and logger name."""
    logging.basicConfig(
        level=(level or os.environ.get("MESASCOPE_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )
