"""Per-call overhead of parse + validate + execute, against LangChain's StructuredTool.invoke.

Run by hand: ``python benchmarks/tool_dispatch.py [--calls 10000]``. Both sides call the same
trivial two-integer function in the same process, so the difference is framework overhead.
Ours starts from the model's raw text (``<tool_call>{...}</tool_call>``) and does more work
(parse, JSON Schema validation, timeout, result serialization) than LangChain's invoke on a
ready dict.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from langchain_core.tools import StructuredTool
from rich.console import Console
from rich.table import Table

from voice_agent import ToolRegistry, configure_logging, tool

OUTPUT = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def add_async(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def timed_sync(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Best-of-repeats mean microseconds per call."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return min(runs)


async def timed_async(fn: Callable[[], Awaitable[object]], calls: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            await fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return min(runs)


async def main(calls: int, repeats: int) -> None:
    configure_logging(level="WARNING")
    threaded = ToolRegistry([tool(add)])
    inline = ToolRegistry([tool(inline=True)(add)])
    asynchronous = ToolRegistry([tool(name="add")(add_async)])
    lc = StructuredTool.from_function(add)

    async def ours(registry: ToolRegistry) -> object:
        [result] = await registry.execute(registry.parse(OUTPUT))
        assert result.ok and result.value == 3, result
        return result

    def baseline() -> object:
        assert lc.invoke({"a": 1, "b": 2}) == 3
        return None

    def floor() -> object:
        args = json.loads('{"a": 1, "b": 2}')
        return add(**args)

    rows = {
        "LangChain StructuredTool.invoke (baseline)": timed_sync(baseline, calls, repeats),
        "voice-agent, async handler": await timed_async(lambda: ours(asynchronous), calls, repeats),
        "voice-agent, sync handler inline=True": await timed_async(
            lambda: ours(inline), calls, repeats
        ),
        "voice-agent, sync handler in worker thread (default)": await timed_async(
            lambda: ours(threaded), calls, repeats
        ),
        "json.loads + direct call (floor)": timed_sync(floor, calls, repeats),
    }
    base = rows["LangChain StructuredTool.invoke (baseline)"]
    table = Table(title=f"Tool dispatch: {calls} calls, best of {repeats}")
    table.add_column("path")
    table.add_column("µs / call", justify="right")
    table.add_column("LangChain ÷ this", justify="right")
    for name, micros in rows.items():
        table.add_row(name, f"{micros:.1f}", f"{base / micros:.1f}×")
    Console().print(table)
    print(json.dumps({k: round(v, 2) for k, v in rows.items()}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.repeats))
