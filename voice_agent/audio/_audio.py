"""`Audio`: mono float32 samples with their rate, and the checks every input goes through.

Every model here wants 16 kHz mono float32 in [-1, 1]; users hand us files, buffers and streams
at any rate, in stereo, clipped, silent or broken. :func:`prepare` turns anything usable into
that form and refuses the rest with a message that says what was wrong.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from voice_agent.errors import VoiceAgentError

__all__ = ["Audio", "AudioError", "load_audio", "prepare", "wav_truncation"]

MODEL_RATE = 16_000
"""The rate every understanding model here takes."""


class AudioError(VoiceAgentError):
    """Audio that cannot be used: empty, not audio, NaN, silent when speech was needed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` Hz."""

    samples: npt.NDArray[np.float32]
    """One channel, float32."""
    sample_rate: int
    """Samples per second."""
    warnings: tuple[str, ...] = ()
    """What was wrong with the source but did not stop it being used (a file cut short)."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @property
    def rms(self) -> float:
        """Root-mean-square level (0 for silence)."""
        return float(np.sqrt(np.mean(np.square(self.samples)))) if len(self.samples) else 0.0

    def resampled(self, rate: int) -> Audio:
        """The same sound at ``rate`` Hz (polyphase filtering, no aliasing)."""
        if rate == self.sample_rate:
            return self
        from scipy.signal import resample_poly  # 0.3-0.5 s to import: only when resampling

        g = gcd(rate, self.sample_rate)
        out = resample_poly(self.samples, rate // g, self.sample_rate // g).astype(np.float32)
        return Audio(samples=out, sample_rate=rate, warnings=self.warnings)

    def to_wav_bytes(self) -> bytes:
        """16-bit PCM WAV."""
        buffer = io.BytesIO()
        soundfile.write(buffer, self.samples, self.sample_rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write a 16-bit PCM WAV file."""
        path = Path(path)
        path.write_bytes(self.to_wav_bytes())
        return path


def prepare(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    rate: int = MODEL_RATE,
    max_seconds: float | None = 600.0,
    require_sound: bool = True,
) -> Audio:
    """Validate and convert raw samples into mono float32 at ``rate``.

    Accepts int16/int32/float arrays, mono or (frames, channels). Channels are averaged,
    integers scaled to [-1, 1], clipping kept (it is still speech), the result resampled.

    Raises:
        AudioError: no samples, NaN or infinite values, a sample rate below 4 kHz, longer than
            ``max_seconds``, or (with ``require_sound``) digital silence.
    """
    array = np.asarray(samples)
    if array.size == 0:
        raise AudioError("the audio is empty (0 samples); record or pass some sound")
    if sample_rate < 4_000:
        raise AudioError(f"sample rate {sample_rate} Hz is too low for speech (need ≥ 4 kHz)")
    if array.ndim == 2:
        channels_last = array.shape[1] <= 8 and array.shape[0] > array.shape[1]
        array = array.mean(axis=1 if channels_last else 0)
    elif array.ndim != 1:
        raise AudioError(f"audio must be mono or (frames, channels), got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        scale = float(np.iinfo(array.dtype).max)
        array = array.astype(np.float32) / scale
    else:
        array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise AudioError("the audio contains NaN or infinite samples; the source is broken")
    peak = float(np.max(np.abs(array)))
    if peak > 1.0:
        array = array / peak  # float input outside [-1, 1]: normalize rather than wrap
    if max_seconds is not None and len(array) / sample_rate > max_seconds:
        raise AudioError(
            f"the audio is {len(array) / sample_rate:.0f} s long; the limit is {max_seconds:.0f} s "
            "(split it, or raise max_seconds)"
        )
    if require_sound and peak < 1e-4:
        raise AudioError("the audio is silent (peak below -80 dBFS); nothing to understand")
    return Audio(samples=array.astype(np.float32), sample_rate=sample_rate).resampled(rate)


_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
"""``data`` sizes a streaming writer leaves when it cannot know the length: not a promise."""


def wav_truncation(head: bytes, size: int) -> str | None:
    """Why a WAV file is cut short, from its first bytes and its length; None when it is not
    (or is not a WAV file).

    libsndfile reads a WAV whose ``data`` chunk ends before its header says without a word; the
    speech in it then ends mid-sentence and may be understood as something else.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(head):
        chunk, length = struct.unpack_from("<4sI", head, offset)
        if chunk == b"fmt " and offset + 20 <= len(head):
            byte_rate = struct.unpack_from("<I", head, offset + 16)[0]
        if chunk == b"data":
            present = size - offset - 8
            if length in _UNKNOWN_SIZES or present >= length:
                return None
            seconds = (
                f" ({present / byte_rate:.2f} s of {length / byte_rate:.2f} s)" if byte_rate else ""
            )
            return (
                f"the file is cut short: its header promises {length} bytes of audio but only "
                f"{present} are there{seconds}; the end of what was said is missing"
            )
        offset += 8 + length + (length & 1)
    return None


def load_audio(source: str | Path | bytes, *, strict: bool = False, **options: object) -> Audio:
    """Read an audio file (WAV, FLAC, OGG, … as libsndfile knows them) and :func:`prepare` it.

    Args:
        source: a path, or the file's bytes.
        strict: refuse a file that is cut short instead of using it with a warning in
            :attr:`Audio.warnings`.
        **options: passed to :func:`prepare`.

    Raises:
        AudioError: the file is missing or not audio, cut short (with ``strict``), or
            :func:`prepare` refuses it.
    """
    if not isinstance(source, bytes) and not Path(source).is_file():
        raise AudioError(f"no such audio file: {source}")
    where = "the audio bytes" if isinstance(source, bytes) else str(source)
    try:
        if isinstance(source, bytes):
            data, rate = soundfile.read(io.BytesIO(source), dtype="float32", always_2d=False)
            warning = wav_truncation(source[:65_536], len(source))
        else:
            data, rate = soundfile.read(str(source), dtype="float32", always_2d=False)
            with Path(source).open("rb") as file:
                warning = wav_truncation(file.read(65_536), Path(source).stat().st_size)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"cannot read {where} as audio: {e}") from None
    if warning and strict:
        raise AudioError(f"{where}: {warning}; refused (strict audio checking is on)")
    try:
        audio = prepare(data, int(rate), **options)  # type: ignore[arg-type]
    except AudioError as e:
        raise AudioError(f"{where}: {e}") from None
    return dataclasses.replace(audio, warnings=(f"{where}: {warning}",)) if warning else audio
