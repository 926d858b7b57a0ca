"""The exceptions voice-agent raises, under one root.

Exceptions are for programmer and environment faults only. A model that writes garbage, a tool
that raises or hangs, bad arguments: those are *values* (``ToolResult(ok=False)``) that go back
to the model, never exceptions that end a turn.

::

    VoiceAgentError
    ├── ConfigError             wrong settings or wiring; fix the code or the command line
    │   └── ToolDefinitionError a tool cannot be registered (bad name, invalid schema, duplicate)
    ├── BackendError            a model or remote server failed; ``retryable`` says whether to retry
    └── ModelLoadError          weights missing or corrupt; names the file and both hashes
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "ModelLoadError",
    "ToolDefinitionError",
    "VoiceAgentError",
]


class VoiceAgentError(Exception):
    """Root of every exception voice-agent raises on purpose."""


class ConfigError(VoiceAgentError):
    """The caller configured something that cannot work; the message says what to change."""


class ToolDefinitionError(ConfigError):
    """A tool was refused at registration: bad or duplicate name, invalid schema, bad spec."""


class BackendError(VoiceAgentError):
    """A model backend or remote server failed.

    Args:
        message: what failed, in words a user can act on.
        retryable: True when the same call may succeed later (timeouts, 5xx, overload).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ModelLoadError(VoiceAgentError):
    """Model weights could not be loaded: missing, truncated or with the wrong hash."""
