"""Registering every kind of tool, refusing bad ones, exporting to other formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.tools import StructuredTool, ToolException
from langchain_core.tools import tool as lc_tool

from voice_agent import ConfigError, ToolCall, ToolDefinitionError, ToolRegistry, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_register_plain_function_raw_schema_and_openai_dict() -> None:
    def multiply(x: float, y: float = 2.0) -> float:
        """Multiply two numbers."""
        return x * y

    registry = ToolRegistry()
    registry.register(multiply)
    registry.register(
        {
            "name": "echo",
            "description": "Echo text.",
            "parameters": {
                "type": "object",
                "properties": {"t": {"type": "string"}},
                "required": ["t"],
            },
        },
        handler=lambda t: t,
    )
    registry.register(
        {
            "type": "function",
            "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
        },
        handler=lambda: "pong",
    )
    assert registry.names == ["multiply", "echo", "ping"]
    assert registry.get("multiply").schema["parameters"]["required"] == ["x"]  # type: ignore[union-attr]


async def test_schema_without_handler_validates_but_answers_with_error() -> None:
    registry = ToolRegistry()
    registry.register({"name": "f", "parameters": {"type": "object", "properties": {}}})
    [result] = await registry.execute([ToolCall(name="f")])
    assert result.kind == "tool_error" and "without a handler" in result.error


def test_duplicates_and_non_tools_are_refused() -> None:
    registry = ToolRegistry([add])
    with pytest.raises(ToolDefinitionError, match="already registered"):
        registry.register(add)
    registry.register(add, name="add2")
    with pytest.raises(ToolDefinitionError, match="cannot make a tool from int"):
        registry.register(42)
    with pytest.raises(ToolDefinitionError, match="needs a 'name'"):
        registry.register({"parameters": {}})


def test_every_real_bfcl_function_doc_registers_as_valid_json_schema(bfcl_dir: Path) -> None:
    count = 0
    for path in sorted(bfcl_dir.glob("BFCL_v4_*.json")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            registry = ToolRegistry()
            for doc in entry.get("function", []):
                registered = registry.register(doc)
                count += 1
                text = json.dumps(registered.parameters)
                assert '"dict"' not in text.replace('"dict",', "") or "properties" in text
                assert registered.parameters["type"] == "object"
    assert count > 4000


def test_bfcl_types_are_normalized() -> None:
    registry = ToolRegistry()
    t = registry.register(
        {
            "name": "math.hypot",
            "parameters": {
                "type": "dict",
                "properties": {
                    "x": {"type": "float"},
                    "pts": {"type": "array", "items": {"type": "tuple"}},
                    "any": {"type": "any"},
                    "type": {"type": "string"},
                },
                "required": ["x"],
            },
        }
    )
    props = t.parameters["properties"]
    assert t.parameters["type"] == "object"
    assert props["x"]["type"] == "number" and props["pts"]["items"]["type"] == "array"
    assert "type" not in props["any"] and props["type"] == {"type": "string"}


def test_exports_openai_and_qwen_block() -> None:
    registry = ToolRegistry([add])
    assert registry.openai_tools() == [{"type": "function", "function": add.schema}]
    block = registry.qwen_tools_block()
    lines = block.splitlines()
    start = lines.index("<tools>")
    assert json.loads(lines[start + 1]) == {"type": "function", "function": add.schema}
    assert lines[start + 2] == "</tools>"
    assert "<tool_call></tool_call>" in block


async def test_langchain_tool_in_and_our_tool_out() -> None:
    @lc_tool
    def shout(text: str, times: int = 1) -> str:
        """Repeat text in capitals."""
        if text == "bad":
            raise ToolException("no bad words")
        return " ".join([text.upper()] * times)

    registry = ToolRegistry([shout, add])
    ours = registry.get("shout")
    assert ours is not None and ours.source == "langchain"
    assert ours.parameters["required"] == ["text"] and "title" not in ours.parameters
    ok, invalid, raised = await registry.execute(
        [
            ToolCall(name="shout", arguments={"text": "hi", "times": 2}),
            ToolCall(name="shout", arguments={"times": "x"}),
            ToolCall(name="shout", arguments={"text": "bad"}),
        ]
    )
    assert ok.value == "HI HI"
    assert invalid.kind == "invalid_arguments"
    assert raised.kind == "tool_error" and raised.error == "no bad words"

    exported = {t.name: t for t in registry.to_langchain()}
    assert isinstance(exported["add"], StructuredTool)
    assert await exported["add"].ainvoke({"a": 2, "b": 5}) == 7
    assert exported["add"].invoke({"a": 1, "b": 1}) == 2
    with pytest.raises(ToolException, match='is not of type "integer"'):
        await exported["add"].ainvoke({"a": "x", "b": 1})


def test_register_path_python_file_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "my_tools.py"
    good.write_text(
        "from voice_agent import tool\n"
        "from langchain_core.tools import tool as lc\n"
        "@tool\ndef a(x: int) -> int:\n    '''A.'''\n    return x\n"
        "@lc\ndef b(y: str) -> str:\n    '''B.'''\n    return y\n"
        "helper = 3\n"
    )
    registry = ToolRegistry()
    assert [t.name for t in registry.register_path(good)] == ["a", "b"]

    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(ConfigError, match=r"broken.py failed to import: ModuleNotFoundError"):
        ToolRegistry().register_path(broken)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="defines no tools"):
        ToolRegistry().register_path(empty)
    with pytest.raises(ConfigError, match="no such tools file"):
        ToolRegistry().register_path(tmp_path / "missing.py")
