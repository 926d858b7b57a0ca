"""Model output → ToolCalls in every format, and garbage that must never raise or execute."""

from __future__ import annotations

import gc
import keyword
import math
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import strategies
from voice_agent.tools import parse_python_calls, parse_tool_calls


def names_args(text: object) -> list[tuple[str, dict[str, object]]]:
    return [(c.name, c.arguments) for c in parse_tool_calls(text).calls]  # type: ignore[arg-type]


def test_qwen_tool_call_blocks_one_and_many_with_text_kept() -> None:
    out = (
        'Let me check.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "time", "arguments": {"tz": "CET"}}\n</tool_call>'
    )
    result = parse_tool_calls(out)
    assert [(c.name, c.arguments) for c in result.calls] == [
        ("weather", {"city": "Paris"}),
        ("time", {"tz": "CET"}),
    ]
    assert result.text == "Let me check."
    assert result.decoded


def test_arguments_given_as_json_string_and_parameters_key() -> None:
    assert names_args('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>') == [
        ("f", {"x": 1})
    ]
    assert names_args('{"name": "f", "parameters": {"x": 2}}') == [("f", {"x": 2})]


def test_fenced_and_bare_json_objects_and_lists() -> None:
    fenced = 'Sure:\n```json\n[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"k": [1, 2]}}]\n```'
    result = parse_tool_calls(fenced)
    assert [(c.name, c.arguments) for c in result.calls] == [("a", {}), ("b", {"k": [1, 2]})]
    assert result.text == "Sure:"
    assert names_args('  {"name": "a", "arguments": {"q": "x"}}  ') == [("a", {"q": "x"})]


def test_python_call_syntax_like_bfcl_prompt_mode() -> None:
    out = '[math.factorial(number=5), g(b="x", c=[1, -2.5, {"k": (1, 2)}], d=None, e=True)]'
    assert names_args(out) == [
        ("math.factorial", {"number": 5}),
        ("g", {"b": "x", "c": [1, -2.5, {"k": [1, 2]}], "d": None, "e": True}),
    ]
    assert names_args("f(unit=celsius)") == [("f", {"unit": "celsius"})]
    assert names_args("[f(x=2*3+1)]") == [("f", {"x": 7})]


def test_openai_structures_keep_ids() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "f", "arguments": '{"a": 1}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}},
        ],
    }
    calls = parse_tool_calls(message).calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_1", "f", {"a": 1}),
        ("call_2", "g", {}),
    ]
    assert [c.id for c in parse_tool_calls(message["tool_calls"]).calls] == ["call_1", "call_2"]


def test_bfcl_single_key_shape_only_for_known_names() -> None:
    out = '[{"get_weather": {"city": "Oslo"}}]'
    assert [c.name for c in parse_tool_calls(out, known={"get_weather"}).calls] == ["get_weather"]
    result = parse_tool_calls('{"answer": {"text": "hi"}}', known={"get_weather"})
    assert result.calls == [] and not result.decoded


def test_near_valid_json_is_repaired() -> None:
    cut = '<tool_call>{"name": "f", "arguments": {"city": "Par'
    assert names_args(cut) == [("f", {"city": "Par"})]
    trailing = "<tool_call>{'name': 'f', 'arguments': {'a': 1,}}</tool_call>"
    assert names_args(trailing) == [("f", {"a": 1})]


def test_plain_speech_is_text_not_calls() -> None:
    result = parse_tool_calls("It is sunny in Paris today (about 20 degrees).")
    assert result.calls == [] and result.decoded
    assert result.text.startswith("It is sunny")
    assert parse_tool_calls("print(hello world)").calls == []


@pytest.mark.parametrize(
    "evil",
    [
        "[__import__('os').system('touch /tmp/pwned')]",
        "[f(x=__import__('os').system('touch /tmp/pwned'))]",
        "[f(x=open('/etc/passwd').read())]",
        "[f(x=(lambda: 1)())]",
        "[f(x=[i for i in range(10**9)])]",
        "[f(x=2**10**10)]",
        "[f(**{'a': 1})]",
        "[f(x=b'bytes')]",
        "[f(x=1j)]",
        "[f(1, 2)]",
    ],
)
def test_adversarial_python_never_executes(evil: str, tmp_path: object) -> None:
    result = parse_tool_calls(evil)
    assert result.calls == []
    assert result.problems, "a refused call must say why"


def test_pathological_sizes_and_values() -> None:
    for text in ["[" * 1_000_000, "{" * 1_000_000, "(" * 100_000, '{"a": ' * 50_000]:
        result = parse_tool_calls(text)
        assert result.calls == []
    nan = parse_tool_calls('<tool_call>{"name": "f", "arguments": {"x": NaN}}</tool_call>')
    assert nan.calls == [] and "NaN" in nan.problems[0]
    assert parse_tool_calls("[f(x=float('nan'))]").calls == []
    uni = names_args('<tool_call>{"name": "météo", "arguments": {"ville": "Zürich 🌧"}}</tool_call>')
    assert uni == [("météo", {"ville": "Zürich 🌧"})]
    assert parse_tool_calls("").calls == []
    assert parse_tool_calls("<tool_call></tool_call>").problems


def test_parse_python_calls_is_strict() -> None:
    with pytest.raises(ValueError, match="keyword arguments"):
        parse_python_calls("[f(1)]")
    with pytest.raises(ValueError, match="not a literal"):
        parse_python_calls("[f(x=y.z)]")


json_values = strategies.json_values(finite=True, size=4)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    result = parse_tool_calls(text)
    for call in result.calls:
        assert isinstance(call.name, str) and isinstance(call.arguments, dict)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]{}()<>\"':,=._-abcfnx0129 \n`\\", max_size=200))
def test_fuzz_bracket_soup_never_raises(text: str) -> None:
    result = parse_tool_calls(text)
    parse_tool_calls("<tool_call>" + text)
    parse_tool_calls("```json\n" + text)
    assert isinstance(result.problems, list)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), json_values, max_size=5
    )
)
def test_fuzz_round_trip_every_format(arguments: dict[str, object]) -> None:
    import json

    def finite(v: object) -> bool:
        return not (isinstance(v, float) and not math.isfinite(v))

    assert all(finite(v) for v in arguments.values())
    payload = json.dumps({"name": "tool_x", "arguments": arguments})
    for text in (f"<tool_call>{payload}</tool_call>", f"```json\n{payload}\n```", payload):
        assert names_args(text) == [("tool_x", arguments)]
    if any(keyword.iskeyword(k) for k in arguments):
        return  # `if=1` cannot be written as a Python keyword argument
    args_py = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    assert names_args(f"[tool_x({args_py})]") == [("tool_x", arguments)]


BLOCK_FAMILIES = {
    "calls": '<tool_call>{"name": "f", "arguments": {"a": "x"}}</tool_call> and ',
    "unbalanced quotes": '<tool_call>"</tool_call>"',
    "fences": '```json\n{"name": "f", "arguments": {}}\n``` then ',
    "mixed": '<tool_call>{"name": "f"}</tool_call> ```py\nf(a=1)\n``` <tool_call>"a</tool_call>',
}


def growth(parse: Callable[[str], object], unit: str, n: int) -> float:
    """CPU time for ``4n`` repetitions over that for ``n``, best of three each: about 4 when
    the parse is linear, about 16 when it is quadratic, whatever the machine's speed. The
    garbage collector is off while timing: its full passes over the calls found so far would
    add a growth of their own."""

    def best(text: str) -> float:
        times = []
        for _ in range(3):
            start = time.process_time()
            parse(text)
            times.append(time.process_time() - start)
        return max(min(times), 1e-6)

    gc.collect()
    gc.disable()
    try:
        return best(unit * 4 * n) / best(unit * n)
    finally:
        gc.enable()


@pytest.mark.parametrize("family", sorted(BLOCK_FAMILIES))
def test_parsing_time_grows_linearly_with_the_number_of_blocks(family: str) -> None:
    """2,000 → 8,000 blocks took 0.45 s → 6.2 s (x14): each block's search ran to the end."""
    ratio = growth(parse_tool_calls, BLOCK_FAMILIES[family], 2_000)
    assert ratio < 8, f"{family}: 4x the blocks took {ratio:.1f}x the time"
    assert len(parse_tool_calls(BLOCK_FAMILIES[family] * 50).calls) in (0, 50, 100)


def test_calls_one_per_line_all_kept_even_of_one_tool() -> None:
    """The local models write several calls as JSON objects one per line; JSON repair read
    two calls of the same tool as one (BFCL parallel entries lost their first call)."""
    text = (
        '{"name": "math.pythagoras", "arguments": {"a": 3, "b": 4}}\n'
        '{"name": "math.pythagoras", "arguments": {"a": 5, "b": 12}}'
    )
    calls = parse_tool_calls(text).calls
    assert [(c.name, c.arguments) for c in calls] == [
        ("math.pythagoras", {"a": 3, "b": 4}),
        ("math.pythagoras", {"a": 5, "b": 12}),
    ]
