"""What a tool's result sounds like, said without asking the model: a declared template, or a
short status string the tool returned.

The agent's second model step (reading the results and writing one sentence) costs more than a
second on two CPU cores, for a sentence a template says as well: "The kitchen lights are on."
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from typing import Any

from voice_agent.errors import ToolDefinitionError

__all__ = ["check_report_template", "spoken_report"]

MAX_STATUS_WORDS = 12
"""A string result this short (one line, no markup) is a status the user can hear as it is."""


def check_report_template(tool_name: str, template: str, parameters: Collection[str]) -> None:
    """Refuse a template that cannot be formatted, or that names a field the tool has not.

    Fields are the tool's parameters and ``result`` (``{result}``, ``{result[key]}``).

    Raises:
        ToolDefinitionError: the template is malformed or names an unknown field.
    """
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        message = f"tool {tool_name!r}: report template {template!r}: {e}"
        raise ToolDefinitionError(message) from None
    allowed = {*parameters, "result"}
    for name in fields:
        root = name.split("[", 1)[0].split(".", 1)[0]
        if root not in allowed:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: report template names {{{name}}}, which is neither a "
                f"parameter ({', '.join(sorted(parameters)) or 'none'}) nor 'result'"
            )
        if "." in name:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: report template field {{{name}}}: use result[key], "
                "not attribute access"
            )


def spoken_report(template: str | None, arguments: Mapping[str, Any], value: Any) -> str | None:
    """The sentence that reports a successful call, or None when the model must say it.

    A template is formatted with the call's arguments (after defaults) and ``result``; booleans
    read as "on"/"off". Without one, a short one-line string result is spoken as it is.
    """
    if template is not None:
        fields = {k: _spoken(v) for k, v in arguments.items()}
        try:
            return _sentence(template.format_map({**fields, "result": _spoken(value)}))
        except (KeyError, IndexError, TypeError, ValueError):
            return None  # a result without the key named: the model says it instead
    plain = isinstance(value, str) and "\n" not in value and not any(c in value for c in "{}[]<>")
    if plain and 0 < len(value.split()) <= MAX_STATUS_WORDS:
        return _sentence(value)
    return None


def _spoken(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Mapping):
        return {k: _spoken(v) for k, v in value.items()}
    return value


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."
