"""The cpu-default cascade end to end, and what it does with bad input."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent import ToolRegistry, tool
from voice_agent.audio import Audio, AudioError, prepare
from voice_agent.models import UnderstandingRequest
from voice_agent.models.asr import WhisperASR
from voice_agent.models.cascade import CascadeUnderstanding
from voice_agent.models.emotion import ProsodyEmotion
from voice_agent.models.llm import LlamaCppLLM
from voice_agent.models.profiles import load_profile
from voice_agent.models.tts import PiperTTS


@tool
def set_timer(minutes: int, label: str = "timer") -> str:
    """Start a countdown timer."""
    return label


TOOLS = ToolRegistry([set_timer])


@pytest.fixture(scope="module")
def cascade(whisper: WhisperASR, llm: LlamaCppLLM) -> CascadeUnderstanding:
    return CascadeUnderstanding(whisper, llm, ProsodyEmotion())


async def spoken(text: str) -> Audio:
    chunks = [c.audio async for c in PiperTTS().synthesize(text)]
    return Audio(samples=np.concatenate([c.samples for c in chunks]), sample_rate=22_050)


@pytest.mark.slow
async def test_spoken_request_to_valid_call_with_emotion(cascade: CascadeUnderstanding) -> None:
    audio = (await spoken("Set a timer for ten minutes.")).resampled(16_000)
    result = await cascade.understand(
        UnderstandingRequest(
            audio=audio, tools=[t.schema for t in TOOLS], metadata={"session_id": "s1"}
        )
    )
    assert result.transcript and "timer" in result.transcript.lower()
    [call] = TOOLS.parse(result.output)
    assert call.arguments["minutes"] == 10
    assert result.emotion is not None and result.emotion.label == "neutral"
    assert {"asr", "llm", "emotion"} <= set(result.timings_ms)


@pytest.mark.slow
async def test_odd_audio_is_converted_and_silence_is_nothing(
    cascade: CascadeUnderstanding,
) -> None:
    speech = await spoken("Set a timer for five minutes.")
    stereo_44k = np.stack([speech.resampled(44_100).samples] * 2, axis=1)
    loud = np.clip(stereo_44k * 8, -1, 1)  # clipped, stereo, 44.1 kHz
    audio = prepare(loud, 44_100)
    result = await cascade.understand(
        UnderstandingRequest(audio=audio, tools=[t.schema for t in TOOLS])
    )
    assert TOOLS.parse(result.output)[0].arguments["minutes"] == 5
    quiet = prepare(np.random.default_rng(1).normal(0, 0.003, 32_000), 16_000)
    nothing = await cascade.understand(UnderstandingRequest(audio=quiet, tools=[]))
    assert nothing.output == "" and nothing.transcript == ""
    with pytest.raises(AudioError, match="silent"):
        prepare(np.zeros(16_000), 16_000)


async def test_cut_off_output_never_raises_out_of_the_parser() -> None:
    short = LlamaCppLLM(max_tokens=6)
    output = await short.complete(
        UnderstandingRequest(
            text="Set a timer for ten minutes called pasta", tools=[t.schema for t in TOOLS]
        )
    )
    parsed = TOOLS.parse_detailed(output)
    assert len(output) < 60
    assert parsed.calls or parsed.problems or parsed.text


def test_profiles_are_shared_and_unknown_ones_explain() -> None:
    from voice_agent import ConfigError

    assert load_profile("cpu-default") is load_profile("cpu-default")
    with pytest.raises(ConfigError, match="choose from cpu-default"):
        load_profile("cpu-fast")
    with pytest.raises(ConfigError, match="needs the Fun-Audio-Chat checkpoint directory"):
        load_profile("gpu")
    with pytest.raises(ConfigError, match="needs a URL"):
        load_profile("remote")


def test_the_continuation_threshold_is_a_profile_option() -> None:
    from voice_agent import ConfigError

    default = load_profile("cpu-default", audio_events=False).understanding
    never = load_profile("cpu-default", audio_events=False, another_call_below=0.0).understanding
    assert isinstance(default, CascadeUnderstanding) and isinstance(never, CascadeUnderstanding)
    assert isinstance(default.llm, LlamaCppLLM) and isinstance(never.llm, LlamaCppLLM)
    assert (default.llm.another_call_below, never.llm.another_call_below) == (0.99, 0.0)
    with pytest.raises(ConfigError, match="a probability"):
        load_profile("cpu-default", another_call_below=1.5)
