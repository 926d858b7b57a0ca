"""Model outputs → BFCL's decoded form ``[{name: {param: value}}]``, as the official runner does.

Two formats, as in BFCL result files:

- ``fc``: function-calling models; ``result`` is a list of ``{name: "<json arguments>"}``.
- ``prompt``: prompt-mode models; ``result`` is text holding Python calls, ``[f(a=1)]``, read
  with the tool layer's parser in its ``bfcl`` dialect (never ``eval``).

Raw text from our own models (``<tool_call>`` blocks, fenced JSON) goes through the tool layer's
ordinary parser first: :func:`calls_to_decoded` turns its ``ToolCall``s into this form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from voice_agent.tools import ToolCall, parse_python_calls

__all__ = [
    "DecodeError",
    "ResultFormat",
    "calls_to_decoded",
    "decode_result",
    "is_empty_output",
    "is_function_call_format",
]

ResultFormat = Literal["auto", "fc", "prompt"]


class DecodeError(ValueError):
    """The output could not be decoded; BFCL counts this as ``ast_decoder:decoder_failed``."""


def calls_to_decoded(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Our parsed calls in BFCL's decoded form."""
    return [{call.name: dict(call.arguments)} for call in calls]


def _decode_prompt(text: str) -> list[dict[str, Any]]:
    # The official prompt decoder: strip backticks, newlines and spaces, make sure the text is
    # bracketed, strip whitespace and single quotes, then read the calls.
    text = text.strip("`\n ")
    if not text.startswith("["):
        text = "[" + text
    if not text.endswith("]"):
        text = text + "]"
    try:
        return calls_to_decoded(parse_python_calls(text.strip().strip("'"), dialect="bfcl"))
    except ValueError as e:
        raise DecodeError(str(e)) from None


def _decode_fc(result: Sequence[Any]) -> list[dict[str, Any]]:
    decoded = []
    for item in result:
        if not isinstance(item, dict) or not item:
            raise DecodeError(f"expected {{name: arguments}} objects, got {item!r:.80}")
        name = next(iter(item))
        arguments = item[name]
        if not isinstance(arguments, str | bytes | bytearray):
            raise DecodeError(f"arguments of {name!r} must be a JSON string")
        try:
            decoded.append({name: json.loads(arguments)})
        except ValueError as e:
            raise DecodeError(f"arguments of {name!r} are not JSON: {e}") from None
    return decoded


def decode_result(result: Any, fmt: ResultFormat = "auto") -> list[dict[str, Any]]:
    """Decode one ``result`` field of a BFCL result file.

    Args:
        result: a list (FC) or a string (prompt mode).
        fmt: ``fc`` or ``prompt`` to decode as the official handler of that kind of model does;
            ``auto`` picks ``fc`` for a list and ``prompt`` for a string. (An FC model that
            answered in words has a string result: score such files with ``fc`` to fail those
            entries exactly as the official FC handlers do.)

    Raises:
        DecodeError: the official decoder would have failed too.
    """
    if fmt == "auto":
        fmt = "prompt" if isinstance(result, str) else "fc"
    if fmt == "prompt":
        if not isinstance(result, str):
            raise DecodeError(f"prompt-mode result must be text, got {type(result).__name__}")
        return _decode_prompt(result)
    if isinstance(result, str | bytes) or not isinstance(result, Sequence):
        raise DecodeError(f"FC result must be a list of calls, got {type(result).__name__}")
    return _decode_fc(result)


def is_function_call_format(decoded: Any) -> bool:
    """``[{name: {params}}, ...]`` with exactly one key per call (``[]`` included)."""
    return isinstance(decoded, list) and all(
        type(item) is dict and len(item) == 1 and type(next(iter(item.values()))) is dict
        for item in decoded
    )


def is_empty_output(decoded: Any) -> bool:
    """No call at all, for (ir)relevance: ``[]``, ``[{}]`` or anything not in call format."""
    if not is_function_call_format(decoded):
        return True
    return len(decoded) == 0 or (len(decoded) == 1 and len(decoded[0]) == 0)
