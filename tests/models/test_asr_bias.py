"""Speech recognition biased by the tools: the prompt fits Whisper and fixes what it mishears."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.transcribe import Segment

from voice_agent.agent import VoiceAgent
from voice_agent.audio import Audio, load_audio
from voice_agent.errors import ConfigError
from voice_agent.evals.bfcl import load_category
from voice_agent.models import TextModelCapabilities, UnderstandingRequest
from voice_agent.models.asr import WhisperASR
from voice_agent.models.asr.whisper import MAX_HINT_TOKENS, _not_speech
from voice_agent.models.cascade import CascadeUnderstanding
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.tools import ToolRegistry, normalize_bfcl_schema, tool_vocabulary

HOME = Path(__file__).resolve().parents[2] / "examples" / "home" / "tools.py"
SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
HARD = "Put bananas on the shopping list"
"""Misheard by tiny.en (beam 5) in espeak-ng's en-us+f3 voice: "Put an end on the sharpened
lift."; with the home pack's words: "Put an end on the shopping list." (Greedy decoding heard
"Set the bedroom thermostat to twenty one degrees" wrong too; beam 5 hears it right.)"""


def home() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register_path(HOME)
    return registry


async def spoken(text: str) -> Audio:
    chunks = [c.audio async for c in EspeakTTS(voice="en-us+f3").synthesize(text)]
    samples = np.concatenate([c.samples for c in chunks])
    return Audio(samples=samples, sample_rate=chunks[0].sample_rate).resampled(16_000)


def tokens(whisper: WhisperASR, text: str) -> int:
    return len(whisper._model.hf_tokenizer.encode(" " + text, add_special_tokens=False).ids)


def test_the_prompt_is_cut_at_a_phrase_within_whispers_limit(whisper: WhisperASR) -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    hints = [f"appliance {letters[i // 26]}{letters[i % 26]}" for i in range(300)]
    prompt = whisper.hint_prompt(hints)
    assert MAX_HINT_TOKENS - 10 < tokens(whisper, prompt) <= MAX_HINT_TOKENS
    kept = prompt.removesuffix(".").split(", ")
    assert kept[0] == "Appliance aa"
    assert kept[1:] == hints[1 : len(kept)]  # whole phrases, in order, the head kept


def test_the_home_packs_prompt_holds_every_phrase(whisper: WhisperASR) -> None:
    words = [w for w in home().vocabulary() if not any(c.isdigit() for c in w)]
    prompt = whisper.hint_prompt([*home().vocabulary(), "6 pm"])
    assert prompt == "S" + ", ".join(words)[1:] + "."  # digits left out: Whisper copies them
    assert tokens(whisper, prompt) < MAX_HINT_TOKENS


async def test_the_tools_words_fix_a_misheard_request(whisper: WhisperASR) -> None:
    audio = await spoken(HARD)
    plain = (await whisper.transcribe(audio)).text
    biased = (await whisper.transcribe(audio, home().vocabulary())).text
    assert "shopping list" not in plain.lower()
    assert "shopping list" in biased.lower()


class Silent:
    """A text model with nothing to say (only the transcript matters here)."""

    name = "silent"
    capabilities = TextModelCapabilities(streaming=False)

    async def warm_up(self, tools: object = ()) -> None:
        """Nothing to load."""

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        yield await self.complete(request)

    async def complete(self, request: UnderstandingRequest) -> str:
        return ""


@pytest.mark.parametrize("bias", [True, False])
async def test_the_agent_biases_its_recognizer_unless_told_not_to(
    whisper: WhisperASR, espeak: EspeakTTS, bias: bool
) -> None:
    profile = Profile(
        name="test", understanding=CascadeUnderstanding(whisper, Silent()), tts=espeak
    )
    agent = VoiceAgent(tools=home(), profile=profile, speak=False, asr_bias=bias)
    result = await agent.turn(await spoken(HARD))
    assert ("shopping list" in result.transcript.lower()) is bias


@pytest.mark.slow
async def test_a_sentence_made_up_after_the_speech_is_dropped(
    whisper: WhisperASR, bfcl_dir: Path
) -> None:
    audio = load_audio(SPEECH / "capital_of_brazil.wav")  # BFCL multiple_2, spoken by Piper
    [entry] = [e for e in load_category("multiple", bfcl_dir) if e.id == "multiple_2"]
    hints = tool_vocabulary(
        [
            {"name": f["name"], "parameters": normalize_bfcl_schema(f["parameters"])}
            for f in entry.functions
        ]
    )
    assert whisper.hint_prompt(hints).startswith("Country info largest city")
    transcript = await whisper.transcribe(audio, hints)
    assert transcript.text == "What is the capital of Brazil?"  # was "… So, we're going to go
    # to the next one." (9 words in the last 0.22 s)


def test_too_fast_to_be_said_is_not_speech() -> None:
    def segment(text: str, start: float, end: float, no_speech: float = 0.1) -> Segment:
        return Segment(0, 0, start, end, text, [], -0.5, 1.0, no_speech, None, 0.0)

    assert _not_speech(segment(" So, we're going to go to the next one.", 1.76, 1.98))
    assert _not_speech(segment(" Thank you.", 0.0, 1.0, no_speech=0.8))
    assert not _not_speech(segment(" What is the capital of Brazil?", 0.0, 1.76))
    assert not _not_speech(segment(" Yes.", 1.0, 1.05))  # one word: no rate to judge


def test_a_beam_of_no_hypotheses_is_refused() -> None:
    with pytest.raises(ConfigError, match="beam_size"):
        WhisperASR(beam_size=0)
