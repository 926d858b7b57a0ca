"""Structured logging for the library, configured once by the caller.

The library only calls ``structlog.get_logger(__name__)``; nothing is configured at import time.
An application (our CLI, a user's service) calls :func:`configure_logging` once and picks the
renderer. Transcripts, audio and tool arguments are logged only under ``pii_*`` keys, which are
dropped unless ``sensitive=True``, so logs can be shipped without leaking what users said.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "drop_sensitive"]


def drop_sensitive(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """Processor that removes every ``pii_*`` field from a log event."""
    for key in [k for k in event if k.startswith("pii_")]:
        del event[key]
    return event


def configure_logging(
    *,
    json: bool = False,
    level: str | int = "INFO",
    sensitive: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for the whole process.

    Args:
        json: one JSON object per line (for machines) instead of the coloured console renderer.
        level: the minimum level to emit, by name or number.
        sensitive: keep ``pii_*`` fields (transcripts, tool arguments). Off by default.
        stream: where to write; standard error by default so standard output stays clean for
            ``--json`` results.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if not sensitive:
        processors.append(drop_sensitive)
    if json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
