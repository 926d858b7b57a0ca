"""The streaming splitter: speech flows early, tool syntax never reaches the TTS."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tools.test_parsing import growth
from voice_agent.tools import StreamPiece, ToolCallSplitter, parse_tool_calls

CALL = (
    '<tool_call>\n{"name": "set_light", "arguments": {"room": "kitchen", "on": true}}\n</tool_call>'
)


def run(chunks: list[str]) -> tuple[str, list[str], list[StreamPiece]]:
    splitter = ToolCallSplitter()
    pieces = [splitter.feed(c) for c in chunks] + [splitter.finish()]
    text = "".join(p.text for p in pieces)
    return text, [c.name for p in pieces for c in p.calls], pieces


def test_text_is_released_before_generation_ends_and_markup_is_held() -> None:
    splitter = ToolCallSplitter()
    assert splitter.feed("Turning it on ").text == "Turning it on "
    held = splitter.feed("now. <tool_")
    assert held.text == "now. ", "a possible tag start is held back"
    piece = splitter.feed(CALL[len("<tool_") :])
    assert [c.arguments for c in piece.calls] == [{"room": "kitchen", "on": True}]
    assert piece.text == ""
    assert splitter.feed(" Done!").text == " Done!"


def test_token_by_token_never_leaks_syntax() -> None:
    reply = f'Okay. {CALL} And a list: ```json\n[{{"name": "b", "arguments": {{}}}}]\n``` Bye.'
    text, names, _ = run(list(reply))
    assert names == ["set_light", "b"]
    for syntax in ("<", ">", "{", "}", "`", "tool_call", '"name"'):
        assert syntax not in text
    assert text.split() == ["Okay.", "And", "a", "list:", "Bye."]


def test_bare_json_reply_and_bracket_words() -> None:
    _, names, _ = run(['[{"name": "a", ', '"arguments": {}}]'])
    assert names == ["a"]
    text, names, _ = run(["[laughter] Of", " course!"])
    assert names == [] and text == "[laughter] Of course!"


def test_unclosed_block_at_end_is_still_decoded_and_garbage_reported() -> None:
    _, names, _ = run(['Sure <tool_call>{"name": "a", "arguments": {"x": 1'])
    assert names == ["a"]
    text, names, pieces = run(["<tool_call>not json at all</tool_call> ok"])
    assert names == [] and text == " ok"
    assert any(p.problems for p in pieces)


def test_code_samples_are_not_spoken() -> None:
    text, names, _ = run(["Here: ```bash\nrm -rf /\n``` careful."])
    assert names == [] and "rm" not in text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=60),
    st.sampled_from(
        [
            f"Hello there. {CALL} Anything else?",
            f"{CALL}{CALL}",
            "No tools needed, just words < and > here.",
            '```json\n{"name": "x", "arguments": {"a": "<tool_call>"}}\n``` fine',
        ]
    ),
)
def test_any_chunking_gives_the_same_result(cuts: list[int], reply: str) -> None:
    chunks, i = [], 0
    for size in cuts:
        if i >= len(reply):
            break
        chunks.append(reply[i : i + size])
        i += size
    chunks.append(reply[i:])
    text, names = run(chunks)[:2]
    assert (text, names) == run([reply])[:2]
    whole = parse_tool_calls(reply)
    assert names == [c.name for c in whole.calls]
    assert text.split() == whole.text.split()


def stream(reply: str, size: int = 5) -> tuple[int, int]:
    """Calls and problems found when ``reply`` arrives ``size`` characters at a time."""
    splitter, calls, problems = ToolCallSplitter(), 0, 0
    for i in range(0, len(reply), size):
        piece = splitter.feed(reply[i : i + size])
        calls, problems = calls + len(piece.calls), problems + len(piece.problems)
    last = splitter.finish()
    return calls + len(last.calls), problems + len(last.problems)


def test_many_blocks_that_never_close_do_not_overflow_the_stack() -> None:
    """finish() read each block that an unbalanced quote kept open by recursing once per
    block: 2,000 of them raised RecursionError out of the agent's turn."""
    for reply in ('<tool_call>"</tool_call>"' * 3_000, '<tool_call>"a</tool_call>' * 3_000):
        whole = parse_tool_calls(reply)
        assert stream(reply) == (0, len(whole.problems)) and len(whole.problems) >= 1_500


@pytest.mark.parametrize(
    "unit", [CALL + " and ", '<tool_call>"</tool_call>"', "word " * 3 + "```json\n{}\n``` "]
)
@pytest.mark.parametrize("size", [5, 10**9])
def test_streaming_time_grows_linearly(unit: str, size: int) -> None:
    """A growing reply, streamed in small chunks and in one: 4x the reply takes about 4x the CPU
    time (16x if each chunk rescanned the open block)."""
    ratio = growth(lambda reply: stream(reply, size), unit, 1_000)
    assert ratio < 8, f"chunks of {size}: 4x the reply took {ratio:.1f}x the time"
