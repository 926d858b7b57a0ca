"""Audio input: every kind of bad or odd input gets a clear error or a usable result."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voice_agent.audio import Audio, AudioError, add_noise, change_speed, load_audio, prepare


def tone(seconds: float = 1.0, rate: int = 16_000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros(0, dtype=np.float32), 16_000, "empty"),
        (np.zeros(16_000, dtype=np.float32), 16_000, "silent"),
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), 16_000, "NaN"),
        (np.array([0.1, np.inf], dtype=np.float32), 16_000, "NaN or infinite"),
        (tone(), 2_000, "too low"),
        (tone(seconds=3), 16_000, "limit is 2 s"),
        (np.zeros((2, 2, 2)), 16_000, "mono or"),
    ],
)
def test_bad_samples_are_refused_clearly(samples: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        prepare(samples, rate, max_seconds=2)


def test_odd_inputs_are_converted() -> None:
    stereo_44k = np.stack([tone(rate=44_100), tone(rate=44_100)], axis=1)
    audio = prepare(stereo_44k, 44_100)
    assert audio.sample_rate == 16_000 and abs(audio.duration - 1.0) < 0.01
    eight_k = prepare((tone(rate=8_000) * 32767).astype(np.int16), 8_000)
    assert eight_k.sample_rate == 16_000 and abs(eight_k.rms - 0.3 / np.sqrt(2)) < 0.02
    clipped = prepare(np.clip(tone() * 10, -1, 1), 16_000)
    assert clipped.samples.max() <= 1.0
    loud = prepare(tone() * 10, 16_000)
    assert np.isclose(np.abs(loud.samples).max(), 1.0, atol=1e-3)
    assert prepare(np.zeros(100), 16_000, require_sound=False).rms == 0.0


def test_files_and_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    soundfile.write(path, tone(rate=22_050), 22_050)
    assert load_audio(path).sample_rate == 16_000
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio")
    with pytest.raises(AudioError, match=r"cannot read .*fake\.wav as audio"):
        load_audio(fake)
    with pytest.raises(AudioError, match="no such audio file"):
        load_audio(tmp_path / "missing.wav")
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(1000, dtype=np.float32), 16_000, format="WAV")
    with pytest.raises(AudioError, match="silent"):
        load_audio(buffer.getvalue())
    round_trip = load_audio(Audio(samples=tone(), sample_rate=16_000).to_wav_bytes())
    assert abs(round_trip.rms - 0.3 / np.sqrt(2)) < 0.01


def test_augmentation() -> None:
    clean = Audio(samples=tone(), sample_rate=16_000)
    noisy = add_noise(clean, snr_db=10, seed=1)
    noise = noisy.samples - clean.samples
    snr = 10 * np.log10(np.mean(clean.samples**2) / np.mean(noise**2))
    assert abs(snr - 10) < 0.5
    assert np.array_equal(add_noise(clean, 10, seed=1).samples, noisy.samples)
    assert abs(change_speed(clean, 1.25).duration - 0.8) < 0.01
    with pytest.raises(AudioError, match="outside"):
        change_speed(clean, 10)


def cut_short(path: Path, keep: float = 1 / 3) -> bytes:
    """A real WAV file with only the first part of its data kept, the header left as it was
    (a copy or download that stopped)."""
    data = path.read_bytes()
    return data[: 44 + int((len(data) - 44) * keep)]


def test_a_wav_file_cut_short_is_used_with_a_warning_or_refused(tmp_path: Path) -> None:
    """It was read silently: the first third of "Add two bottles of milk" ran a tool."""
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, tone(seconds=1.5), 16_000, subtype="PCM_16")
    assert load_audio(whole).warnings == ()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(cut_short(whole))
    [warning] = load_audio(cut).warnings
    assert warning.startswith(f"{cut}: the file is cut short: its header promises 48000 bytes")
    assert "only 16000 are there (0.50 s of 1.50 s)" in warning
    assert abs(load_audio(cut).duration - 0.5) < 0.01, "what is there is still used"
    assert load_audio(cut.read_bytes()).warnings[0].startswith("the audio bytes: the file is cut")
    with pytest.raises(AudioError, match=r"cut\.wav: the file is cut short.*refused"):
        load_audio(cut, strict=True)
    streamed = bytearray(cut.read_bytes())
    streamed[40:44] = b"\xff\xff\xff\xff"  # a streaming writer's "length unknown"
    assert load_audio(bytes(streamed)).warnings == ()
