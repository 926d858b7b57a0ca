"""The grammar every local backend decodes under: a reply is either tool calls whose arguments
match a tool's JSON Schema, or plain words. It is written twice, once per engine, from the same
pieces (:func:`call_schema` for one call, :data:`WORDS_PATTERN` for words): in GBNF for
llama.cpp (:func:`tool_call_grammar`, the call schemas through llama.cpp's own JSON-Schema
converter, bare JSON calls as the small GGUF models write them) and in llguidance's Lark dialect
for the transformers backends (:func:`tool_call_lark`, hand-written, ``<tool_call>`` blocks, the
call schemas checked by llguidance's JSON-Schema engine). A change to what a reply may be is
made in both."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["WORDS_PATTERN", "call_schema", "tool_call_grammar", "tool_call_lark"]

_ANY_JSON = ["string", "number", "integer", "boolean", "array", "object", "null"]
_SHAPE_KEYS = {
    "type",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "properties",
    "items",
    "pattern",
    "format",
    "additionalProperties",
    "prefixItems",
}


_CLASS_ESCAPE = re.compile(r"\\[dDwWsSbB]")


def _gbnf_pattern(pattern: str) -> str | None:
    """``pattern`` as llama.cpp's converter can write it, or None to leave it out.

    The converter copies regex escapes such as ``\\d`` into the GBNF as they are; llama.cpp's
    grammar parser rejects them, and a rejected grammar crashes the process at the first token
    (seen on ACEBench's Chinese data: a ``HH:MM`` time pattern). ``\\d`` becomes ``[0-9]``
    (``0-9`` inside a class); a pattern with another class escape is left out of the grammar,
    which then allows any string there: the tool layer still checks the value against the
    schema before a handler runs.
    """
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == "\\d":
                out.append("0-9" if in_class else "[0-9]")
            elif _CLASS_ESCAPE.fullmatch(pair):
                return None
            else:
                out.append(pair)
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _grammar_schema(schema: Any) -> Any:
    """A schema llama.cpp's converter accepts: an untyped node (``{"description": …}``, as
    BFCL's ``any`` becomes) means any JSON value, which the converter needs spelled out; a
    ``pattern`` is rewritten or left out (:func:`_gbnf_pattern`)."""
    if not isinstance(schema, Mapping):
        return schema
    out = {k: v for k, v in schema.items() if k not in ("description", "title", "examples")}
    if isinstance(out.get("pattern"), str):
        pattern = _gbnf_pattern(out["pattern"])
        if pattern is None:
            del out["pattern"]
            out.setdefault("type", "string")
        else:
            out["pattern"] = pattern
    if not (set(out) & _SHAPE_KEYS):
        out["type"] = _ANY_JSON
    for key in ("properties", "$defs", "definitions"):
        if isinstance(out.get(key), Mapping):
            out[key] = {k: _grammar_schema(v) for k, v in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), Mapping):
            out[key] = _grammar_schema(out[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_grammar_schema(v) for v in out[key]]
    return out


def tool_call_grammar(tools: Sequence[Mapping[str, Any]], choice: str = "auto") -> str:
    """GBNF (llama.cpp) for a reply that is either tool calls matching ``tools``, written as
    bare JSON objects (what the small Qwen2.5-Coder GGUFs write; see
    ``voice_agent.models.llm.llama``), or plain words.

    Args:
        tools: OpenAI-format function dicts.
        choice: ``auto`` (calls or words), ``none`` (words only), ``required`` (calls only).
    """
    from llama_cpp.llama_grammar import SchemaConverter

    converter = SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    alternatives = []
    for index, tool in enumerate(tools):
        schema = call_schema(
            {"name": tool["name"], "parameters": _grammar_schema(tool.get("parameters") or {})}
        )
        schema = converter.resolve_refs(schema, f"tool{index}")
        alternatives.append(converter.visit(schema, f"call{index}"))  # type: ignore[no-untyped-call]
    rules = [
        "root ::= calls | words",
        "words ::= [^<`{}\\[\\] \\t\\n] [^<`{}]*",
    ]
    if choice == "none" or not alternatives:
        rules[0] = "root ::= words"
        return "\n".join(rules) + "\n"
    if choice == "required":
        rules[0] = "root ::= calls"
    rules += [
        'calls ::= call ("\\n" call)* | "[" call ("," space call)* "]"',
        "call ::= " + " | ".join(alternatives),
    ]
    schema_rules: str = converter.format_grammar()  # type: ignore[no-untyped-call]
    return "\n".join(rules) + "\n" + schema_rules


WORDS_PATTERN = r"[^<`{}\[\] \t\n][^<`{}]*"
"""Plain words: no markup, no code fences, not starting with a bracket (both grammars)."""


def call_schema(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one call to ``tool``: ``{"name": <its name>, "arguments": {…}}``."""
    parameters = dict(tool.get("parameters") or {"type": "object"})
    parameters["type"] = "object"
    return {
        "type": "object",
        "properties": {"name": {"const": tool["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def tool_call_lark(
    tools: Sequence[Mapping[str, Any]],
    choice: str = "auto",
    *,
    open_tag: str = '"<tool_call>"',
    close_tag: str = '"</tool_call>"',
) -> str:
    """The same grammar for llguidance (transformers backends), in its Lark dialect: calls in
    ``<tool_call>`` blocks or plain words. Arguments are checked by llguidance's own JSON-Schema
    engine, which also enforces what the GBNF converter cannot (number bounds, string lengths).

    Args:
        open_tag, close_tag: how the tags are matched; ``<[ID]>`` matches the model's single
            token (what Qwen-family models emit), a quoted string matches the text.
    """
    words = f"WORDS: /{WORDS_PATTERN}/"
    if choice == "none" or not tools:
        return f"start: WORDS\n{words}\n"
    schema = {
        "anyOf": [call_schema(t) for t in tools],
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "},
    }
    start = "start: calls" if choice == "required" else "start: calls | WORDS"
    return "\n".join(
        [
            start,
            'calls: block ("\\n" block)*',
            f'block: {open_tag} "\\n" call "\\n" {close_tag}',
            f"call: %json {json.dumps(schema)}",
            words,
            "",
        ]
    )
