"""The whole tool path on hostile model output: raw text → parse → validate → execute.

Whatever a model writes, no exception leaves the tool layer, nothing is evaluated, and only
registered handlers run (a tool that needs confirmation never runs without it). Bounded by
``max_examples`` and a per-example deadline so that it runs in CI with the other tests.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any, get_args

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import strategies
from voice_agent.tools import ResultKind, ToolCallSplitter, ToolRegistry, tool

RAN: list[str] = []
FORBIDDEN_AUDIT = ("exec", "os.system", "subprocess.Popen", "os.posix_spawn", "os.exec")
AUDIT: dict[str, Any] = {"watching": False, "seen": []}


def _audit(event: str, _: tuple[Any, ...]) -> None:
    if AUDIT["watching"] and event.startswith(FORBIDDEN_AUDIT):
        AUDIT["seen"].append(event)


sys.addaudithook(_audit)  # hooks cannot be removed; this one only records while watching


@tool(inline=True)
def note(text: str, count: int = 0) -> str:
    """Take a note."""
    RAN.append("note")
    return text[:10]


@tool(inline=True)
def store(data: dict[str, Any], tags: list[str] | None = None) -> int:
    """Store a record."""
    RAN.append("store")
    return len(data)


@tool(confirm=True, inline=True)
def wipe() -> str:
    """Erase everything; needs the user's yes."""
    RAN.append("wipe")
    return "wiped"


def nested(depth: int) -> list[Any]:
    """``[[[...]]]`` ``depth`` levels deep, built without recursion."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


REGISTRY = ToolRegistry([note, store, wipe], max_calls_per_output=8)
NAMES = st.sampled_from(
    ["note", "store", "wipe", "os.system", "__import__", "eval", "exec", "note\ud800", ""]
)
HOSTILE_STRINGS = st.sampled_from(
    ["\ud800", "x\udfffy", "\udc00\ud800", "</tool_call>", "```", '"', "\\", "é🌧", "\x00\r\n"]
)
VALUES = st.one_of(
    strategies.json_values(finite=False, size=3),
    HOSTILE_STRINGS,
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=1, max_value=300).map(nested),
)


@st.composite
def call_text(draw: st.DrawFn) -> str:
    """One call in one of the formats models write, with hostile names and values."""
    name = draw(NAMES)
    arguments = draw(
        st.dictionaries(st.sampled_from(["text", "count", "data", "tags", "x"]), VALUES, max_size=4)
    )
    try:
        payload = json.dumps({"name": name, "arguments": arguments})
    except ValueError:  # integers too long to write as JSON text
        payload = json.dumps({"name": name, "arguments": {}})[:-2] + f'{{"count": {"9" * 5000}}}}}'

    if draw(st.booleans()):
        payload = payload.replace('"x": 0', f'"x": {deep(draw(st.integers(1, 3000)))}')
    python_args = ", ".join(f"{k}={v!r}" for k, v in arguments.items() if k.isidentifier())
    return draw(
        st.sampled_from(
            [
                f"<tool_call>{payload}</tool_call>",
                f"<tool_call>{payload}",  # cut off
                f"```json\n{payload}\n```",
                payload,
                f"[{name or 'f'}({python_args})]",
                f"<tool_call>{payload[: len(payload) // 2]}</tool_call>",
                f'<tool_call>{{"name": "note", "arguments": {deep(draw(st.integers(1, 5000)))}}}'
                "</tool_call>",
            ]
        )
    )


OUTPUTS = st.one_of(
    st.lists(st.one_of(call_text(), st.text(max_size=40)), max_size=12).map("".join),
    st.tuples(call_text(), st.integers(1, 300)).map(lambda t: t[0] * t[1]),  # many blocks
    st.text(alphabet="<>/tool_cal{}[]\"'\\:,` \n\ud800", max_size=300),
)
KINDS = set(get_args(ResultKind))


@settings(
    max_examples=100,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(OUTPUTS)
async def test_fuzz_hostile_output_never_raises_and_runs_only_registered_handlers(
    output: str,
) -> None:
    RAN.clear()
    AUDIT["watching"], AUDIT["seen"] = True, []
    try:
        parsed = REGISTRY.parse_detailed(output)
        results = await REGISTRY.execute(parsed.calls)
        splitter = ToolCallSplitter(known=REGISTRY.names)
        streamed = [splitter.feed(output[i : i + 9]) for i in range(0, len(output), 9)]
        streamed.append(splitter.finish())
    finally:
        AUDIT["watching"] = False
    assert AUDIT["seen"] == [], "model output was evaluated or started a process"
    assert len(results) == len(parsed.calls)
    assert "wipe" not in RAN, "a tool that needs confirmation ran without it"
    assert sorted(RAN) == sorted(r.name for r in results if r.ok)
    assert set(RAN) <= {"note", "store"}
    for result in results:
        assert result.kind in KINDS
        assert result.ok == (result.kind == "ok")
        if not result.ok:
            assert result.error and result.error.encode("utf-8")
    assert all(isinstance(c.arguments, dict) for p in streamed for c in p.calls)
