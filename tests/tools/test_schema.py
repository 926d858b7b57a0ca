"""Tools from typed functions: the schema pydantic derives, descriptions, refusals."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from voice_agent import ToolDefinitionError, tool
from voice_agent.tools import Tool, ToolContext


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip_code: Annotated[str, Field(pattern=r"^\d{5}$")]


def test_types_defaults_and_descriptions() -> None:
    @tool
    def book(
        city: str,
        nights: Annotated[int, Field(ge=1, le=30)],
        budget: float,
        breakfast: bool = False,
        room: Literal["single", "double"] = "double",
        color: Color | None = None,
        guests: list[str] | None = None,
        extras: dict[str, int] | None = None,
        address: Address | None = None,
    ) -> str:
        """Book a hotel room.

        Use it only when the user names a city.

        Args:
            city: City to stay in.
            nights: Number of nights.
            budget: Maximum price per night in euros.
        """
        return city

    schema = book.schema
    assert schema["name"] == "book"
    assert schema["description"] == "Book a hotel room.\n\nUse it only when the user names a city."
    params = schema["parameters"]
    props = params["properties"]
    assert params["required"] == ["city", "nights", "budget"]
    assert params["additionalProperties"] is False
    assert props["city"] == {"type": "string", "description": "City to stay in."}
    assert props["nights"]["minimum"] == 1 and props["nights"]["maximum"] == 30
    assert props["budget"]["type"] == "number"
    assert props["breakfast"] == {"type": "boolean", "default": False}
    assert props["room"]["enum"] == ["single", "double"]
    assert params["$defs"]["Color"]["enum"] == ["red", "green"]
    assert params["$defs"]["Address"]["properties"]["zip_code"]["pattern"] == r"^\d{5}$"
    assert {"type": "array", "items": {"type": "string"}} in props["guests"]["anyOf"]
    assert "title" not in props["city"]


def test_options_override_name_description_timeout_confirm() -> None:
    @tool(name="lock", description="Lock a door.", timeout=2.5, confirm=True)
    def f(door: str) -> str:
        return door

    assert (f.name, f.description, f.timeout, f.confirm) == ("lock", "Lock a door.", 2.5, True)
    assert f("front") == "front", "the tool stays callable like the function"


async def test_async_function_and_context_parameter_not_in_schema() -> None:
    @tool
    async def whoami(ctx: ToolContext, greeting: str = "hi") -> str:
        """Say who is calling."""
        return f"{greeting} {ctx.tool_name} {ctx.call_id}"

    assert whoami.is_async
    assert whoami.context_params == ("ctx",)
    assert "ctx" not in whoami.parameters["properties"]


def test_missing_hint_varargs_and_bad_names_are_refused() -> None:
    def no_hint(x):  # type: ignore[no-untyped-def]
        return x

    def varargs(*items: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError, match="'x' has no type hint"):
        tool(no_hint)
    with pytest.raises(ToolDefinitionError, match=r"\*items"):
        tool(varargs)
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(name="has space")(lambda: None)
    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        Tool.from_schema("", {"type": "object"}, print)


class Opaque:
    pass


def test_unschematizable_type_is_refused() -> None:
    def f(x: Opaque) -> None:
        return None

    with pytest.raises(ToolDefinitionError, match="no JSON Schema"):
        tool(f)


def test_invalid_raw_schema_is_refused_with_path() -> None:
    with pytest.raises(ToolDefinitionError, match="invalid JSON Schema at properties/n"):
        Tool.from_schema("f", {"type": "object", "properties": {"n": {"type": "integr"}}}, print)
    with pytest.raises(ToolDefinitionError, match="type 'object'"):
        Tool.from_schema("f", {"type": "array"}, print)
