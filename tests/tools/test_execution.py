"""Execution: validation first, concurrency, timeouts, failures as values, confirmation."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Annotated, Any, Literal

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from tests import strategies
from voice_agent import ToolCall, ToolError, ToolRegistry, tool
from voice_agent.tools import Tool, ToolContext


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def weather(
    city: str,
    unit: Literal["celsius", "fahrenheit"] = "celsius",
    days: Annotated[int, Field(ge=1, le=7)] = 1,
) -> dict[str, Any]:
    """Get the forecast."""
    return {"city": city, "unit": unit, "days": days}


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


async def test_valid_call_runs_and_returns_value() -> None:
    registry = ToolRegistry([add, weather])
    [result] = await registry.execute([call("add", a=2, b=3)])
    assert (result.ok, result.value, result.kind, result.error) == (True, 5, "ok", None)


async def test_invalid_arguments_name_the_path_and_expectation_and_do_not_run() -> None:
    ran = []

    @tool
    def record(n: int) -> int:
        ran.append(n)
        return n

    registry = ToolRegistry([weather, record])
    [bad_enum, missing, extra, wrong_type] = await registry.execute(
        [
            call("weather", city="Oslo", unit="kelvin"),
            call("weather", unit="celsius"),
            call("weather", city="Oslo", color="red"),
            call("record", n="five"),
        ]
    )
    assert bad_enum.kind == "invalid_arguments"
    assert 'arguments.unit: "kelvin" is not one of "celsius" or "fahrenheit"' in bad_enum.error
    assert '"city" is a required property' in missing.error
    assert "'color' was unexpected" in extra.error
    assert 'arguments.n: "five" is not of type "integer"' in wrong_type.error
    assert ran == []


async def test_lone_surrogates_are_invalid_arguments_naming_the_parameter() -> None:
    """A ``"\\ud800"`` JSON escape decodes to a lone surrogate that no validator can take; it
    used to escape ``execute()`` as UnicodeEncodeError."""
    ran = []

    @tool
    def record(n: str, tags: list[str] | None = None) -> str:
        ran.append(n)
        return n

    registry = ToolRegistry([record])
    [value, nested, key] = await registry.execute(
        registry.parse(
            '<tool_call>{"name": "record", "arguments": {"n": "\\ud800"}}</tool_call>'
            '<tool_call>{"name": "record", "arguments": {"n": "a", "tags": ["ok", "x\\udfffy"]}}'
            '</tool_call><tool_call>{"name": "record", "arguments": {"\\udc00": "a"}}</tool_call>'
        )
    )
    assert [value.kind, nested.kind, key.kind] == ["invalid_arguments"] * 3
    assert "arguments.n: contains '\\ud800', a lone surrogate" in value.error
    assert "arguments.tags[1]: contains '\\udfff'" in nested.error
    assert "arguments: a key contains '\\udc00'" in key.error
    assert all(r.error.isascii() for r in (value, nested, key))
    assert ran == []


async def test_calls_over_the_per_output_cap_are_refused_with_the_reason() -> None:
    ran: list[int] = []

    @tool(inline=True)
    def count(n: int) -> int:
        ran.append(n)
        return n

    registry = ToolRegistry([count], max_calls_per_output=3)
    output = "".join(
        f'<tool_call>{{"name": "count", "arguments": {{"n": {i}}}}}</tool_call>' for i in range(5)
    )
    with structlog.testing.capture_logs() as logs:
        results = await registry.execute(registry.parse(output))
    assert [r.kind for r in results] == ["ok", "ok", "ok", "refused", "refused"]
    assert sorted(ran) == [0, 1, 2]
    assert "asked for 5 tool calls and at most 3 run per reply" in results[3].error
    assert '"kind": "refused"' in results[4].to_message()
    [over] = [e for e in logs if e["event"] == "tool.calls_over_limit"]
    assert over["refused_call_ids"] == [r.call_id for r in results[3:]]
    assert ToolRegistry().max_calls_per_output == 32
    with pytest.raises(ValueError, match="at least 1"):
        ToolRegistry(max_calls_per_output=0)


async def test_unknown_tool_lists_known_names_and_suggests() -> None:
    registry = ToolRegistry([add, weather])
    [result] = await registry.execute([call("wether", city="x")])
    assert result.kind == "unknown_tool"
    assert "did you mean 'weather'" in result.error and "add, weather" in result.error


async def test_independent_calls_run_concurrently() -> None:
    """Each call waits for the other to start: only possible if both run at once."""
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    @tool(timeout=5)
    async def meet(me: Literal["a", "b"]) -> str:
        started[me].set()
        await started["b" if me == "a" else "a"].wait()
        return me

    registry = ToolRegistry([meet])
    results = await registry.execute([call("meet", me="a"), call("meet", me="b")])
    assert [r.value for r in results] == ["a", "b"]


async def test_sync_handlers_run_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    def where() -> bool:
        return threading.get_ident() != loop_thread

    @tool(inline=True)
    def here() -> bool:
        return threading.get_ident() == loop_thread

    results = await ToolRegistry([where, here]).execute([call("where"), call("here")])
    assert [r.value for r in results] == [True, True]


async def test_hanging_tools_time_out_sync_and_async() -> None:
    release = threading.Event()

    @tool(timeout=0.2)
    async def hang_async() -> None:
        await asyncio.Event().wait()

    @tool(timeout=0.2)
    def hang_sync() -> None:
        release.wait(10)

    registry = ToolRegistry([hang_async, hang_sync, add])
    results = await registry.execute([call("hang_async"), call("hang_sync"), call("add", a=1, b=1)])
    release.set()
    assert [r.kind for r in results] == ["timeout", "timeout", "ok"]
    assert "did not finish within 0.2 s" in results[0].error


async def test_raising_and_unserializable_tools_become_values() -> None:
    @tool
    def crash() -> None:
        raise RuntimeError("secret path /etc/x")

    @tool
    def refuse() -> None:
        raise ToolError("the printer is out of paper")

    @tool
    def weird() -> object:
        return object()

    @tool
    def nan() -> float:
        return float("nan")

    registry = ToolRegistry([crash, refuse, weird, nan])
    results = await registry.execute([call("crash"), call("refuse"), call("weird"), call("nan")])
    assert [r.kind for r in results] == [
        "tool_error",
        "tool_error",
        "unserializable",
        "unserializable",
    ]
    assert "RuntimeError" in results[0].error and "/etc/x" not in results[0].error
    assert results[1].error == "the printer is out of paper"
    assert all(not r.ok for r in results)
    assert '"kind": "tool_error"' in results[0].to_message()


async def test_confirmation_hook() -> None:
    @tool(confirm=True)
    def unlock() -> str:
        return "unlocked"

    registry = ToolRegistry([unlock])
    asked: list[str] = []

    async def deny(c: ToolCall, t: Tool) -> bool:
        asked.append(t.name)
        return False

    async def allow(c: ToolCall, t: Tool) -> bool:
        return True

    assert (await registry.execute([call("unlock")]))[0].kind == "needs_confirmation"
    assert (await registry.execute([call("unlock")], confirm=deny))[0].kind == "refused"
    assert asked == ["unlock"]
    assert (await registry.execute([call("unlock")], confirm=allow))[0].value == "unlocked"


async def test_cancelling_the_caller_cancels_running_tools() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @tool(timeout=None)
    async def long_task() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    registry = ToolRegistry([long_task, add])
    task = asyncio.create_task(registry.execute([call("long_task"), call("add", a=1, b=2)]))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_tool_cancelling_itself_is_a_value() -> None:
    @tool
    async def gives_up() -> None:
        raise asyncio.CancelledError

    [result] = await ToolRegistry([gives_up]).execute([call("gives_up")])
    assert result.kind == "cancelled"


async def test_context_and_pydantic_conversion_reach_the_handler() -> None:
    @tool
    async def echo(ctx: ToolContext, unit: Literal["c", "f"] = "c") -> str:
        return f"{ctx.tool_name}:{ctx.call_id}:{unit}"

    c = ToolCall(name="echo", arguments={}, id="call_x")
    [result] = await ToolRegistry([echo]).execute([c])
    assert result.value == "echo:call_x:c"


async def test_every_call_and_result_is_a_structured_log_event() -> None:
    with structlog.testing.capture_logs() as logs:
        await ToolRegistry([add]).execute([call("add", a=1, b=2)])
    events = [e["event"] for e in logs]
    assert events == ["tool.call_started", "tool.call_finished"]
    assert logs[1]["kind"] == "ok" and logs[0]["pii_arguments"] == {"a": 1, "b": 2}


async def test_results_keep_order_and_time() -> None:
    @tool
    async def sleepy(s: float) -> float:
        await asyncio.sleep(s)
        return s

    t0 = time.perf_counter()
    results = await ToolRegistry([sleepy]).execute([call("sleepy", s=0.05), call("sleepy", s=0)])
    assert [r.value for r in results] == [0.05, 0]
    assert results[0].duration_ms >= 40 and time.perf_counter() > t0


json_values = strategies.json_values(finite=False, size=3)


@tool(inline=True)
def typed(
    name: str,
    count: Annotated[int, Field(ge=0, le=10)],
    ratio: float = 0.5,
    mode: Literal["a", "b"] = "a",
    tags: list[str] | None = None,
) -> str:
    """Check that only well-typed values ever arrive."""
    assert isinstance(name, str) and isinstance(count, int) and not isinstance(count, bool)
    assert 0 <= count <= 10 and isinstance(ratio, float) and mode in ("a", "b")
    assert tags is None or all(isinstance(t, str) for t in tags)
    return "fine"


FUZZ_REGISTRY = ToolRegistry([typed])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "count", "ratio", "mode", "tags", "other"]),
        json_values,
        max_size=6,
    )
)
async def test_fuzz_validator_lets_only_well_typed_arguments_through(
    arguments: dict[str, Any],
) -> None:
    [result] = await FUZZ_REGISTRY.execute([ToolCall(name="typed", arguments=arguments)])
    assert result.kind in ("ok", "invalid_arguments"), result
    if result.kind == "invalid_arguments":
        assert result.error and result.error.startswith("invalid arguments for 'typed': arguments")
    else:
        assert result.value == "fine"
