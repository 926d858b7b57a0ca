"""JSON Schemas for tools: derived from Python signatures, normalized from foreign formats, checked.

A tool's parameters are one JSON Schema (draft 2020-12) object. For a Python function we never
map types by hand: the signature becomes a pydantic model and pydantic writes the schema, so
``Literal``, ``Enum``, ``Optional``, nested models and ``Annotated[..., Field(...)]`` constraints
all come out the way pydantic documents them.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import docstring_parser
import pydantic
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from voice_agent.errors import ToolDefinitionError

__all__ = [
    "FunctionSignature",
    "check_parameters_schema",
    "check_tool_name",
    "function_signature",
    "normalize_bfcl_schema",
    "strip_titles",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")

# BFCL function docs use Python-ish type names; these are their JSON Schema equivalents.
_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "list": "array",
               "int": "integer", "bool": "boolean", "str": "string"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionSignature:
    """What a typed Python function says about itself as a tool."""

    description: str
    """The docstring without its Args/Returns sections."""
    parameters: dict[str, Any]
    """JSON Schema of the keyword arguments."""
    model: type[pydantic.BaseModel]
    """The pydantic model built from the signature; converts validated JSON to Python values."""
    skipped: tuple[str, ...] = ()
    """Parameters left out of the schema because ``skip`` matched their type."""


def check_tool_name(name: str) -> str:
    """Refuse names a model or a provider API cannot use.

    Raises:
        ToolDefinitionError: the name is empty, too long or has characters other than letters,
            digits, ``_``, ``.`` and ``-``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolDefinitionError(
            f"invalid tool name {name!r}: use 1-128 characters from letters, digits, '_', '.' "
            "and '-', starting with a letter or '_'"
        )
    return name


def check_parameters_schema(name: str, schema: Any) -> dict[str, Any]:
    """Check that ``schema`` is a valid draft 2020-12 object schema and return it.

    Raises:
        ToolDefinitionError: naming the tool and what is wrong with its schema.
    """
    if not isinstance(schema, Mapping):
        raise ToolDefinitionError(
            f"tool {name!r}: parameters must be a JSON Schema object, got {type(schema).__name__}"
        )
    if schema.get("type", "object") != "object":
        raise ToolDefinitionError(
            f"tool {name!r}: parameters schema must have type 'object', got {schema.get('type')!r}"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        path = "/".join(str(p) for p in e.absolute_path) or "<root>"
        raise ToolDefinitionError(
            f"tool {name!r}: invalid JSON Schema at {path}: {e.message}"
        ) from e
    return dict(schema)


def normalize_bfcl_schema(schema: Any) -> Any:
    """Translate a BFCL/ACEBench parameter schema into JSON Schema.

    BFCL writes ``dict``, ``float``, ``tuple`` and ``any`` where JSON Schema says ``object``,
    ``number``, ``array`` and nothing. Only schema nodes are rewritten: a *property* called
    ``type`` is left alone.
    """
    if not isinstance(schema, Mapping):
        return schema
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        if kind == "any":
            del out["type"]
        else:
            out["type"] = _BFCL_TYPES.get(kind, kind)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {k: normalize_bfcl_schema(v) for k, v in out["properties"].items()}
    items = out.get("items")
    if isinstance(items, list):
        out["items"] = [normalize_bfcl_schema(s) for s in items]
    elif isinstance(items, Mapping):
        out["items"] = normalize_bfcl_schema(items)
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = normalize_bfcl_schema(out["additionalProperties"])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = [normalize_bfcl_schema(s) for s in out[key]]
    return out


def strip_titles(node: Any) -> Any:
    """Drop pydantic's generated ``title`` keywords: noise in a prompt, no meaning to a model."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("default", "enum", "const", "examples"):
                out[key] = value
            elif key in ("properties", "$defs") and isinstance(value, dict):
                out[key] = {k: strip_titles(v) for k, v in value.items()}
            else:
                out[key] = strip_titles(value)
        return out
    if isinstance(node, list):
        return [strip_titles(v) for v in node]
    return node


def function_signature(
    fn: Callable[..., Any], *, skip: Callable[[Any], bool] | None = None
) -> FunctionSignature:
    """Build the description and parameter schema of a typed function.

    Args:
        fn: a sync or async function with type hints on every parameter.
        skip: returns True for annotation types that are injected by the framework (context
            parameters) and so are not part of the schema.

    Raises:
        ToolDefinitionError: a parameter has no type hint, is ``*args``/``**kwargs``, or its
            type has no JSON Schema.
    """
    name = getattr(fn, "__name__", repr(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:
        raise ToolDefinitionError(f"tool {name!r}: cannot resolve type hints: {e}") from e
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    param_docs = {p.arg_name: (p.description or "").strip() for p in doc.params}
    fields: dict[str, Any] = {}
    skipped: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"tool {name!r}: *{param.name} cannot be described to a model; "
                "name every parameter"
            )
        if param.name not in hints:
            raise ToolDefinitionError(
                f"tool {name!r}: parameter {param.name!r} has no type hint; add one "
                "(e.g. `str`, `int`, `Literal[...]`)"
            )
        annotation = hints[param.name]
        if skip is not None and skip(annotation):
            skipped.append(param.name)
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        field = pydantic.Field(default, description=param_docs.get(param.name) or None)
        fields[param.name] = (annotation, field)
    try:
        model = pydantic.create_model(f"{name}_arguments", **fields)
        schema = model.model_json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as e:
        raise ToolDefinitionError(f"tool {name!r}: no JSON Schema for its parameters: {e}") from e
    schema = strip_titles(schema)
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    description = "\n\n".join(
        part.strip() for part in (doc.short_description, doc.long_description) if part
    )
    return FunctionSignature(
        description=description, parameters=schema, model=model, skipped=tuple(skipped)
    )
