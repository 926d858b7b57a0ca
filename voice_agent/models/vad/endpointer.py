"""Endpointing: a detector's per-window speech probabilities turned into speech start and end.

Raw probabilities flicker: a short pause inside a sentence drops below the threshold, a cough
jumps above it. :class:`Endpointer` gives start and end events with hysteresis (separate on/off
thresholds), a minimum speech length, and a hangover: speech ends only after ``hangover_ms`` of
continuous silence. It is the detector's user, not part of any detector, so every
:class:`~voice_agent.models.protocols.VoiceActivityDetector` is smoothed alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voice_agent.models.protocols import VADSettings

__all__ = ["Endpointer", "VADEvent"]


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
