"""VAD endpointing on real speech with pauses; the emotion estimator's features and decisions."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.audio import Audio
from voice_agent.models import TTSInstruction
from voice_agent.models.emotion import ProsodyEmotion, prosody_features
from voice_agent.models.tts import EspeakTTS, PiperTTS
from voice_agent.models.vad import SileroVAD, VADSettings


@pytest.mark.slow
async def test_segments_follow_speech_and_hangover_merges_short_pauses(piper: PiperTTS) -> None:
    async def sentence(text: str) -> Audio:
        chunks = [c.audio async for c in piper.synthesize(text)]
        assert len(chunks) == 1
        return chunks.pop().resampled(16_000)

    first = await sentence("Turn on the lights.")
    second = await sentence("Close the blinds.")

    def gap(seconds: float) -> np.ndarray:
        return np.zeros(int(16_000 * seconds), dtype=np.float32)

    def joined(pause: float) -> Audio:
        return Audio(
            samples=np.concatenate([gap(1.0), first.samples, gap(pause), second.samples, gap(1.0)]),
            sample_rate=16_000,
        )

    vad = SileroVAD(VADSettings(hangover_ms=600))
    apart = vad.segments(joined(1.5))
    assert len(apart) == 2
    assert abs(apart[0].start - 1.0) < 0.25 and abs(apart[0].end - (1.0 + first.duration)) < 0.35
    merged = vad.segments(joined(0.3))
    assert len(merged) == 1, "a pause shorter than the hangover does not end the turn"
    assert vad.segments(Audio(samples=gap(2.0) + 1e-4, sample_rate=16_000)) == []


def test_pitch_and_energy_features() -> None:
    t = np.arange(16_000) / 16_000
    for hz in (110.0, 220.0):
        tone = Audio(
            samples=(0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), sample_rate=16_000
        )
        features = prosody_features(tone)
        assert abs(features.pitch_hz - hz) / hz < 0.03
        assert abs(features.energy_db - 20 * np.log10(0.3 / np.sqrt(2))) < 1.0


def test_a_fading_fundamental_does_not_widen_the_pitch_range() -> None:
    """A steady 110 Hz voice whose fundamental and odd harmonics fade for a third of the time
    (what the tracker then sees repeats every half period, as in some Piper frames): the pitch
    range must stay that of a monotone voice, not jump by an octave."""
    t = np.arange(16_000) / 16_000
    full = sum(np.sin(2 * np.pi * 110 * k * t) / k for k in range(1, 6))
    even = sum(np.sin(2 * np.pi * 110 * k * t) / k for k in (2, 4))
    samples = np.where((t > 0.3) & (t < 0.65), even, full)
    voice = Audio(samples=(0.2 * samples).astype(np.float32), sample_rate=16_000)
    features = prosody_features(voice)
    assert abs(features.pitch_hz - 110) < 4
    assert features.pitch_range_st < 2


@pytest.mark.parametrize(
    ("text", "prosody", "label"),
    [
        (
            "This is ridiculous, the heating is broken again!",
            TTSInstruction(speed=1.35, pitch=1.3, volume=1.9),
            "angry",
        ),
        (
            "I feel so lonely and tired today.",
            TTSInstruction(speed=0.7, pitch=0.75, volume=0.5),
            "sad",
        ),
        ("Set a timer for ten minutes.", TTSInstruction(), "neutral"),
        ("I am not happy with this at all.", TTSInstruction(), "sad"),
    ],
)
async def test_labels_on_spoken_sentences(
    espeak: EspeakTTS, text: str, prosody: TTSInstruction, label: str
) -> None:
    audio = await espeak.speak(text, prosody)
    estimate = await ProsodyEmotion().estimate(audio, text)
    assert estimate.label == label and estimate.confidence >= 0.5


async def test_voice_agreement_moves_confidence_and_baselines_are_per_speaker(
    espeak: EspeakTTS,
) -> None:
    text = "This is ridiculous."
    calm = await espeak.speak(text, TTSInstruction(speed=0.8, volume=0.6))
    loud = await espeak.speak(text, TTSInstruction(speed=1.4, pitch=1.4, volume=1.9))
    estimator = ProsodyEmotion(adapt=0)
    assert (
        estimator.estimate_sync(loud, text).confidence
        > estimator.estimate_sync(calm, text).confidence
    )
    adaptive = ProsodyEmotion(adapt=0.5)
    for _ in range(4):
        adaptive.estimate_sync(loud, "hello there", speaker="shouter")
    assert adaptive.baseline("shouter").energy_db > adaptive.baseline("someone else").energy_db
    assert (await ProsodyEmotion().estimate(None, "Thanks, that's great!")).label == "happy"


@pytest.mark.parametrize(
    ("voice", "pitch"),
    [("en-us+f3", 1.0), ("en-gb-scotland+f4", 1.0), ("en-gb-x-rp+m2", 0.6)],
)
async def test_neutral_requests_of_unheard_voices_read_neutral(voice: str, pitch: float) -> None:
    """Two women's voices and a deep man's, none heard before: their first turn has no
    baseline to compare with, later ones are compared with their own, never with one voice's
    pitch and level (which read these voices as surprised or sad)."""
    tts = EspeakTTS(voice)
    estimator = ProsodyEmotion()
    requests = [
        "Turn on the kitchen lights.",
        "Add milk to the shopping list.",
        "What is the weather tomorrow?",
        "Lock the front door.",
    ]
    for text in requests:
        audio = await tts.speak(text, TTSInstruction(pitch=pitch))
        estimate = await estimator.estimate(audio, text, speaker=voice)
        assert estimate.label == "neutral", (text, estimate)
    sad = await tts.speak(
        "Read my messages.", TTSInstruction(speed=0.7, pitch=0.75 * pitch, volume=0.5)
    )
    features = prosody_features(sad, 3)
    assert estimator.arousal(features, voice) < -0.4, "once heard, a lower, slower voice is low"
