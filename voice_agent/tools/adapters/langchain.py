"""LangChain ↔ voice-agent tools, both directions.

A LangChain ``BaseTool`` registered with us keeps its own argument schema, and its calls go
through our validation, timeout and error handling like any other tool. Our tools exported as
``StructuredTool``s still run through our registry, so LangChain agents get the same checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from voice_agent.errors import ToolDefinitionError
from voice_agent.tools._schema import strip_titles
from voice_agent.tools._tool import DEFAULT_TIMEOUT, Tool
from voice_agent.tools._types import ToolCall, ToolError

if TYPE_CHECKING:
    from voice_agent.tools._registry import ToolRegistry

__all__ = ["from_langchain", "to_langchain"]


def _schema_of(lc_tool: BaseTool) -> dict[str, Any]:
    schema_source = lc_tool.tool_call_schema
    if isinstance(schema_source, dict):
        schema = dict(schema_source)
    else:
        try:
            to_schema = getattr(schema_source, "model_json_schema", None)
            if to_schema is None:
                raise TypeError("pydantic v1 models are not supported; use pydantic v2")
            schema = to_schema()
        except Exception as e:
            raise ToolDefinitionError(
                f"LangChain tool {lc_tool.name!r}: its args_schema has no JSON Schema: {e}"
            ) from e
    schema = strip_titles(schema)
    schema.pop("description", None)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return dict(schema)


def from_langchain(
    lc_tool: BaseTool, *, timeout: float | None = DEFAULT_TIMEOUT, confirm: bool = False
) -> Tool:
    """Wrap a LangChain tool; its ``ToolException`` text reaches the model as a tool error."""

    async def handler(**arguments: Any) -> Any:
        try:
            return await lc_tool.ainvoke(arguments)
        except ToolException as e:
            raise ToolError(str(e)) from e

    return Tool(
        name=lc_tool.name,
        description=lc_tool.description or "",
        parameters=_schema_of(lc_tool),
        handler=handler,
        timeout=timeout,
        confirm=confirm,
        source="langchain",
    )


def to_langchain(tool: Tool, registry: ToolRegistry) -> StructuredTool:
    """Export ``tool`` as a LangChain ``StructuredTool`` that runs through ``registry``.

    Failures (invalid arguments, timeouts, handler errors) become ``ToolException`` with our
    message, which LangChain agents can hand back to their model.
    """

    async def run(**arguments: Any) -> Any:
        result = await registry.execute_one(ToolCall(name=tool.name, arguments=arguments))
        if not result.ok:
            raise ToolException(result.error)
        return result.value

    def run_sync(**arguments: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run(**arguments))
        # Called synchronously from inside an event loop: run on a loop of our own elsewhere.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run(**arguments)).result()

    return StructuredTool.from_function(
        func=run_sync,
        coroutine=run,
        name=tool.name,
        description=tool.description or tool.name,
        args_schema=tool.parameters,
        handle_tool_error=False,
    )
