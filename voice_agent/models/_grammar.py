"""The grammar every local backend decodes under: a reply is either tool calls whose arguments
match a tool's JSON Schema, or plain words. Written once in GBNF; llama.cpp reads it directly,
transformers backends through llguidance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["tool_call_grammar"]

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


def _grammar_schema(schema: Any) -> Any:
    """A schema llama.cpp's converter accepts: an untyped node (``{"description": …}``, as
    BFCL's ``any`` becomes) means any JSON value, which the converter needs spelled out."""
    if not isinstance(schema, Mapping):
        return schema
    out = {k: v for k, v in schema.items() if k not in ("description", "title", "examples")}
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


def tool_call_grammar(
    tools: Sequence[Mapping[str, Any]], choice: str = "auto", *, tagged: bool = False
) -> str:
    """GBNF for a reply that is either tool calls matching ``tools`` or plain words.

    Args:
        tools: OpenAI-format function dicts.
        choice: ``auto`` (calls or words), ``none`` (words only), ``required`` (calls only).
        tagged: calls wrapped in ``<tool_call>`` blocks (what models trained on Qwen's tool
            template, like Fun-Audio-Chat, write) instead of bare JSON objects (what the small
            Qwen2.5-Coder GGUFs write; see ``voice_agent.models.llm.llama``).
    """
    from llama_cpp.llama_grammar import SchemaConverter

    converter = SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={"name": 0, "arguments": 1}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    alternatives = []
    for index, tool in enumerate(tools):
        parameters = dict(_grammar_schema(tool.get("parameters") or {"type": "object"}))
        parameters["type"] = "object"
        schema = {
            "type": "object",
            "properties": {"name": {"const": tool["name"]}, "arguments": parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
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
    calls = 'calls ::= call ("\\n" call)* | "[" call ("," space call)* "]"'
    if tagged:
        calls = 'calls ::= block ("\\n" block)*\nblock ::= "<tool_call>\\n" call "\\n</tool_call>"'
    rules += [
        calls,
        "call ::= " + " | ".join(alternatives),
    ]
    schema_rules: str = converter.format_grammar()  # type: ignore[no-untyped-call]
    return "\n".join(rules) + "\n" + schema_rules
