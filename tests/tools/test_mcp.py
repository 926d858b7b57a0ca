"""MCP servers' tools through the official SDK: a real server over stdio and streamable HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_agent import BackendError, ToolCall, ToolRegistry
from voice_agent.tools.adapters.mcp import MCPServer

SERVER = Path(__file__).parent / "fixtures" / "mcp_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the MCP test server exited at start")
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the MCP test server did not listen within 30 s")
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


async def exercise(registry: ToolRegistry, prefix: str) -> None:
    names = registry.names
    assert names == [f"{prefix}{n}" for n in ("add", "add_note", "fail", "slow", "wipe_notes")]
    add = registry.get(f"{prefix}add")
    assert add is not None and add.source == "mcp" and add.parameters["required"] == ["a", "b"]
    assert registry.get(f"{prefix}wipe_notes").confirm  # type: ignore[union-attr]
    ok, invalid, failed, slow, note, risky = await registry.execute(
        [
            ToolCall(name=f"{prefix}add", arguments={"a": 2, "b": 40}),
            ToolCall(name=f"{prefix}add", arguments={"a": "two"}),
            ToolCall(name=f"{prefix}fail", arguments={"reason": "disk full"}),
            ToolCall(name=f"{prefix}slow", arguments={"seconds": 3}),
            ToolCall(name=f"{prefix}add_note", arguments={"text": "hello"}),
            ToolCall(name=f"{prefix}wipe_notes"),
        ]
    )
    assert (ok.ok, ok.value) == (True, 42)
    assert invalid.kind == "invalid_arguments" and '"two" is not of type "integer"' in invalid.error
    assert failed.kind == "tool_error" and "disk full" in failed.error
    assert slow.kind == "timeout"
    assert note.value == "1 notes"
    assert risky.kind == "needs_confirmation"


@pytest.mark.slow
async def test_stdio_server() -> None:
    server = MCPServer.stdio(sys.executable, [str(SERVER), "stdio"], prefix="s_", timeout=1.0)
    async with ToolRegistry() as registry:
        await registry.register_mcp(server)
        await exercise(registry, "s_")


@pytest.mark.slow
async def test_streamable_http_server(http_server: str) -> None:
    async with ToolRegistry() as registry:
        await registry.register_mcp(MCPServer.http(http_server, timeout=1.0))
        await exercise(registry, "")


async def test_unreachable_servers_fail_clearly() -> None:
    with pytest.raises(BackendError, match="cannot connect"):
        await ToolRegistry().register_mcp(MCPServer.stdio("/nonexistent/binary-xyz"))
    port = free_port()
    with pytest.raises(BackendError):
        await ToolRegistry().register_mcp(
            MCPServer.http(f"http://127.0.0.1:{port}/mcp", connect_timeout=5)
        )
