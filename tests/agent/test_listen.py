"""The listening loop takes any voice activity detector: here a second real one, the energy
detector, which hears a burst of noise as speech where Silero (the default) hears none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from voice_agent.agent import VoiceAgent
from voice_agent.agent._listen import utterances
from voice_agent.audio import MODEL_RATE, BufferOutput
from voice_agent.models import VoiceActivityDetector
from voice_agent.models.profiles import Profile
from voice_agent.models.tts import EspeakTTS
from voice_agent.models.vad import EnergyVAD, SileroVAD, VADSettings
from voice_agent.testing import ScriptedUnderstanding

BURST_SECONDS = 1.0


class Samples:
    """An in-memory live stream (our AudioStream protocol): 1 s of silence, a second of white
    noise at about -20 dBFS, then 1.5 s of silence, in 20 ms chunks."""

    def __init__(self) -> None:
        noise = np.random.default_rng(0).normal(0.0, 0.1, int(BURST_SECONDS * MODEL_RATE))
        quiet = np.zeros(MODEL_RATE, dtype=np.float32)
        self.samples = np.concatenate([quiet, noise.astype(np.float32), quiet, quiet[:8000]])

    async def chunks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        for start in range(0, len(self.samples), 320):
            yield self.samples[start : start + 320]


async def cut(vad: VoiceActivityDetector | None) -> list[float]:
    """The lengths (s) of the utterances ``vad`` cuts from the stream."""
    return [u.audio.duration async for u in utterances(Samples(), vad=vad) if u.audio is not None]


def test_the_energy_detector_follows_the_level() -> None:
    vad = EnergyVAD()
    window = vad.window_samples
    assert window == 512 and isinstance(vad, VoiceActivityDetector)
    assert vad.stream_probability(np.zeros(window, dtype=np.float32)) < 0.01
    loud = np.full(window, 0.1, dtype=np.float32)  # -20 dBFS
    assert vad.stream_probability(loud) > 0.99
    assert abs(vad.stream_probability(loud * 10 ** (-20 / 20)) - 0.5) < 1e-6  # -40 dBFS


async def test_the_listen_loop_cuts_with_the_detector_it_is_given() -> None:
    settings = VADSettings(hangover_ms=600)
    [length] = await cut(EnergyVAD(settings))
    # the burst and the hangover, and some of the pre-roll (at most 400 ms)
    shortest = BURST_SECONDS + settings.hangover_ms / 1000
    assert shortest <= length <= shortest + 0.4 + 0.064, length
    assert await cut(None) == [], "Silero, the default, hears no speech in white noise"
    assert await cut(SileroVAD()) == []


async def test_a_conversation_listens_with_the_agents_detector() -> None:
    model = ScriptedUnderstanding(default="add milk", replies=["Done."])
    agent = VoiceAgent(profile=Profile(name="s", understanding=model, tts=EspeakTTS()), speak=False)
    output = BufferOutput(realtime=False)
    [turn] = await agent.converse(Samples(), output, vad=EnergyVAD(), max_turns=1)
    assert turn.transcript == "add milk" and turn.reply_text == "Done."
    assert model.requests[0].audio is not None
    assert 1.6 <= model.requests[0].audio.duration <= 2.1, "the burst, cut by energy"
