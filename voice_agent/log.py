"""Structured logging for the library, configured once by the caller.

Library modules log through :func:`get_logger`; nothing is configured at import time. An
application (our CLI, a user's service) calls :func:`configure_logging` (or configures structlog
itself) once and picks the renderer. Until then the library stays quiet: warnings and errors go
to the standard ``logging`` module without their ``pii_*`` fields, and nothing is printed to
standard output, so an unconfigured program neither leaks user data nor gets its output mixed.

Transcripts, audio and tool arguments are logged only under ``pii_*`` keys, which are dropped
unless ``sensitive=True``, so logs can be shipped without leaking what users said.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["LibraryLogger", "configure_logging", "drop_sensitive", "get_logger"]


def drop_sensitive(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """Processor that removes every ``pii_*`` field from a log event."""
    for key in [k for k in event if k.startswith("pii_")]:
        del event[key]
    return event


class LibraryLogger:
    """A structlog logger when structlog is configured; a quiet stdlib fallback otherwise."""

    __slots__ = ("_name", "_proxy")

    def __init__(self, name: str) -> None:
        self._name = name
        self._proxy = structlog.get_logger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool) -> None:
        if structlog.is_configured():
            method = logging.getLevelName(level).lower()
            getattr(self._proxy, "exception" if exc_info else method)(event, **fields)
        elif level >= logging.WARNING:
            public = {k: v for k, v in fields.items() if not k.startswith("pii_")}
            logging.getLogger(self._name).log(level, "%s %s", event, public, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        """Detail for developers."""
        self._log(logging.DEBUG, event, fields, False)

    def info(self, event: str, **fields: Any) -> None:
        """Something happened as expected."""
        self._log(logging.INFO, event, fields, False)

    def warning(self, event: str, **fields: Any) -> None:
        """Something went wrong and was handled."""
        self._log(logging.WARNING, event, fields, False)

    def error(self, event: str, **fields: Any) -> None:
        """Something failed."""
        self._log(logging.ERROR, event, fields, False)

    def exception(self, event: str, **fields: Any) -> None:
        """Something failed; logs the current exception's traceback."""
        self._log(logging.ERROR, event, fields, True)


def get_logger(name: str) -> LibraryLogger:
    """The logger for a library module: ``log = get_logger(__name__)``."""
    return LibraryLogger(name)


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
