"""The embedded LLM: schema-valid calls under the grammar, words when no tool fits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Literal

import pytest
import structlog

from voice_agent import ToolRegistry, tool
from voice_agent.evals.bfcl import load_category
from voice_agent.models import Message, UnderstandingRequest
from voice_agent.models.llm import LlamaCppLLM, tool_call_grammar


@tool
def set_light(
    room: Literal["kitchen", "bedroom", "office"], on: bool, brightness: int = 100
) -> str:
    """Turn the lights in a room on or off."""
    return room


@tool
def set_thermostat(celsius: float) -> str:
    """Set the home's target temperature in degrees Celsius."""
    return str(celsius)


HOME = ToolRegistry([set_light, set_thermostat])


@pytest.mark.slow
async def test_spoken_style_requests_become_valid_calls(llm: LlamaCppLLM) -> None:
    cases = {
        "Please turn on the kitchen lights at half brightness.": (
            "set_light",
            {"room": "kitchen", "on": True, "brightness": 50},
        ),
        "Set the heating to 21.5 degrees": ("set_thermostat", {"celsius": 21.5}),
    }
    for text, (name, arguments) in cases.items():
        output = await llm.complete(UnderstandingRequest(text=text, tools=[t.schema for t in HOME]))
        [call] = HOME.parse(output)
        assert (call.name, call.arguments) == (name, arguments), output


@pytest.mark.slow
async def test_words_when_no_tool_fits_and_history(llm: LlamaCppLLM) -> None:
    output = await llm.complete(
        UnderstandingRequest(text="What is the capital of France?", tools=[t.schema for t in HOME])
    )
    assert HOME.parse(output) == [] and "Paris" in output
    follow_up = await llm.complete(
        UnderstandingRequest(
            text="And of Italy?",
            tools=[t.schema for t in HOME],
            history=[
                Message(role="user", content="What is the capital of France?"),
                Message(role="assistant", content="Paris."),
            ],
        )
    )
    assert "Rome" in follow_up


def test_grammar_compiles_for_every_bfcl_function_doc(bfcl_dir: Path) -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    from voice_agent.tools import normalize_bfcl_schema

    compiled = 0
    for category in ("simple_python", "multiple", "parallel_multiple", "live_multiple"):
        for entry in load_category(category, bfcl_dir):
            tools = [
                {
                    "name": f["name"],
                    "description": f.get("description", ""),
                    "parameters": normalize_bfcl_schema(f["parameters"]),
                }
                for f in entry.functions
            ]
            LlamaGrammar.from_string(tool_call_grammar(tools), verbose=False)
            compiled += 1
    assert compiled > 1500


@pytest.mark.slow
async def test_calls_on_bfcl_entries_are_always_schema_valid(
    llm: LlamaCppLLM, bfcl_dir: Path
) -> None:
    """Whatever the model decides, any call it makes validates against the tool's schema."""
    checked = 0
    for category in ("simple_python", "multiple", "parallel"):
        for entry in load_category(category, bfcl_dir)[:6]:
            registry = ToolRegistry()
            for doc in entry.functions:
                registry.register(doc)
            output = await llm.complete(
                UnderstandingRequest(text=entry.user_text, tools=[t.schema for t in registry])
            )
            parsed = registry.parse_detailed(output)
            for call in parsed.calls:
                assert registry.validate(call) == [], (entry.id, output)
                checked += 1
            if output.lstrip().startswith(("{", "[")):
                assert parsed.calls, f"{entry.id}: JSON that is not a call: {output!r}"
    assert checked >= 12


@pytest.mark.slow
def test_prompt_has_the_tools_block_and_chatml(llm: LlamaCppLLM) -> None:
    prompt = llm.prompt(UnderstandingRequest(text="hi", tools=[set_light.schema]))
    assert prompt.startswith("<|im_start|>system\n")
    assert json.dumps({"type": "function", "function": set_light.schema}) in prompt
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.slow
async def test_warm_up_caches_the_prefix(llm: LlamaCppLLM) -> None:
    tools = [t.schema for t in HOME]
    await llm.warm_up(tools)
    cached = len(llm._llm._input_ids)
    assert cached > 100
    output = await llm.complete(
        UnderstandingRequest(text="Set the heating to 19 degrees", tools=tools)
    )
    assert HOME.parse(output)[0].arguments == {"celsius": 19}


@pytest.mark.slow
async def test_barge_in_stops_generation_and_turns_never_share_the_context(
    llm: LlamaCppLLM,
) -> None:
    """A reply abandoned mid-stream (barge-in) must stop at its next token and must not mix
    into the next turn; two turns at once must queue, not interleave (which aborted the
    process before the context lock)."""
    question = UnderstandingRequest(text="What is two plus two?")
    story = UnderstandingRequest(text="Tell me a long story about a lighthouse keeper.")
    alone = await llm.complete(question)
    with structlog.testing.capture_logs() as logs:
        stream = llm.stream(story)
        async for _ in stream:
            break
        await stream.aclose()
        after = await llm.complete(question)
    assert after == alone
    [stopped] = [entry for entry in logs if entry["event"] == "llm.stopped"]
    assert stopped["tokens"] <= 3
    both = await asyncio.gather(llm.complete(story), llm.complete(question))
    assert both[1] == alone


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_a_change_of_style_keeps_the_cached_tools_prefix(llm: LlamaCppLLM) -> None:
    """The reply style changes per turn (the emotion policy); the system + tools block must
    not be read again when it does (it cost ~10 s per turn when the style came before it)."""
    tools = [t.schema for t in HOME]
    calm, warm = "When you answer in words: be brief.", "When you answer in words: be warm."
    prompts = [
        llm.prompt(UnderstandingRequest(text="Lights off in the office", tools=tools, system=s))
        for s in (calm, warm)
    ]
    prefix = llm.prefix(tools)
    assert all(p.startswith(prefix) for p in prompts)
    assert llm._llm is not None
    ids = [llm._llm.tokenize(p.encode(), add_bos=False, special=True) for p in prompts]
    head = llm._llm.tokenize(prefix.encode(), add_bos=False, special=True)
    assert ids[0][: len(head)] == head == ids[1][: len(head)]
    await llm.warm_up(tools)
    with structlog.testing.capture_logs() as logs:
        for style in (calm, warm, calm):
            request = UnderstandingRequest(
                text="Lights off in the office", tools=tools, system=style
            )
            assert HOME.parse(await llm.complete(request))[0].name == "set_light"
    assert _events(logs, "llm.prefix_evaluated") == []
    assert _events(logs, "llm.prefix_state_loaded") == []


async def test_the_prefix_state_on_disk_starts_a_new_process_warm(tmp_path: Path) -> None:
    """A second model (as in a new process) restores the saved prefix instead of evaluating
    it and answers the same; a corrupt or cut-short file is ignored and rebuilt."""
    tools = [t.schema for t in HOME]
    request = UnderstandingRequest(text="Set the heating to 19 degrees", tools=tools)

    async def fresh_answer() -> tuple[str, list[dict[str, object]]]:
        model = LlamaCppLLM(prefix_dir=tmp_path)
        with structlog.testing.capture_logs() as logs:
            answer = await model.complete(request)
        model.close()
        return answer, logs

    first, logs = await fresh_answer()
    assert _events(logs, "llm.prefix_evaluated") and _events(logs, "llm.prefix_state_saved")
    [state] = list(tmp_path.glob("*.state"))  # noqa: ASYNC240
    second, logs = await fresh_answer()
    assert second == first
    assert _events(logs, "llm.prefix_state_loaded") and not _events(logs, "llm.prefix_evaluated")
    good = state.read_bytes()
    for damaged in (good[: len(good) // 2], good[:-100] + bytes(100), b"not a state"):
        state.write_bytes(damaged)
        again, logs = await fresh_answer()
        assert again == first
        assert _events(logs, "llm.prefix_state_ignored"), "a damaged file must not be trusted"
        assert _events(logs, "llm.prefix_evaluated") and state.read_bytes() == good


@tool
def set_timer(minutes: int) -> str:
    """Start a countdown timer."""
    return f"{minutes} min"


@pytest.mark.slow
async def test_two_requests_in_one_sentence_become_two_calls(llm: LlamaCppLLM) -> None:
    """The 0.5B ends its reply after the first of two asked actions unless it is continued
    where it ends less surely than after a whole request; a single request stays one call."""
    registry = ToolRegistry([set_light, set_thermostat, set_timer])
    tools = [t.schema for t in registry]
    two = "Turn on the kitchen lights and set a timer for twenty minutes."
    bare = LlamaCppLLM(demonstrations=(), persist_prefix=False)  # shown nothing: continued
    for model in (llm, bare):
        with structlog.testing.capture_logs() as logs:
            both = await model.complete(UnderstandingRequest(text=two, tools=tools))
        assert [c.name for c in registry.parse(both)] == ["set_light", "set_timer"], both
    assert _events(logs, "llm.another_call")
    bare.close()
    with structlog.testing.capture_logs() as logs:
        one = await llm.complete(
            UnderstandingRequest(text="Set a timer for ten minutes.", tools=tools)
        )
    assert [(c.name, c.arguments) for c in registry.parse(one)] == [("set_timer", {"minutes": 10})]
    assert _events(logs, "llm.another_call") == []


def test_the_demonstrations_are_in_the_prefix_and_the_style_after_it(llm: LlamaCppLLM) -> None:
    tools = [set_light.schema]
    prompt = llm.prompt(UnderstandingRequest(text="hi", tools=tools, system="Be warm."))
    prefix = llm.prefix(tools)
    assert prompt.startswith(prefix) and prefix.endswith("<|im_end|>")
    assert "water_garden" in prefix and "Be warm." not in prefix
    assert prompt[len(prefix) :] == (
        "\n<|im_start|>system\nBe warm.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    bare = LlamaCppLLM(demonstrations=(), persist_prefix=False)
    assert "water_garden" not in bare.prompt(UnderstandingRequest(text="hi", tools=tools))
    assert "water_garden" not in llm.prompt(UnderstandingRequest(text="hi"))  # no tools


def test_grammar_writes_patterns_llama_cpp_can_parse() -> None:
    """llama.cpp's converter copied ``\\d`` into the GBNF, which its parser rejects; the process
    then crashed at the first token (ACEBench zh, an HH:MM pattern)."""
    from voice_agent.models._grammar import _gbnf_pattern

    time = {"type": "string", "pattern": r"^([01]\d|2[0-3]):([0-5]\d)$"}
    word = {"type": "string", "pattern": r"^\w+$"}
    tools = [
        {
            "name": "notify",
            "parameters": {"type": "object", "properties": {"start": time, "who": word}},
        }
    ]
    grammar = tool_call_grammar(tools)
    assert "\\d" not in grammar
    assert "\\w" not in grammar
    assert _gbnf_pattern(r"^[\d.]+$") == "^[0-9.]+$"
    assert _gbnf_pattern(r"^\w+$") is None
    assert _gbnf_pattern(r"^a\.b$") == r"^a\.b$"


@pytest.mark.slow
async def test_the_lazy_grammar_decodes_what_the_grammar_first_decoder_does(
    llm: LlamaCppLLM,
) -> None:
    """The decoder asks the grammar about the model's top token only, and runs it over the
    whole vocabulary only when that token is refused; greedy text must be the same as with
    the grammar applied first (llama-cpp-python's ``create_completion``). The last request
    makes the model want words where only a call is allowed, so the refusal path runs."""
    from voice_agent.models.llm._decode import GrammarCheck

    tools = [t.schema for t in HOME]
    requests = [
        ("Please turn on the kitchen lights at half brightness.", "auto"),
        ("What is the capital of France?", "auto"),
        ("What is two plus two?", "required"),
    ]
    refused = []
    original_best = GrammarCheck.best

    def counting_best(self: GrammarCheck, logits: object) -> int | None:
        refused.append(1)
        return original_best(self, logits)  # type: ignore[arg-type]

    for text, choice in requests:
        request = UnderstandingRequest(text=text, tools=tools, tool_choice=choice)  # type: ignore[arg-type]
        prompt = llm.prompt(request)
        grammar = llm._grammar(tools, choice)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(GrammarCheck, "best", counting_best)
            lazy = llm._generate(prompt, grammar, lambda _: None, lambda: False)
        assert llm._llm is not None
        first = llm._llm.create_completion(
            prompt,
            max_tokens=llm.max_tokens,
            temperature=0.0,
            grammar=grammar,
            stop=["<|im_end|>", "<|endoftext|>"],
        )
        assert lazy == first["choices"][0]["text"], text
    assert refused, "no request exercised the grammar's refusal of the top token"


@pytest.mark.slow
async def test_a_refused_value_is_written_again_before_the_call_is_told(llm: LlamaCppLLM) -> None:
    """``unwanted`` is asked about each whole call; the value it names is taken back and
    decoded again without the token that began it, and the caller only ever sees the call
    that passed. Words still stream token by token."""
    tools = [t.schema for t in HOME]
    asked: list[dict[str, object]] = []

    def unwanted(name: str, arguments: object) -> str | None:
        assert isinstance(arguments, dict)
        asked.append(dict(arguments))
        return "room" if arguments.get("room") == "kitchen" else None

    request = UnderstandingRequest(
        text="Turn on the kitchen lights.", tools=tools, unwanted=unwanted
    )
    chunks = [piece async for piece in llm.stream(request)]
    call = json.loads("".join(chunks))
    assert asked[0].get("room") == "kitchen"
    assert call["name"] == "set_light" and call["arguments"]["room"] in ("bedroom", "office")
    assert len(asked) == 2 and asked[1] == call["arguments"]
    assert len(chunks) == 1, "a call is told once it has been checked, not token by token"
    assert llm._llm is not None
    words = UnderstandingRequest(
        text="What is the capital of France?", tools=tools, unwanted=unwanted
    )
    assert len([piece async for piece in llm.stream(words)]) > 2
