"""Values that flow through the tool layer: calls in, results out."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ArgumentProblem",
    "ParseResult",
    "ResultKind",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "format_path",
    "new_call_id",
]

ResultKind = Literal[
    "ok",
    "invalid_arguments",
    "unknown_tool",
    "needs_confirmation",
    "refused",
    "timeout",
    "cancelled",
    "tool_error",
    "unserializable",
]
"""Why a call ended the way it did; ``ok`` is the only success."""


def new_call_id() -> str:
    """A short unique id for a call, in the style of OpenAI's ``call_…`` ids."""
    return f"call_{os.urandom(8).hex()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One call the model asked for: which tool, with what arguments.

    ``arguments`` is whatever the model wrote, decoded from JSON or Python literal syntax; it has
    not been validated yet (the registry validates before running).
    """

    name: str
    """The tool name as the model wrote it."""
    arguments: dict[str, Any] = field(default_factory=dict)
    """Decoded keyword arguments."""
    id: str = field(default_factory=new_call_id)
    """Call id, kept from the model output when it had one (OpenAI format)."""


def format_path(path: Iterable[str | int]) -> str:
    """A parameter path as the model reads it: ``arguments.items[0].name``."""
    return "arguments" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgumentProblem:
    """One thing wrong with a call's arguments, kept as data (which parameter, what it should
    be, what it was) until a person or the model reads it: the clarification policy asks about
    ``path`` from the schema, the model gets ``str(problem)``."""

    path: tuple[str | int, ...]
    """Where in the arguments: ``("minutes",)``, ``("items", 0, "name")``."""
    expected: str
    """What the schema wants there, in words: ``integer``, ``one of ['on', 'off']``,
    ``present`` (a missing required value), ``what the user said`` (a copied example)."""
    got: Any = None
    """The value found (None when missing)."""
    missing: bool = False
    """A required value was not given at all."""
    message: str
    """The validator's words, for the model."""

    @property
    def parameter(self) -> str | None:
        """The top-level parameter the problem is in, or None for the arguments as a whole."""
        return str(self.path[0]) if self.path else None

    def __str__(self) -> str:
        # as the validator says it: a missing value at the object that lacks it
        return f"{format_path(self.path[:-1] if self.missing else self.path)}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    """What came of a call; failures are values the model can read and act on."""

    call_id: str
    """The ``ToolCall.id`` this answers."""
    name: str
    """The tool that was (or would have been) called."""
    ok: bool
    """True only when the handler ran and returned a JSON-serializable value."""
    value: Any = None
    """The handler's return value when ``ok``."""
    error: str | None = None
    """Text for the model when not ``ok``: what went wrong and what it can do about it."""
    kind: ResultKind = "ok"
    """Machine-readable reason, e.g. ``timeout`` or ``invalid_arguments``."""
    duration_ms: float = 0.0
    """Wall time spent on validation and execution."""
    problems: tuple[ArgumentProblem, ...] = ()
    """What was wrong with the arguments, as data, when ``kind`` is ``invalid_arguments``."""

    def to_message(self) -> str:
        """The text to send back to the model as the tool's answer."""
        import json

        if self.ok:
            return self.value if isinstance(self.value, str) else json.dumps(self.value)
        return json.dumps({"error": self.error, "kind": self.kind})


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseResult:
    """Everything a parser found in one model output.

    A parser never raises on model output: what it could not decode ends up in ``problems``.
    """

    calls: list[ToolCall]
    """The calls found, in order."""
    text: str
    """What is left to speak once tool-call markup is removed."""
    problems: list[str]
    """Human-readable reasons for any markup that looked like a call but did not decode."""

    @property
    def decoded(self) -> bool:
        """True when no tool-call markup failed to decode."""
        return not self.problems


class ToolError(Exception):
    """Raised by a tool handler to choose the exact text the model sees.

    Any other exception gives the model a generic message and the log the traceback, so that
    internals (paths, credentials in URLs) do not leak into the conversation.
    """
