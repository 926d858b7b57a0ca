"""Real speech both ways: the voices speak, Whisper transcribes them back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_agent.audio import Audio, AudioError
from voice_agent.evals import normalize_words
from voice_agent.models import TTSInstruction
from voice_agent.models.asr import WhisperASR
from voice_agent.models.tts import EspeakTTS, PiperTTS
from voice_agent.models.tts.espeak import english_for_espeak


async def speak(tts: PiperTTS | EspeakTTS, text: str, **instruction: float) -> Audio:
    chunks = [c async for c in tts.synthesize(text, TTSInstruction(**instruction))]
    assert chunks[-1].final and [c.index for c in chunks] == list(range(len(chunks)))
    rate = chunks[0].audio.sample_rate
    return Audio(samples=np.concatenate([c.audio.samples for c in chunks]), sample_rate=rate)


def voiced_seconds(audio: Audio) -> float:
    """From the first to the last sample above 5 % of the peak (trailing silence varies)."""
    loud = np.flatnonzero(np.abs(audio.samples) > 0.05 * np.abs(audio.samples).max())
    return float(loud[-1] - loud[0]) / audio.sample_rate


def words(text: str) -> list[str]:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == " ").split()


def word_errors(heard: list[str], expected: list[str]) -> int:
    """Word-level edit distance (substitutions, deletions, insertions)."""
    row = list(range(len(expected) + 1))
    for i, word in enumerate(heard, 1):
        previous, row[0] = row[0], i
        for j, want in enumerate(expected, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != want))
    return row[-1]


@pytest.mark.parametrize("voice", ["piper", "espeak"])
@pytest.mark.slow
async def test_voices_are_transcribed_back(
    voice: str, piper: PiperTTS, espeak: EspeakTTS, whisper: WhisperASR
) -> None:
    tts = piper if voice == "piper" else espeak
    audio = await speak(tts, "Turn on the kitchen lights. Then lock the back door.")
    transcript = await whisper.transcribe(audio)
    expected = words("turn on the kitchen lights then lock the back door")
    heard = words(transcript.text)
    # Piper samples its durations afresh each time, so the audio differs between runs: one
    # word wrong, missing or extra is allowed (espeak's "then" is often heard as "than").
    assert word_errors(heard, expected) <= 1, transcript.text
    assert transcript.words[0].start < transcript.words[-1].end <= audio.duration + 0.5


@pytest.mark.slow
async def test_piper_streams_one_chunk_per_sentence_and_follows_speed(piper: PiperTTS) -> None:
    chunks = [c async for c in piper.synthesize("First sentence. Second one! Third?")]
    assert len(chunks) == 3
    normal = await speak(piper, "This sentence is spoken at two speeds.")
    fast = await speak(piper, "This sentence is spoken at two speeds.", speed=1.5)
    assert voiced_seconds(fast) < voiced_seconds(normal) * 0.8
    soft = await speak(piper, "This sentence is spoken at two speeds.", volume=0.5)
    assert soft.rms < normal.rms * 0.7


@pytest.mark.slow
async def test_empty_text_and_silence(piper: PiperTTS, whisper: WhisperASR) -> None:
    with pytest.raises(AudioError, match="empty"):
        await speak(piper, "   ")
    rng = np.random.default_rng(0)
    hiss = Audio(samples=rng.normal(0, 0.01, 32_000).astype(np.float32), sample_rate=16_000)
    hum = Audio(samples=np.zeros(16_000, dtype=np.float32) + 1e-3, sample_rate=16_000)
    for noise in (hiss, hum):
        assert (await whisper.transcribe(noise)).text == ""


async def test_fallback_voice_speaks_when_the_primary_cannot(
    espeak: EspeakTTS, tmp_path: Path
) -> None:
    from voice_agent.models.tts import FallbackTTS

    broken = tmp_path / "voice.onnx"
    broken.write_bytes(b"not a model")
    (tmp_path / "voice.onnx.json").write_text(
        '{"phoneme_id_map": {"^": [1], "_": [0], "$": [2]}, "audio": {"sample_rate": 22050}}'
    )
    voice = FallbackTTS(PiperTTS(broken), espeak)
    chunks = [c async for c in voice.synthesize("Hello there.")]
    assert chunks and chunks[0].audio.duration > 0.3
    assert chunks[0].audio.sample_rate == espeak.sample_rate


@pytest.mark.parametrize(
    ("written", "given"),
    [
        ("coefficients a=1, b=-3, c=2.", "coefficients [['eI]]=1, b=minus 3, c=2."),
        ("a = 3, b = -11, and c = -4", "[['eI]] = 3, b = minus 11, and c = minus 4"),
        ("x - 3, 2x - 1 and (a) - b", "x minus 3, 2x minus 1 and (a) minus b"),
        ("3x^2 + y^3 - z^4", "3x squared + y cubed minus z to the power of 4"),
        ("at -4 degrees", "at minus 4 degrees"),
        ("scores {'math':90, \"art\": 75} at 7:30", "scores math 90, art 75 at 7:30"),
        # no minus, or not a variable a: as written
        ("from 2-5, COVID-19, call 555-1234", "from 2-5, COVID-19, call 555-1234"),
        ("Paris - the capital, a well-known e-mail", "Paris - the capital, a well-known e-mail"),
        (
            "within $300,000 to $400,000",
            "within three hundred thousand dollars to four hundred thousand dollars",
        ),
        (
            "revenues of $1.2M and $50",
            "revenues of one point two million dollars and fifty dollars",
        ),
        ("$5.50, €3 billion", "five dollars and fifty cents, three billion euros"),
    ],
)
def test_english_for_espeak_says_minus_powers_and_the_letter_a(written: str, given: str) -> None:
    assert english_for_espeak(written) == given


@pytest.mark.slow
async def test_piper_says_the_minus_and_the_variable_a(
    piper: PiperTTS, whisper: WhisperASR
) -> None:
    query = "Find the roots of a quadratic equation with coefficients a=1, b=-3, c=2."
    heard = " ".join(normalize_words((await whisper.transcribe(await speak(piper, query))).text))
    # was "it equals 1, b equals 3"; Piper's sampled durations sometimes make the b an "e"
    assert "a equals 1" in heard and "equals minus 3" in heard, heard
