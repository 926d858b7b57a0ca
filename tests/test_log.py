"""Logging setup: JSON lines, and no transcripts or arguments unless asked for."""

from __future__ import annotations

import io
import json

import structlog

from voice_agent import configure_logging


def test_json_logs_drop_sensitive_fields_by_default() -> None:
    stream = io.StringIO()
    try:
        configure_logging(json=True, level="INFO", stream=stream)
        structlog.get_logger("t").info("tool.call_started", tool="f", pii_arguments={"pin": 1})
        configure_logging(json=True, level="INFO", stream=stream, sensitive=True)
        structlog.get_logger("t").info("tool.call_started", tool="f", pii_arguments={"pin": 1})
        structlog.get_logger("t").debug("hidden")
    finally:
        structlog.reset_defaults()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "tool.call_started" and "pii_arguments" not in first
    assert second["pii_arguments"] == {"pin": 1}
