"""What a tool's result sounds like, said without asking the model: a declared template, or a
short status string the tool returned.

The agent's second model step (reading the results and writing one sentence) costs more than a
second on two CPU cores, for a sentence a template says as well: "The kitchen lights are on."

A tool may give a template per language (``{"en": "The {room} lights are {on}.", "zh":
"{room}的灯{on}了。"}``): the turn's language picks one (English when it has none), and booleans
read in that language (on/off, 开/关).
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from typing import Any

from voice_agent.errors import ToolDefinitionError

__all__ = ["Report", "check_report_template", "spoken_report"]

Report = str | Mapping[str, str]
"""A report template, or templates by language code (``en``, ``zh``)."""

_ON_OFF = {"en": ("on", "off"), "zh": ("开", "关")}
"""How a boolean argument or result reads, by language (others: English)."""

MAX_STATUS_WORDS = 12
"""A string result this short (one line, no markup) is a status the user can hear as it is."""


def check_report_template(tool_name: str, template: Report, parameters: Collection[str]) -> None:
    """Refuse a template that cannot be formatted, or that names a field the tool has not.

    Fields are the tool's parameters and ``result`` (``{result}``, ``{result[key]}``); each
    language's template of a mapping is checked alike.

    Raises:
        ToolDefinitionError: the template is malformed or names an unknown field, or a mapping
            is empty or keyed by something that is not a language code.
    """
    if not isinstance(template, str):
        if not template or not all(isinstance(k, str) and k.isalpha() for k in template):
            raise ToolDefinitionError(
                f"tool {tool_name!r}: report templates by language need language codes as "
                f"keys ('en', 'zh'), not {list(template)!r}"
            )
        for each in template.values():
            check_report_template(tool_name, each, parameters)
        return
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


def spoken_report(
    template: Report | None, arguments: Mapping[str, Any], value: Any, language: str = "en"
) -> str | None:
    """The sentence that reports a successful call, or None when the model must say it.

    A template (``language``'s when there is one per language, else the English or the first)
    is formatted with the call's arguments (after defaults) and ``result``; booleans read as
    on/off in the template's language. Without one, a short one-line string result is spoken
    as it is.
    """
    if template is not None:
        if isinstance(template, str):
            language = "en"  # one template: written in English (the turn says it otherwise)
        else:
            language = next((c for c in (language, "en") if c in template), next(iter(template)))
            template = template[language]
        words = _ON_OFF.get(language, _ON_OFF["en"])
        fields = {k: _spoken(v, words) for k, v in arguments.items()}
        try:
            said = template.format_map({**fields, "result": _spoken(value, words)})
        except (KeyError, IndexError, TypeError, ValueError):
            return None  # a result without the key named: the model says it instead
        return _sentence(said)
    plain = isinstance(value, str) and "\n" not in value and not any(c in value for c in "{}[]<>")
    if plain and 0 < len(value.split()) <= MAX_STATUS_WORDS:
        return _sentence(value)
    return None


def _spoken(value: Any, words: tuple[str, str]) -> Any:
    if isinstance(value, bool):
        return words[0] if value else words[1]
    if isinstance(value, Mapping):
        return {k: _spoken(v, words) for k, v in value.items()}
    return value


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] in ".!?。！？":
        return text
    return text + ("。" if "\u4e00" <= text[-1] <= "\u9fff" else ".")
