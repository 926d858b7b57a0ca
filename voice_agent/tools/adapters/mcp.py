"""MCP servers as tool sources, through the official ``mcp`` SDK (stdio or streamable HTTP).

The SDK's client is an async context that must be entered and left by the same task. A registry
outlives any one task, so :class:`MCPServer` runs the connection in an owner task of its own and
the registry's calls use the connected client from wherever they run.

A tool the server marks ``destructiveHint`` needs the user's confirmation, like ``confirm=True``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import mcp
import mcp_types

from voice_agent.errors import BackendError
from voice_agent.log import get_logger
from voice_agent.tools._schema import strip_titles
from voice_agent.tools._tool import DEFAULT_TIMEOUT, Tool
from voice_agent.tools._types import ToolError

__all__ = ["MCPServer"]

log = get_logger(__name__)


class MCPServer:
    """A connection to one MCP server, used with ``await registry.register_mcp(server)``.

    Args:
        target: ``mcp.StdioServerParameters`` or a streamable-HTTP URL; prefer :meth:`stdio`
            and :meth:`http`.
        prefix: prepended to every tool name (to keep two servers' names apart).
        timeout: seconds each tool call may take.
        connect_timeout: seconds to start the server and finish the handshake.
        confirm: names (without prefix) of tools that need confirmation in any case.
    """

    def __init__(
        self,
        target: mcp.StdioServerParameters | str,
        *,
        prefix: str = "",
        timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float = 30.0,
        confirm: Iterable[str] = (),
    ) -> None:
        self.target, self.prefix = target, prefix
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.confirm = frozenset(confirm)
        self._client: mcp.Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Iterable[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server started as a subprocess, spoken to over its stdin/stdout."""
        params = mcp.StdioServerParameters(
            command=command, args=list(args), env={**os.environ, **(env or {})}, cwd=cwd
        )
        return cls(params, **options)

    @classmethod
    def http(cls, url: str, **options: Any) -> MCPServer:
        """A server reached over streamable HTTP at ``url`` (e.g. ``http://127.0.0.1:8000/mcp``)."""
        return cls(url, **options)

    def __repr__(self) -> str:
        where = self.target if isinstance(self.target, str) else self.target.command
        return f"MCPServer({where!r})"

    async def __aenter__(self) -> MCPServer:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(ready), name=f"mcp-owner {self!r}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                await asyncio.shield(ready)
        except TimeoutError:
            await self.__aexit__()
            raise BackendError(
                f"{self!r} did not connect within {self.connect_timeout} s", retryable=True
            ) from None
        return self

    async def _own(self, ready: asyncio.Future[None]) -> None:
        try:
            async with mcp.Client(self.target) as client:
                self._client = client
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as e:  # report to the waiting __aenter__, then end quietly
            if not ready.done():
                ready.set_exception(
                    BackendError(
                        f"cannot connect to {self!r}: {type(e).__name__}: {e}", retryable=False
                    )
                )
            elif not isinstance(e, asyncio.CancelledError):
                log.warning("mcp.connection_lost", server=repr(self), error=repr(e))
        finally:
            self._client = None

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._owner is not None:
            try:
                async with asyncio.timeout(10):
                    await asyncio.shield(self._owner)
            except (TimeoutError, Exception):
                self._owner.cancel()
            self._owner = None

    def _connected(self) -> mcp.Client:
        if self._client is None:
            raise ToolError(f"the MCP server {self!r} is not connected")
        return self._client

    async def tools(self) -> list[Tool]:
        """The server's tools as ours (all pages of ``tools/list``)."""
        client = self._connected()
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            listed += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        return [self._wrap(t) for t in listed]

    def _wrap(self, spec: mcp_types.Tool) -> Tool:
        remote = spec.name
        destructive = bool(spec.annotations and spec.annotations.destructive_hint)

        async def handler(**arguments: Any) -> Any:
            result = await self._connected().call_tool(remote, arguments)
            return _result_value(remote, result)

        schema = strip_titles(dict(spec.input_schema or {"type": "object"}))
        schema.setdefault("properties", {})
        return Tool(
            name=self.prefix + remote,
            description=spec.description or spec.title or "",
            parameters=schema,
            handler=handler,
            timeout=self.timeout,
            confirm=destructive or remote in self.confirm,
            source="mcp",
        )


def _result_value(name: str, result: mcp_types.CallToolResult) -> Any:
    texts = [c.text for c in result.content if isinstance(c, mcp_types.TextContent)]
    if result.is_error:
        raise ToolError("\n".join(texts) or f"the MCP tool {name!r} reported an error")
    if result.structured_content is not None:
        structured = result.structured_content
        if isinstance(structured, dict) and set(structured) == {"result"}:
            return structured["result"]
        return structured
    if len(texts) == 1:
        try:
            return json.loads(texts[0])
        except ValueError:
            return texts[0]
    return texts
