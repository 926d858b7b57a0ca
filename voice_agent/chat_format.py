"""The Qwen chat format (ChatML with a ``<tools>`` block), shared by every Qwen-family model.

Qwen2.5, Qwen3 and Fun-Audio-Chat all read tools as one JSON object per line inside
``<tools></tools>`` in the system message and write calls as ``<tool_call>{json}</tool_call>``.
This module is the one place that knows that text; the tool layer exports it and the model
backends prompt with it. It imports nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["IM_END", "IM_START", "chatml", "qwen_system_prompt", "qwen_tools_block"]

IM_START, IM_END = "<|im_start|>", "<|im_end|>"

_TOOLS_HEADER = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_FOOTER = (
    "</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


def qwen_tools_block(schemas: Iterable[Mapping[str, Any]]) -> str:
    """The tools section of a Qwen-family system prompt.

    Args:
        schemas: OpenAI-format function dicts (``name``, ``description``, ``parameters``).
    """
    lines = [
        json.dumps({"type": "function", "function": dict(s)}, ensure_ascii=False) for s in schemas
    ]
    return "\n".join([_TOOLS_HEADER, *lines, _TOOLS_FOOTER])


def qwen_system_prompt(system: str, schemas: Sequence[Mapping[str, Any]]) -> str:
    """A system message with the tools block appended when there are tools."""
    if not schemas:
        return system
    return f"{system}\n\n{qwen_tools_block(schemas)}" if system else qwen_tools_block(schemas)


def chatml(messages: Sequence[tuple[str, str]], *, generation_prompt: bool = True) -> str:
    """``(role, content)`` pairs as ChatML text, ending with the assistant's turn opened.

    Tool results go in as ``role="tool"`` and are wrapped the Qwen way, as a user turn holding
    ``<tool_response>`` blocks (consecutive tool results share one turn).
    """
    parts: list[str] = []
    previous = ""
    for role, content in messages:
        if role == "tool":
            block = f"<tool_response>\n{content}\n</tool_response>"
            if previous == "tool":
                parts[-1] = parts[-1].removesuffix(f"{IM_END}\n") + f"\n{block}{IM_END}\n"
            else:
                parts.append(f"{IM_START}user\n{block}{IM_END}\n")
        else:
            parts.append(f"{IM_START}{role}\n{content}{IM_END}\n")
        previous = role
    if generation_prompt:
        parts.append(f"{IM_START}assistant\n")
    return "".join(parts)
