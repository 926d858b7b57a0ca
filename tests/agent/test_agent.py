"""The voice agent end to end on the embedded models, and what it does with bad input."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from voice_agent import ToolError, ToolRegistry, tool
from voice_agent.agent import (
    AudioChunkEvent,
    EmotionEvent,
    HistoryStore,
    ReplyTextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TranscriptEvent,
    TurnEndEvent,
    VoiceAgent,
)
from voice_agent.models import EmotionEstimate, TTSInstruction
from voice_agent.models.asr import WhisperASR
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.policies import PolicyDecision
from voice_agent.testing import ScriptedUnderstanding

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "examples" / "home"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ToolRegistry:
    monkeypatch.setenv("VOICE_AGENT_HOME_DB", str(tmp_path / "home.sqlite3"))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    return registry


@pytest.mark.slow
async def test_spoken_request_runs_the_right_tool_and_answers_in_speech(
    cpu: Profile, home: ToolRegistry, tmp_path: Path
) -> None:
    store = HistoryStore(tmp_path / "history.sqlite3")
    agent = VoiceAgent(tools=home, profile=cpu, store=store)
    events = [e async for e in agent.stream_turn(HOME / "turn_on_kitchen_lights.wav")]
    kinds = [e.type for e in events]
    assert kinds[0] == "transcript" and kinds[-1] == "metrics"
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("reply_text")
    [call] = [e for e in events if isinstance(e, ToolCallEvent)]
    assert (call.name, call.arguments) == (
        "set_light",
        {"room": "kitchen", "on": True, "brightness": 50},
    )
    [outcome] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert outcome.status == "ran" and outcome.value["brightness"] == 50
    chunks = [e for e in events if isinstance(e, AudioChunkEvent)]
    assert chunks and sum(c.audio.duration for c in chunks) > 1.0
    reply = " ".join(e.text for e in events if isinstance(e, ReplyTextEvent))
    # Heard back as the agent hears its users: biased by the registry's words. A five-word
    # sentence heard unbiased by tiny.en can lose a word ("the catching lights are on").
    first = chunks[0].audio.resampled(16_000)
    heard_back = (await WhisperASR().transcribe(first, hints=home.vocabulary())).text
    assert "kitchen" in reply.lower() and "kitchen" in heard_back.lower()
    [turn] = store.turns(agent.session_id)
    assert turn["transcript"].startswith("Please turn on the kitchen lights")
    assert turn["tool_calls"][0]["status"] == "ran" and turn["reply_text"] == reply
    timings = turn["timings_ms"]
    assert {"asr", "model_step0", "tool_result", "first_audio", "turn"} <= set(timings)
    assert timings["asr"] < timings["tool_result"] <= timings["first_audio"] <= timings["turn"]


@pytest.mark.slow
async def test_risky_tool_needs_a_yes(cpu: Profile, home: ToolRegistry, tmp_path: Path) -> None:
    unattended = VoiceAgent(tools=home, profile=cpu, interactive=False, speak=False)
    result = await unattended.turn(HOME / "unlock_front_door.wav")
    assert [(c.name, c.status) for c in result.tool_calls] == [
        ("unlock_front_door", "needs confirmation")
    ]
    assert "needs your confirmation" in result.reply_text

    agent = VoiceAgent(
        tools=home, profile=cpu, speak=False, store=HistoryStore(tmp_path / "h.sqlite3")
    )
    asked = await agent.turn(HOME / "unlock_front_door.wav")
    assert asked.reply_text.startswith("Do you want me to unlock the front door?")
    refused = await agent.turn(text="No, leave it locked.")
    assert [(c.name, c.status) for c in refused.tool_calls] == [("unlock_front_door", "refused")]
    assert refused.reply_text == "Okay, I won't do that."
    await agent.turn(HOME / "unlock_front_door.wav")
    done = await agent.turn(text="Yes, go ahead.")
    assert ("unlock_front_door", "ran", "front door unlocked") in [
        (c.name, c.status, c.result) for c in done.tool_calls
    ]
    decisions = [
        d.decision
        for t in (asked, refused, done)
        for d in t.decisions
        if d.policy == "confirmation"
    ]
    assert decisions[:2] == ["ask", "refused"] and "confirmed" in decisions
    statuses = [
        c["status"]
        for t in agent.store.turns(agent.session_id)  # type: ignore[union-attr]
        for c in t["tool_calls"]
    ]
    assert statuses.count("ran") == 1 and "refused" in statuses


@pytest.mark.slow
async def test_reply_style_follows_the_detected_emotion(cpu: Profile, home: ToolRegistry) -> None:
    espeak = EspeakTTS()
    angry = TTSInstruction(speed=1.35, pitch=1.3, volume=1.9)
    agent = VoiceAgent(tools=home, profile=cpu, speak=True)
    styles = []
    for _ in range(2):
        speech = await espeak.speak("This is ridiculous, turn off the kitchen light now!", angry)
        result = await agent.turn(speech)
        assert result.emotion is not None and result.emotion.label == "angry"
        styles += [d.decision for d in result.decisions if d.policy == "emotion"]
    assert styles == ["style:angry", "escalate:angry"]
    assert any(c.name == "set_light" for c in result.tool_calls)


async def test_an_unsure_emotion_is_reported_neutral_and_keeps_the_reply_style() -> None:
    raw = EmotionEstimate(label="sad", confidence=0.35)
    model = ScriptedUnderstanding(replies=["Okay."], emotion=raw)
    agent = VoiceAgent(
        tools=[], profile=Profile(name="s", understanding=model, tts=EspeakTTS()), speak=False
    )
    result = await agent.turn(text="Turn on the kitchen lights.")
    [event] = [e for e in result.events if isinstance(e, EmotionEvent)]
    assert event.emotion == result.emotion
    assert event.emotion == EmotionEstimate(label="neutral", confidence=0.65, raw=raw)
    [style] = [d for d in result.decisions if d.policy == "emotion"]
    assert style.decision == "style:neutral"
    neutral = agent.emotion_policy.styles["neutral"].guidance
    assert model.requests[1:] and all(neutral in (r.system or "") for r in model.requests[1:])


@tool(timeout=0.5)
async def slow_report() -> str:
    """Fetch the daily report."""
    await asyncio.sleep(30)
    return "never"


@tool
def broken_sensor() -> float:
    """Read the garage temperature."""
    raise ToolError("the garage sensor is offline")


def scripted(*replies: str) -> Profile:
    model = ScriptedUnderstanding(replies=list(replies))
    return Profile(name="scripted", understanding=model, tts=EspeakTTS())


async def test_failing_hanging_and_unknown_tools_never_end_the_session() -> None:
    profile = scripted(
        '{"name": "teleport", "arguments": {}}',
        "I cannot do that.",
        '{"name": "slow_report", "arguments": {}}',
        "The report timed out.",
        '{"name": "broken_sensor", "arguments": {}}',
        "The sensor is offline.",
    )
    agent = VoiceAgent(
        tools=[slow_report, broken_sensor], profile=profile, speak=False, acknowledge_after=0.1
    )
    unknown = await agent.turn(text="teleport me")
    assert unknown.tool_calls[0].status == "failed"
    assert "unknown tool 'teleport'" in (unknown.tool_calls[0].error or "")
    hanging = await agent.turn(text="get the report")
    assert hanging.tool_calls[0].status == "failed" and "0.5 s" in (
        hanging.tool_calls[0].error or ""
    )
    assert hanging.reply_text.startswith("One moment: I'll fetch the daily report.")
    failing = await agent.turn(text="garage temperature?")
    assert failing.tool_calls[0].error == "the garage sensor is offline"
    tool_messages = [m.content for m in agent.history if m.role == "tool"]
    assert len(tool_messages) == 3 and "Known tools" in tool_messages[0]


async def test_missing_argument_is_asked_for() -> None:
    @tool
    def set_timer(minutes: int) -> str:
        """Start a timer.

        Args:
            minutes: How many minutes to count down.
        """
        return f"{minutes} min"

    agent = VoiceAgent(
        tools=[set_timer], profile=scripted('{"name": "set_timer", "arguments": {}}'), speak=False
    )
    result = await agent.turn(text="set a timer")
    assert result.reply_text == "How many minutes to count down?"
    assert any(d.decision == "ask_argument" for d in result.decisions)


@pytest.mark.slow
async def test_silence_is_answered_not_fatal(cpu: Profile, home: ToolRegistry) -> None:
    import numpy as np

    from voice_agent.audio import prepare

    hiss = prepare(np.random.default_rng(0).normal(0, 0.003, 32_000), 16_000)
    result = await VoiceAgent(tools=home, profile=cpu, speak=False).turn(hiss)
    assert result.transcript == "" and result.reply_text.startswith("Sorry, I did not catch")


def test_a_killed_process_keeps_what_was_done(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import asyncio, time
        from voice_agent import tool
        from voice_agent.agent import HistoryStore, VoiceAgent
        from voice_agent.models.profiles import Profile
        from voice_agent.models.tts import EspeakTTS
        from voice_agent.testing import ScriptedUnderstanding

        @tool(timeout=None)
        def water_garden(minutes: int) -> str:
            '''Water the garden.'''
            time.sleep(60)
            return "done"

        model = ScriptedUnderstanding(replies=['{{"name": "water_garden", "arguments": '
                                               '{{"minutes": 5}}}}'])
        agent = VoiceAgent(tools=[water_garden], speak=False,
                           profile=Profile(name="s", understanding=model, tts=EspeakTTS()),
                           store=HistoryStore({str(db)!r}))
        asyncio.run(agent.turn(text="Water the garden for five minutes."))
    """)
    )
    process = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT count(*) FROM call_events").fetchone()[0]:
                        break
            except sqlite3.OperationalError:
                continue  # the schema is still being created
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    [turn] = HistoryStore(db).turns(HistoryStore(db).sessions()[0]["id"])
    assert turn["transcript"] == "Water the garden for five minutes."
    [call] = turn["tool_calls"]
    assert (call["name"], call["arguments"], call["status"]) == (
        "water_garden",
        {"minutes": 5},
        "interrupted",  # the reopening store noticed the process was gone
    )


def test_sessions_without_a_store_are_told_apart() -> None:
    """The models key per-speaker state (the emotion baseline) by session id; every agent
    without a store was session "memory", so two users of one process shared a baseline."""
    profile = Profile(name="s", understanding=ScriptedUnderstanding(), tts=EspeakTTS())
    first, second = VoiceAgent(profile=profile), VoiceAgent(profile=profile)
    assert first.session_id != second.session_id


def test_events_are_typed() -> None:
    assert TranscriptEvent(text="x").type == "transcript"
    assert PolicyDecision(policy="emotion", decision="style:neutral", reason="r").type == "policy"
    assert EmotionEstimate(label="sad", confidence=0.6).label == "sad"


async def test_barge_in_stops_the_reply_and_cancels_tools(tmp_path: Path) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @tool(timeout=None)
    async def long_search(query: str) -> str:
        """Search the archive."""
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "found"

    model = ScriptedUnderstanding(
        replies=[
            "Let me look. This may take a while. "
            '<tool_call>{"name": "long_search", "arguments": {"query": "taxes"}}</tool_call>'
        ]
    )
    store = HistoryStore(tmp_path / "h.sqlite3")
    agent = VoiceAgent(
        tools=[long_search],
        speak=False,
        store=store,
        profile=Profile(name="s", understanding=model, tts=EspeakTTS()),
    )
    turn = asyncio.create_task(agent.turn(text="find my tax papers"))
    await asyncio.wait_for(started.wait(), 10)
    assert agent.interrupt()
    result = await asyncio.wait_for(turn, 10)
    assert result.interrupted and cancelled.is_set()
    assert result.reply_text.startswith("Let me look.")
    assert agent.history[-1].content.endswith("[interrupted]")
    [saved] = store.turns(agent.session_id)
    assert saved["status"] == "interrupted"
    assert [(c["name"], c["status"]) for c in saved["tool_calls"]] == [("long_search", "cancelled")]
    assert [(c.name, c.status) for c in result.tool_calls] == [("long_search", "cancelled")]
    assert not agent.interrupt(), "nothing left to interrupt"
    follow_up = await agent.turn(text="never mind")
    assert not follow_up.interrupted


async def test_two_turns_at_once_keep_their_own_state(tmp_path: Path) -> None:
    """Each turn owns its state: two at once (a server's session hit twice) each get their own
    record and store row, and barge-in stops both (the agent kept one current task, which the
    second turn overwrote, so the first could not be interrupted)."""
    started = asyncio.Event()

    @tool(timeout=None)
    async def long_search(query: str) -> str:
        """Search the archive."""
        started.set()
        await asyncio.sleep(60)
        return "found"

    call = '<tool_call>{"name": "long_search", "arguments": {"query": "taxes"}}</tool_call>'
    model = ScriptedUnderstanding(replies=[call, call])
    store = HistoryStore(tmp_path / "h.sqlite3")
    agent = VoiceAgent(
        tools=[long_search],
        speak=False,
        store=store,
        profile=Profile(name="s", understanding=model, tts=EspeakTTS()),
    )
    turns = [asyncio.create_task(agent.turn(text=t)) for t in ("find taxes", "find receipts")]
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.05)  # both turns are in their calls
    assert agent.interrupt()
    first, second = await asyncio.wait_for(asyncio.gather(*turns), 10)
    assert (first.transcript, second.transcript) == ("find taxes", "find receipts")
    assert first.interrupted and second.interrupted
    assert [c.status for c in first.tool_calls + second.tool_calls] == ["cancelled", "cancelled"]
    saved = store.turns(agent.session_id)
    assert sorted(t["transcript"] for t in saved) == ["find receipts", "find taxes"]
    assert [t["status"] for t in saved] == ["interrupted", "interrupted"]
    assert not agent.interrupt(), "nothing left to interrupt"


@pytest.mark.slow
async def test_live_conversation_from_a_stream_with_barge_in(tmp_path: Path) -> None:
    import numpy as np

    from voice_agent.audio import Audio, BufferOutput, FileStream, load_audio

    first = load_audio(HOME / "add_milk.wav").samples
    second = load_audio(HOME / "turn_on_kitchen_lights.wav").samples
    gap = np.zeros(int(0.9 * 16_000), dtype=np.float32)  # speaks again 0.9 s after the end
    recording = tmp_path / "two_requests.wav"
    Audio(
        samples=np.concatenate([np.zeros(8_000, dtype=np.float32), first, gap, second]),
        sample_rate=16_000,
    ).save(recording)

    model = ScriptedUnderstanding(
        default="(spoken)",
        delay=0.05,
        replies=[
            "Sure, I am adding that to your list right now, this takes a little while.",
            "The kitchen light is on.",
        ],
    )
    agent = VoiceAgent(
        tools=[], speak=True, profile=Profile(name="s", understanding=model, tts=EspeakTTS())
    )
    output = BufferOutput(realtime=True)
    results = await asyncio.wait_for(
        agent.converse(FileStream(recording, realtime=True), output), 60
    )
    assert [r.interrupted for r in results] == [True, False]
    assert 500 <= results[1].timings_ms["endpoint"] <= 800, "the 600 ms hangover"
    assert results[1].reply_text == "The kitchen light is on."
    assert output.played, "the second reply was played"
    assert agent.history[1].content.endswith("[interrupted]")


def test_no_audio_device_is_a_clear_error(no_sound_server: None) -> None:
    from voice_agent.audio import AudioError, SoundDeviceInput

    with pytest.raises(AudioError, match="use --text"):
        SoundDeviceInput()


async def test_a_scoring_turn_answers_with_the_models_first_step_and_runs_nothing(
    home: ToolRegistry,
) -> None:
    """``scoring=True`` (how evals run a sample through the agent): no reply style in the
    prompt, no confirmation asked, no call run; the model's raw first step is the answer."""
    call = '{"name": "unlock_door", "arguments": {"door": "front"}}'
    profile = scripted(call, "never asked for")
    agent = VoiceAgent(tools=home, profile=profile, speak=False, scoring=True)
    result = await agent.turn(text="unlock the front door")
    model = profile.understanding
    assert isinstance(model, ScriptedUnderstanding)
    [_perceived, step] = model.requests
    assert step.system is None and step.tool_choice == "auto"
    [end] = [e for e in result.events if isinstance(e, TurnEndEvent)]
    assert end.status == "answered" and result.tool_calls == []
    assert not any(isinstance(e, ToolCallEvent) for e in result.events)
    assert agent.pending is None, "no confirmation asked"
    assert agent.history[-1].role == "assistant" and agent.history[-1].content == call
